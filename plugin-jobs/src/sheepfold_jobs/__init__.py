"""sheepfold-jobs: arq job queues for sheepfold (not built yet: this distribution is its skeleton)."""

__all__: list[str] = []
