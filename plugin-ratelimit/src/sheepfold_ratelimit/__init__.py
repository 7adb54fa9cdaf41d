"""sheepfold-ratelimit: Fleet-wide rate limiting for sheepfold (not built yet: this distribution is its skeleton)."""

__all__: list[str] = []
