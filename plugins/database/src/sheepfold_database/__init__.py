"""sheepfold-database: Watched PostgreSQL pools for sheepfold (not built yet: this distribution is its skeleton)."""

__all__: list[str] = []
