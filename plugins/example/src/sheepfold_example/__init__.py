"""sheepfold-example: the template plugin of the plugin-author guide."""

from sheepfold_example.plugin import greeting_for

__all__ = ["greeting_for"]
