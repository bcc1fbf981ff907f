"""Per-key accept/reject counts of the user's decisions (the rule that reads them:
stash_sense/feedback.py). Counts are about tags, studios and performers, not scenes: forgetting a
scene keeps them."""
from __future__ import annotations

from collections.abc import Iterable

from ..feedback import Counts
from ..kinds import Kind
from .tx import Connected


class FeedbackCounts:
    def __init__(self, store: Connected):
        self.store = store

    def count(self, kind: Kind, key: str, accepted: int = 0, rejected: int = 0) -> None:
        """Add to a key's counts; a negative delta (a changed decision) never goes below 0."""
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO feedback VALUES (?,?,?,?) ON CONFLICT(kind, key) DO UPDATE SET "
                "accepted=MAX(accepted+?, 0), rejected=MAX(rejected+?, 0)",
                (Kind(kind).value, key, max(accepted, 0), max(rejected, 0), accepted, rejected))

    def all(self) -> Counts:
        return {(r["kind"], r["key"]): (r["accepted"], r["rejected"])
                for r in self.store.db.execute("SELECT * FROM feedback")}

    def of(self, keys: Iterable[tuple[str, str]]) -> Counts:
        wanted = set(keys)
        return {k: v for k, v in self.all().items() if k in wanted}
