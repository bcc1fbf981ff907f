"""The ledger: what the plugin itself put on each scene, and how sure it is of that.

A row per (scene, kind, ref) moves through states around each Stash mutation:

    pending ──(Stash confirmed the write)──> committed ──(before a removal)──> removing ──> gone
       │                                        │
       └──(the write failed / was never         └──(the user edited our marker, or merged our tag
           confirmed)──> gone                       into theirs)──> released (kept as a memory,
                                                     never removed, never re-created beside)

Only `committed` rows are the plugin's. A row records `identity` — what Stash said the scene and
the item were (their created_at) when the write was confirmed — so an id that Stash hands out again
after a database restore is never taken for ours. `owner` names the live process that is writing
a pending/removing row, so a scene-tab operation never settles a batch's write half-way.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..kinds import Kind, StrEnum
from .db import Store


class State(StrEnum):
    PENDING = "pending"
    COMMITTED = "committed"
    REMOVING = "removing"
    RELEASED = "released"


@dataclass(frozen=True)
class OwnedRow:
    scene_id: str
    kind: Kind
    ref: str
    detail: dict[str, Any]
    state: State
    owner: str | None
    changed_at: float
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The finding this row serves (lower-cased name for tags and markers)."""
        if self.kind in (Kind.TAG, Kind.MARKER):
            return str(self.detail.get("name") or "").lower()
        return self.ref


