"""Make "update if the revision is still r" atomic on servers whose conditional updates are not.

MongoDB applies an update's filter and its write atomically. FerretDB 1.24 does not: it reads the matching
documents, then updates them by record id in a separate SQLite transaction, so two writers conditioned on the
same revision can both succeed and one update is lost. Its unique `_id` index is enforced by SQLite, so a
unique insert is atomic: on FerretDB, a writer first claims "revision r+1 of this document" by inserting a
claim document; only the claim holder may write that revision. Claims are deleted after the write; a claim
left by a crashed writer is taken over once it is older than STALE_CLAIM_SECONDS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from tmf_common.keyed import delete_by_id, filters_atomically

CLAIMS_COLLECTION = "revision_claims"
STALE_CLAIM_SECONDS = 30.0


class WriteGuard(Protocol):
    def hold(self, collection: str, resource_id: str, revision: int) -> AbstractContextManager[bool]:
        """While held and True, this writer alone may write `revision` of the resource."""
        ...


class AtomicServerGuard:
    """MongoDB: the conditional update is atomic by itself; nothing to claim."""

    @contextmanager
    def hold(self, collection: str, resource_id: str, revision: int) -> Iterator[bool]:
        yield True


class ClaimGuard:
    """FerretDB: one claim document per (collection, id, revision) written; the unique _id picks the winner."""

    def __init__(self, database: Database) -> None:
        self.claims = database[CLAIMS_COLLECTION]

    @contextmanager
    def hold(self, collection: str, resource_id: str, revision: int) -> Iterator[bool]:
        claim_id = f"{collection}/{resource_id}/{revision}"
        nonce = str(uuid.uuid4())
        claimed = self._claim(claim_id, nonce)
        try:
            yield claimed
        finally:
            if claimed:
                delete_by_id(self.claims, {"_id": claim_id, "nonce": nonce})

    def _claim(self, claim_id: str, nonce: str) -> bool:
        for _ in range(2):
            try:
                self.claims.insert_one({"_id": claim_id, "nonce": nonce, "at": datetime.now(UTC)})
                return True
            except DuplicateKeyError:
                existing = self.claims.find_one({"_id": claim_id})
                if existing is None:
                    continue  # released meanwhile: try again
                claimed_at = existing["at"]
                if claimed_at.tzinfo is None:
                    claimed_at = claimed_at.replace(tzinfo=UTC)
                if datetime.now(UTC) - claimed_at < timedelta(seconds=STALE_CLAIM_SECONDS):
                    return False
                # The holder died between claim and write: take the claim over.
                delete_by_id(self.claims, {"_id": claim_id, "nonce": existing["nonce"]})
        return False


def guard_for(database: Database) -> WriteGuard:
    """The guard the connected server needs (FerretDB announces itself in buildInfo)."""
    return AtomicServerGuard() if filters_atomically(database.client) else ClaimGuard(database)
