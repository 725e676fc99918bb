"""Database access: one pymongo client per process and idempotent index creation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

IndexKeys = Sequence[tuple[str, int]]


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: IndexKeys
    unique: bool = False

    @property
    def name(self) -> str:
        return "_".join(f"{field}_{direction}" for field, direction in self.keys)


def connect(uri: str) -> MongoClient:
    # Short server selection so a missing database fails a request quickly instead of hanging it.
    return MongoClient(
        uri,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        tz_aware=True,
        uuidRepresentation="standard",
    )


def ensure_indexes(database: Database, specs: Iterable[IndexSpec]) -> None:
    """Create every index the queries need; creating an existing index is a no-op."""
    for spec in specs:
        collection: Collection = database[spec.collection]
        collection.create_index(list(spec.keys), name=spec.name, unique=spec.unique)


def ascending(*fields: str) -> list[tuple[str, int]]:
    return [(field, ASCENDING) for field in fields]