def _process_start(pid: int) -> str | None:
    """The kernel's start time of a process (Linux), so a reused pid is not taken for alive."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def this_process() -> str:
    return f"{os.getpid()}:{_process_start(os.getpid()) or ''}"


STALE_SECONDS = 120.0   # where liveness cannot be read: a write older than this has ended


def owner_alive(owner: str | None, changed_at: float) -> bool:
    """Is another process still in the middle of this write?"""
    if not owner or owner == this_process():
        return False
    pid_text, _, started = owner.partition(":")
    if sys.platform.startswith("linux") and pid_text.isdigit():
        return bool(started) and _process_start(int(pid_text)) == started
    return time.time() - changed_at < STALE_SECONDS


class Ledger:
    """The `owned` table and the memories that go with it (tag map, merges, created tags,
    rejected objects). Every change is one transaction: no process ever sees half a row."""

    def __init__(self, store: Store):
        self.store = store
        self.db = store.db

    # -- rows ---------------------------------------------------------------------------------
    def rows(self, scene_id: str, kind: Kind | None = None) -> list[OwnedRow]:
        query, args = "SELECT * FROM owned WHERE scene_id=?", [scene_id]
        if kind is not None:
            query += " AND kind=?"
            args.append(kind.value)
        return [self._row(r) for r in self.db.execute(query, args)]

    def all_rows(self) -> list[OwnedRow]:
        return [self._row(r) for r in self.db.execute("SELECT * FROM owned ORDER BY scene_id")]

    def committed_refs(self, kind: Kind) -> dict[str, set[str]]:
        """scene id -> refs of `kind` the plugin owns there and Stash confirmed, every scene."""
        out: dict[str, set[str]] = {}
        for r in self.db.execute("SELECT scene_id, ref FROM owned WHERE kind=? AND state=?",
                                 (Kind(kind).value, State.COMMITTED.value)):
            out.setdefault(r["scene_id"], set()).add(r["ref"])
        return out

    @staticmethod
    def _row(r: Any) -> OwnedRow:
        return OwnedRow(scene_id=r["scene_id"], kind=Kind(r["kind"]), ref=r["ref"],
                        detail=json.loads(r["detail"] or "{}"), state=State(r["state"]),
                        owner=r["owner"], changed_at=float(r["changed_at"] or 0.0),
                        identity=json.loads(r["identity"] or "{}"))

    def scene_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT scene_id FROM owned ORDER BY 1")]

    def put(self, scene_id: str, kind: Kind, refs: Iterable[str], state: State,
            detail: dict[str, Any] | None = None, identity: dict[str, Any] | None = None,
            mine: bool = True) -> None:
        """Insert or move rows to `state`, with their full detail (never a nameless row: a
        concurrent process that dropped a row cannot make this write lose what it describes)."""
        now = time.time()
        owner = this_process() if mine and state in (State.PENDING, State.REMOVING) else None
        with self.store.tx():
            for ref in refs:
                self.db.execute(
                    "INSERT INTO owned (scene_id, kind, ref, detail, state, created_at, owner, "
                    "changed_at, identity) VALUES (?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(scene_id, kind, ref) DO UPDATE SET state=excluded.state, "
                    "owner=excluded.owner, changed_at=excluded.changed_at, "
                    "detail=CASE WHEN excluded.detail='{}' THEN owned.detail "
                    "ELSE excluded.detail END, "
                    "identity=CASE WHEN excluded.identity='{}' THEN owned.identity "
                    "ELSE excluded.identity END",
                    (scene_id, kind.value, str(ref), json.dumps(detail or {}), state.value, now,
                     owner, now, json.dumps(identity or {})))

    def drop(self, scene_id: str, kind: Kind, refs: Iterable[str]) -> None:
        with self.store.tx():
            self.db.executemany("DELETE FROM owned WHERE scene_id=? AND kind=? AND ref=?",
                                [(scene_id, kind.value, str(r)) for r in refs])

    def replace(self, scene_id: str, kind: Kind, old_ref: str, new_ref: str, state: State,
                detail: dict[str, Any], identity: dict[str, Any]) -> None:
        """A pending marker row (keyed by what was asked) becomes the marker Stash made."""
        with self.store.tx():
            self.drop(scene_id, kind, [old_ref])
            self.put(scene_id, kind, [new_ref], state, detail, identity)

    def forget_scene(self, scene_id: str) -> None:
        with self.store.tx():
            self.db.execute("DELETE FROM owned WHERE scene_id=?", (scene_id,))
            self.db.execute("DELETE FROM rejected_objects WHERE scene_id=?", (scene_id,))

    # -- finding -> Stash tag ---------------------------------------------------------------------
    def tag_for(self, key: str) -> str | None:
        row = self.db.execute("SELECT tag_id FROM tag_map WHERE key=?", (key.lower(),)).fetchone()
        return row[0] if row else None

    def map_tag(self, key: str, tag_id: str) -> None:
        with self.store.tx():
            self.db.execute("INSERT OR REPLACE INTO tag_map VALUES (?,?)", (key.lower(), tag_id))

    def record_merge(self, sources: Sequence[str], destination: str) -> None:
        with self.store.tx():
            now = time.time()
            for source in sources:
                if str(source) != str(destination):
                    self.db.execute("INSERT OR REPLACE INTO tag_merges VALUES (?,?,?)",
                                    (str(source), str(destination), now))
            # merges of merges: what pointed at a source now points at the destination
            self.db.execute("UPDATE tag_merges SET destination_id=? WHERE destination_id IN "
                            f"({','.join('?' * len(sources))})", (str(destination), *map(str, sources)))

    def merged_into(self, tag_id: str) -> str | None:
        row = self.db.execute("SELECT destination_id FROM tag_merges WHERE source_id=?",
                              (str(tag_id),)).fetchone()
        return row[0] if row else None

    # -- tags the plugin created: the fingerprint of the Stash database ------------------------
    def record_created_tag(self, tag_id: str, name: str, created_at: str) -> None:
        with self.store.tx():
            self.db.execute("INSERT OR REPLACE INTO created_tags VALUES (?,?,?)",
                            (str(tag_id), name, created_at))

    def created_tags(self, limit: int = 0) -> list[tuple[str, str, str]]:
        query = "SELECT tag_id, name, created_at FROM created_tags ORDER BY CAST(tag_id AS INTEGER)"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [(r[0], r[1], r[2]) for r in self.db.execute(query)]

    def forget_created_tags(self, tag_ids: Iterable[str]) -> None:
        with self.store.tx():
            self.db.executemany("DELETE FROM created_tags WHERE tag_id=?",
                                [(str(t),) for t in tag_ids])

    # -- rejections keyed by the Stash object ------------------------------------------------------
    def reject_object(self, scene_id: str, kind: Kind, object_id: str) -> None:
        with self.store.tx():
            self.db.execute("INSERT OR IGNORE INTO rejected_objects VALUES (?,?,?,?)",
                            (scene_id, kind.value, str(object_id), time.time()))

    def unreject_object(self, scene_id: str, kind: Kind, object_id: str) -> None:
        with self.store.tx():
            self.db.execute("DELETE FROM rejected_objects WHERE scene_id=? AND kind=? AND "
                            "object_id=?", (scene_id, kind.value, str(object_id)))

    def rejected_objects(self, scene_id: str, kind: Kind) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT object_id FROM rejected_objects WHERE scene_id=? AND kind=?",
            (scene_id, kind.value))}
