"""Key/value state shared by every instance of the platform."""

from sheepfold.state.port import State

__all__ = ["State"]
