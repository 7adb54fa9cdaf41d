"""Publish/subscribe between instances: the port and the in-memory adapter."""

from sheepfold.pubsub.memory import MemoryPubSub, PubSubChannelLimit
from sheepfold.pubsub.port import LinkListener, MessageHandler, PubSub

__all__ = ["LinkListener", "MemoryPubSub", "MessageHandler", "PubSub", "PubSubChannelLimit"]
