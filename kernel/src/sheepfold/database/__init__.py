"""The database port (implemented by ``sheepfold-database``)."""

from sheepfold.database.port import Database

__all__ = ["Database"]
