"""Suggestions shown in the scene tab, and the user's decisions on them.

One row per (scene, kind, key). A run writes what it applied ('applied') and what it only suggests
('open'); the user accepts or rejects ('accepted' / 'rejected'), and decided rows keep their status
through later runs. Every decision moves the feedback counts with it (store/feedback_counts.py).
Segments and aliases are stored as JSON, decoded here only: rows leave as `Suggestion`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..findings import Finding, Segment
from ..kinds import Kind, StrEnum
from .feedback_counts import FeedbackCounts
from .tx import Connected


class SuggestionStatus(StrEnum):
    OPEN = "open"            # suggested, waiting for the user
    APPLIED = "applied"      # written to Stash by a run, not decided by the user
    ACCEPTED = "accepted"    # the user accepted it (and it was written)
    REJECTED = "rejected"    # the user rejected it: never suggested again for that scene


UNDECIDED = (SuggestionStatus.OPEN, SuggestionStatus.APPLIED)


@dataclass(frozen=True)
class Suggestion:
    id: int
    scene_id: str
    kind: Kind
    key: str
    name: str
    category: str
    analyzer: str
    confidence: float
    target_id: str | None
    segments: tuple[Segment, ...]
    markers: bool
    aliases: tuple[str, ...]
    status: SuggestionStatus
    updated_at: float

    @property
    def stash_id(self) -> str | None:
        """The Stash object it names: a tag's id when known; studios and performers are keyed
        by their id."""
        if self.kind == Kind.TAG:
            return self.target_id
        return self.target_id or self.key

    def finding(self) -> Finding:
        """The suggestion as the Finding the plan and the Writer understand."""
        return Finding(kind=self.kind, name=self.name, analyzer=self.analyzer,
                       category=self.category, confidence=self.confidence,
                       segments=self.segments, target_id=self.stash_id, aliases=self.aliases,
                       markers=self.markers)


def _suggestion(row: Any) -> Suggestion:
    return Suggestion(
        id=int(row["id"]), scene_id=row["scene_id"], kind=Kind(row["kind"]), key=row["key"],
        name=row["name"], category=row["category"], analyzer=row["analyzer"],
        confidence=float(row["confidence"]), target_id=row["target_id"],
        segments=tuple(Segment(s["start"], s["end"], s.get("score", 0.0))
                       for s in json.loads(row["segments"] or "[]")),
        markers=bool(row["markers"]), aliases=tuple(json.loads(row["aliases"] or "[]")),
        status=SuggestionStatus(row["status"]), updated_at=float(row["updated_at"]))


class Suggestions:
    def __init__(self, store: Connected, feedback: FeedbackCounts):
        self.store = store
        self.feedback = feedback

    def of_scene(self, scene_id: str, status: SuggestionStatus | None = None) -> list[Suggestion]:
        query = "SELECT * FROM suggestions WHERE scene_id=?"
        args: list[Any] = [scene_id]
        if status:
            query += " AND status=?"
            args.append(SuggestionStatus(status).value)
        return [_suggestion(r) for r in self.store.db.execute(
            query + " ORDER BY category, confidence DESC", args)]

    def get(self, suggestion_id: int) -> Suggestion | None:
        row = self.store.db.execute("SELECT * FROM suggestions WHERE id=?",
                                    (suggestion_id,)).fetchone()
        return None if row is None else _suggestion(row)

    def keys_with_status(self, scene_id: str, status: SuggestionStatus) -> set[tuple[str, str]]:
        return {(r["kind"], r["key"]) for r in self.store.db.execute(
            "SELECT kind, key FROM suggestions WHERE scene_id=? AND status=?",
            (scene_id, SuggestionStatus(status).value))}

    def decided_keys(self, kind: Kind) -> dict[str, dict[SuggestionStatus, set[str]]]:
        """scene id -> {ACCEPTED: keys, REJECTED: keys} of the user's decisions on `kind`, in
        every scene (learning reads them as the user's answers)."""
        out: dict[str, dict[SuggestionStatus, set[str]]] = {}
        for r in self.store.db.execute(
                "SELECT scene_id, key, status FROM suggestions WHERE kind=? AND status IN (?, ?)",
                (Kind(kind).value, SuggestionStatus.ACCEPTED.value,
                 SuggestionStatus.REJECTED.value)):
            per_scene = out.setdefault(r["scene_id"], {SuggestionStatus.ACCEPTED: set(),
                                                       SuggestionStatus.REJECTED: set()})
            per_scene[SuggestionStatus(r["status"])].add(r["key"])
        return out

    def rejected_keys(self, scene_id: str) -> set[tuple[str, str]]:
        return self.keys_with_status(scene_id, SuggestionStatus.REJECTED)

    def names(self) -> dict[tuple[str, str], str]:
        """(kind, key) -> the name last shown for it (for the feedback report)."""
        return {(r["kind"], r["key"]): r["name"] for r in self.store.db.execute(
            "SELECT kind, key, name FROM suggestions ORDER BY updated_at")}

    # -- changes ----------------------------------------------------------------------------------
    def sync(self, scene_id: str, applied: Sequence[Finding], suggested: Sequence[Finding],
             owned_keys: set[tuple[str, str]]) -> None:
        """After a run: `applied` findings are shown as status 'applied', `suggested` ones as
        'open'. Decided rows (accepted/rejected) keep their status. An 'applied' row whose
        tag/studio/performer the plugin no longer owns (and did not apply again) goes, or turns
        'open' again when the finding is now only a suggestion."""
        now = time.time()
        keep = set(owned_keys) | {(f.kind, f.key) for f in applied}
        with self.store.tx() as db:
            db.execute("DELETE FROM suggestions WHERE scene_id=? AND status='open'", (scene_id,))
            for row in list(db.execute(
                    "SELECT id, kind, key FROM suggestions WHERE scene_id=? AND status='applied'",
                    (scene_id,))):
                if (row["kind"], row["key"]) not in keep:
                    db.execute("DELETE FROM suggestions WHERE id=?", (row["id"],))
            for f in applied:
                self._upsert(scene_id, f, SuggestionStatus.APPLIED, now,
                             "status=CASE WHEN status IN ('open', 'applied') THEN 'applied' "
                             "ELSE status END, ")
            for f in suggested:
                self._upsert(scene_id, f, SuggestionStatus.OPEN, now, None)

    def _upsert(self, scene_id: str, f: Finding, status: SuggestionStatus, now: float,
                on_conflict: str | None) -> None:
        values = (scene_id, Kind(f.kind).value, f.key, f.name, f.category, f.analyzer,
                  f.confidence, f.target_id, json.dumps([s.as_dict() for s in f.segments]),
                  int(f.markers), json.dumps(list(f.aliases)), status.value, now)
        update = "NOTHING" if on_conflict is None else (
            "UPDATE SET " + on_conflict + "name=excluded.name, category=excluded.category, "
            "analyzer=excluded.analyzer, confidence=excluded.confidence, "
            "target_id=excluded.target_id, segments=excluded.segments, markers=excluded.markers, "
            "aliases=excluded.aliases, updated_at=excluded.updated_at")
        self.store.db.execute(
            "INSERT INTO suggestions (scene_id, kind, key, name, category, analyzer, confidence, "
            "target_id, segments, markers, aliases, status, updated_at) "
            f"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(scene_id, kind, key) DO {update}",
            values)

    def record_decision(self, suggestion_id: int, status: SuggestionStatus) -> bool:
        """Set a suggestion 'accepted' or 'rejected' and move the feedback counts with it
        (changing one's mind moves the count). False when it already had that status."""
        status = SuggestionStatus(status)
        assert status in (SuggestionStatus.ACCEPTED, SuggestionStatus.REJECTED)
        with self.store.tx() as db:
            row = db.execute("SELECT kind, key, status FROM suggestions WHERE id=?",
                             (suggestion_id,)).fetchone()
            if row is None or row["status"] == status:
                return False
            accepted = (status == SuggestionStatus.ACCEPTED) - (row["status"] == "accepted")
            rejected = (status == SuggestionStatus.REJECTED) - (row["status"] == "rejected")
            db.execute("UPDATE suggestions SET status=?, updated_at=? WHERE id=?",
                       (status.value, time.time(), suggestion_id))
            self.feedback.count(Kind(row["kind"]), row["key"], accepted, rejected)
        return True

    def record_rejection(self, scene_id: str, kind: Kind, key: str, name: str, category: str,
                         analyzer: str) -> None:
        """A rejection that did not come through a suggestion (the user removed our tag/marker)."""
        with self.store.tx() as db:
            old = db.execute("SELECT status FROM suggestions WHERE scene_id=? AND kind=? AND "
                             "key=?", (scene_id, Kind(kind).value, key)).fetchone()
            db.execute(
                "INSERT INTO suggestions (scene_id, kind, key, name, category, analyzer, "
                "confidence, status, updated_at) VALUES (?,?,?,?,?,?,0,'rejected',?) ON CONFLICT(scene_id, "
                "kind, key) DO UPDATE SET status='rejected', updated_at=excluded.updated_at",
                (scene_id, Kind(kind).value, key, name, category, analyzer, time.time()))
        if old is None or old["status"] != SuggestionStatus.REJECTED:
            self.feedback.count(kind, key, rejected=1,
                                accepted=-1 if old is not None and old["status"] == "accepted"
                                else 0)

    def drop_applied(self, scene_id: str) -> None:
        """After an Undo: what was applied is no longer on the scene (decided rows stay)."""
        with self.store.tx() as db:
            db.execute("DELETE FROM suggestions WHERE scene_id=? AND status='applied'",
                       (scene_id,))
