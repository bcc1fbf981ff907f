"""The plugin's local SQLite store (in its data directory): the memory Stash has no place for.

What it keeps, per scene:
- raw per-frame signals of each analyzer with the model that made them (re-threshold without
  re-running a model);
- `owned`: every tag, marker, studio and performer the plugin itself put on a scene — read and
  written through store/ledger.py, the one place that knows its states;
- the scene's last status (analyzed / error with its reason) for the scene tab;
- suggestions awaiting review, rejections and per-tag feedback counts.
Every write is its own transaction (nested units become savepoints); WAL lets a UI operation
read while a task writes. The schema is versioned (store/schema.py) and migrated on open. The
files are readable by their owner only.
"""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from typing import Any, Iterable, Sequence

from ..errors import EnvironmentProblem
from ..findings import Signal
from .schema import migrate

FILE_NAME = "stash_sense.sqlite"


def _private(path: str, mode: int) -> None:
    """Owner-only access to what the plugin writes (face crops and embeddings live here too)."""
    try:
        if os.path.exists(path) and os.stat(path).st_uid == os.geteuid() and \
                stat.S_IMODE(os.stat(path).st_mode) != mode:
            os.chmod(path, mode)
    except (OSError, AttributeError):      # AttributeError: no geteuid (Windows)
        pass


