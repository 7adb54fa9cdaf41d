"""sheepfold-realtime: WebSocket channels across sheepfold instances (not built yet: this distribution is its skeleton)."""

__all__: list[str] = []
