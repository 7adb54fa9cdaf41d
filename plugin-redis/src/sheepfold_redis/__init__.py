"""sheepfold-redis: Redis adapters of every sheepfold port (not built yet: this distribution is its skeleton)."""

__all__: list[str] = []