def private_dir(path: str) -> str:
    """Create `path` (and parents) readable by the owner only; tighten it if it exists."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    _private(path, 0o700)
    return path


class Store:
    def __init__(self, path: str):
        self.path = path
        try:
            private_dir(os.path.dirname(os.path.abspath(path)))
            if not os.path.exists(path):
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            migrate(self.db, path)
            for suffix in ("", "-wal", "-shm"):
                _private(path + suffix, 0o600)
        except (OSError, sqlite3.Error) as exc:
            raise EnvironmentProblem(f"cannot open the Stash Sense store at {path}: {exc}. "
                                     "Check the dataDir setting and its permissions") from None
        self._depth = 0

    @classmethod
    def in_dir(cls, data_dir: str) -> "Store":
        return cls(os.path.join(data_dir, FILE_NAME))

    def close(self) -> None:
        self.db.close()

    def tx(self) -> "_Tx":
        """One unit of work. Nested units are savepoints of the outer one: they commit with it."""
        return _Tx(self)

    # -- raw signals ----------------------------------------------------------------------------
    def save_signals(self, scene_id: str, analyzer: str, model_id: str, source: str,
                     per_frame: Sequence[tuple[float, float, Sequence[Signal]]]) -> None:
        """Replace this scene's signals for the analyzer. per_frame: (time, span, signals)."""
        rows = []
        for time_, span, signals in per_frame:
            scores = {s.key: round(s.score, 4) for s in signals if s.data is None}
            data = [{"key": s.key, "score": round(s.score, 4), **s.data}
                    for s in signals if s.data is not None]
            rows.append((scene_id, analyzer, model_id, round(time_, 3), span,
                         json.dumps(scores), json.dumps(data) if data else None))
        with self.tx():
            self.db.execute("DELETE FROM signals WHERE scene_id=? AND analyzer=?", (scene_id, analyzer))
            self.db.executemany("INSERT OR REPLACE INTO signals VALUES (?,?,?,?,?,?,?)", rows)
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?)",
                            (scene_id, analyzer, model_id, source, len(rows), time.time()))

    def run_of(self, scene_id: str, analyzer: str) -> sqlite3.Row | None:
        """The analyzer's last run on the scene (model, frame source, frames), or None."""
        return self.db.execute("SELECT * FROM runs WHERE scene_id=? AND analyzer=?",
                               (scene_id, analyzer)).fetchone()

    def load_signals(self, scene_id: str, analyzer: str, model_id: str | None = None) -> list[Signal]:
        query = "SELECT * FROM signals WHERE scene_id=? AND analyzer=?"
        args: list[Any] = [scene_id, analyzer]
        if model_id:
            query += " AND model_id=?"
            args.append(model_id)
        signals = []
        for row in self.db.execute(query + " ORDER BY frame_time", args):
            for key, score in json.loads(row["scores"]).items():
                signals.append(Signal(row["frame_time"], row["span"], key, score))
            for item in json.loads(row["data"] or "[]"):
                item = dict(item)
                signals.append(Signal(row["frame_time"], row["span"], item.pop("key"),
                                      item.pop("score"), item))
        return signals

    # -- scene status ---------------------------------------------------------------------------
    def set_status(self, scene_id: str, state: str, reason: str | None = None,
                   models: Sequence[str] = (), scene_created_at: str | None = None) -> None:
        with self.tx():
            self.db.execute(
                "INSERT INTO scene_status (scene_id, state, reason, models, updated_at, "
                "scene_created_at) VALUES (?,?,?,?,?,?) ON CONFLICT(scene_id) DO UPDATE SET "
                "state=excluded.state, reason=excluded.reason, models=excluded.models, "
                "updated_at=excluded.updated_at, scene_created_at=COALESCE("
                "excluded.scene_created_at, scene_status.scene_created_at)",
                (scene_id, state, reason, json.dumps(list(models)), time.time(),
                 scene_created_at))

    def status(self, scene_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM scene_status WHERE scene_id=?", (scene_id,)).fetchone()
        if row is None:
            return None
        return {"state": row["state"], "reason": row["reason"],
                "models": json.loads(row["models"]), "updated_at": row["updated_at"],
                "scene_created_at": row["scene_created_at"]}

    # -- forgetting (Clean up) ------------------------------------------------------------------
    SCENE_TABLES = ("signals", "runs", "owned", "scene_status", "suggestions", "rejected_spans",
                    "queued", "rejected_objects")
    # Keyed by scene but not data about it: the similarity index's change log must keep the entry
    # that deleting a scene's embeddings adds, or the index would go on finding a forgotten scene.
    NOT_SCENE_DATA = ("find_changes",)

    def scene_ids_with_data(self) -> set[str]:
        ids: set[str] = set()
        for table in self.SCENE_TABLES + tuple(self.extra_scene_tables()):
            ids |= {str(r[0]) for r in self.db.execute(f"SELECT DISTINCT scene_id FROM {table}")}
        return ids

    def extra_scene_tables(self) -> list[str]:
        """Tables other modules add (faces, embeddings) that are keyed by scene_id too."""
        known = set(self.SCENE_TABLES) | set(self.NOT_SCENE_DATA)
        out = []
        for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            if name in known or name.startswith("sqlite_"):
                continue
            columns = {r[1] for r in self.db.execute(f"PRAGMA table_info({name})")}
            if "scene_id" in columns:
                out.append(name)
        return out

    def forget_scene(self, scene_id: str) -> None:
        """Everything the store knows about one scene (it was deleted in Stash, or its id now
        belongs to another scene). Feedback counts stay: they are about tags, not scenes."""
        with self.tx():
            for table in self.SCENE_TABLES + tuple(self.extra_scene_tables()):
                self.db.execute(f"DELETE FROM {table} WHERE scene_id=?", (scene_id,))

    # -- feedback -------------------------------------------------------------------------------
    def count_feedback(self, kind: str, key: str, accepted: int = 0, rejected: int = 0) -> None:
        """Add to a key's counts; a negative delta (a changed decision) never goes below 0."""
        with self.tx():
            self._count(kind, key, accepted, rejected)

    def _count(self, kind: str, key: str, accepted: int, rejected: int) -> None:
        self.db.execute(
            "INSERT INTO feedback VALUES (?,?,?,?) ON CONFLICT(kind, key) DO UPDATE SET "
            "accepted=MAX(accepted+?, 0), rejected=MAX(rejected+?, 0)",
            (kind, key, max(accepted, 0), max(rejected, 0), accepted, rejected))

    def feedback(self) -> dict[tuple[str, str], tuple[int, int]]:
        return {(r["kind"], r["key"]): (r["accepted"], r["rejected"])
                for r in self.db.execute("SELECT * FROM feedback")}


    # -- suggestions (reviewed in the scene tab) -----------------------------------------------
    def suggestions(self, scene_id: str, status: str | None = None) -> list[sqlite3.Row]:
        query = "SELECT * FROM suggestions WHERE scene_id=?"
        args: list[Any] = [scene_id]
        if status:
            query += " AND status=?"
            args.append(status)
        return list(self.db.execute(query + " ORDER BY category, confidence DESC", args))

    def drop_applied_suggestions(self, scene_id: str) -> None:
        """After an Undo: what was applied is no longer on the scene (decided rows stay)."""
        with self.tx():
            self.db.execute("DELETE FROM suggestions WHERE scene_id=? AND status='applied'",
                            (scene_id,))

    def suggestion(self, suggestion_id: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM suggestions WHERE id=?", (suggestion_id,)).fetchone()

    def set_suggestion_status(self, suggestion_id: int, status: str) -> None:
        with self.tx():
            self.db.execute("UPDATE suggestions SET status=?, updated_at=? WHERE id=?",
                            (status, time.time(), suggestion_id))

    def record_rejection(self, scene_id: str, kind: str, key: str, name: str, category: str,
                         analyzer: str) -> None:
        """A rejection that did not come through a suggestion (the user removed our tag/marker)."""
        with self.tx():
            old = self.db.execute("SELECT status FROM suggestions WHERE scene_id=? AND kind=? AND "
                                  "key=?", (scene_id, kind, key)).fetchone()
            self.db.execute(
                "INSERT INTO suggestions (scene_id, kind, key, name, category, analyzer, confidence,"
                " status, updated_at) VALUES (?,?,?,?,?,?,0,'rejected',?) ON CONFLICT(scene_id, "
                "kind, key) DO UPDATE SET status='rejected', updated_at=excluded.updated_at",
                (scene_id, kind, key, name, category, analyzer, time.time()))
        if old is None or old["status"] != "rejected":
            self.count_feedback(kind, key, rejected=1,
                                accepted=-1 if old is not None and old["status"] == "accepted" else 0)

    def rejected_keys(self, scene_id: str) -> set[tuple[str, str]]:
        return self.keys_with_status(scene_id, "rejected")

    def keys_with_status(self, scene_id: str, status: str) -> set[tuple[str, str]]:
        return {(r["kind"], r["key"]) for r in self.db.execute(
            "SELECT kind, key FROM suggestions WHERE scene_id=? AND status=?", (scene_id, status))}

    def sync_suggestions(self, scene_id: str, applied: Sequence[Any], suggested: Sequence[Any],
                         owned_keys: set[tuple[str, str]]) -> None:
        """After a run: `applied` findings are shown as status 'applied', `suggested` ones as
        'open'. Decided rows (accepted/rejected) keep their status. An 'applied' row whose
        tag/studio/performer the plugin no longer owns (and did not apply again) goes, or turns
        'open' again when the finding is now only a suggestion."""
        now = time.time()
        keep = set(owned_keys) | {(f.kind, f.key) for f in applied}
        with self.tx():
            self.db.execute("DELETE FROM suggestions WHERE scene_id=? AND status='open'", (scene_id,))
            for row in list(self.db.execute(
                    "SELECT id, kind, key FROM suggestions WHERE scene_id=? AND status='applied'",
                    (scene_id,))):
                if (row["kind"], row["key"]) not in keep:
                    self.db.execute("DELETE FROM suggestions WHERE id=?", (row["id"],))
            for f in applied:
                self._upsert(scene_id, f, "applied", now,
                             "status=CASE WHEN status IN ('open', 'applied') THEN 'applied' "
                             "ELSE status END, ")
            for f in suggested:
                self._upsert(scene_id, f, "open", now, None)

    def _upsert(self, scene_id: str, f: Any, status: str, now: float, on_conflict: str | None):
        values = (scene_id, f.kind, f.key, f.name, f.category, f.analyzer, f.confidence,
                  f.target_id, json.dumps([s.as_dict() for s in f.segments]), int(f.markers),
                  json.dumps(list(f.aliases)), status, now)
        update = "NOTHING" if on_conflict is None else (
            "UPDATE SET " + on_conflict + "name=excluded.name, category=excluded.category, "
            "analyzer=excluded.analyzer, confidence=excluded.confidence, "
            "target_id=excluded.target_id, segments=excluded.segments, markers=excluded.markers, "
            "aliases=excluded.aliases, updated_at=excluded.updated_at")
        self.db.execute(
            "INSERT INTO suggestions (scene_id, kind, key, name, category, analyzer, confidence, "
            "target_id, segments, markers, aliases, status, updated_at) "
            f"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(scene_id, kind, key) DO {update}",
            values)

    def decide(self, suggestion_id: int, status: str) -> bool:
        """Set a suggestion 'accepted' or 'rejected' and move the feedback counts with it
        (changing one's mind moves the count). False when it already had that status."""
        assert status in ("accepted", "rejected")
        with self.tx():
            row = self.db.execute("SELECT * FROM suggestions WHERE id=?", (suggestion_id,)).fetchone()
            if row is None or row["status"] == status:
                return False
            accepted = (status == "accepted") - (row["status"] == "accepted")
            rejected = (status == "rejected") - (row["status"] == "rejected")
            self.db.execute("UPDATE suggestions SET status=?, updated_at=? WHERE id=?",
                            (status, time.time(), suggestion_id))
            self._count(row["kind"], row["key"], accepted, rejected)
        return True

    def feedback_for(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
        wanted = set(keys)
        return {k: v for k, v in self.feedback().items() if k in wanted}

    def suggestion_names(self) -> dict[tuple[str, str], str]:
        """(kind, key) -> the name last shown for it (for the feedback report)."""
        return {(r["kind"], r["key"]): r["name"] for r in self.db.execute(
            "SELECT kind, key, name FROM suggestions ORDER BY updated_at")}


class _Tx:
    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        store = self.store
        if store._depth == 0:
            store.db.execute("BEGIN IMMEDIATE")
        else:
            store.db.execute(f"SAVEPOINT tx{store._depth}")
        store._depth += 1
        return store.db

    def __exit__(self, exc_type, *_) -> bool:
        store = self.store
        store._depth -= 1
        if store._depth == 0:
            store.db.execute("ROLLBACK" if exc_type else "COMMIT")
        elif exc_type:
            store.db.execute(f"ROLLBACK TO tx{store._depth}")
            store.db.execute(f"RELEASE tx{store._depth}")
        else:
            store.db.execute(f"RELEASE tx{store._depth}")
        return False
