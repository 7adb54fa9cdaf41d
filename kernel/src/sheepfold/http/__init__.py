"""The kernel's HTTP surface: health, plugins, metrics, problem responses, limits."""
