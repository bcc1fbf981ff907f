"""The plugin's local SQLite store (in its data directory): the memory Stash has no place for.

What it keeps, per scene:
- raw per-frame signals of each analyzer with the model that made them (re-threshold without
  re-running a model);
- `owned`: every tag, marker, studio and performer the plugin itself put on a scene. Rows move
  pending -> committed around each Stash mutation and committed -> removing before a removal, so a
  SIGKILL at any point is reconciled on the next run (see tagging/apply.py) and nothing the user
  made is ever claimed or removed;
- the scene's last status (analyzed / error with its reason) for the scene tab;
- suggestions awaiting review, rejections and per-tag feedback counts.
Every write is its own transaction; WAL lets a UI operation read while a task writes.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any, Iterable, Sequence

from ..errors import EnvironmentProblem
from ..findings import Signal

SCHEMA = """
CREATE TABLE IF NOT EXISTS signals (
  scene_id TEXT NOT NULL, analyzer TEXT NOT NULL, model_id TEXT NOT NULL,
  frame_time REAL NOT NULL, span REAL NOT NULL, scores TEXT NOT NULL, data TEXT,
  PRIMARY KEY (scene_id, analyzer, model_id, frame_time));
CREATE TABLE IF NOT EXISTS runs (
  scene_id TEXT NOT NULL, analyzer TEXT NOT NULL, model_id TEXT NOT NULL, source TEXT NOT NULL,
  frames INTEGER NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (scene_id, analyzer));
CREATE TABLE IF NOT EXISTS owned (
  scene_id TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (scene_id, kind, ref));
CREATE TABLE IF NOT EXISTS scene_status (
  scene_id TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT, models TEXT NOT NULL DEFAULT '[]',
  updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS suggestions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, scene_id TEXT NOT NULL, kind TEXT NOT NULL,
  key TEXT NOT NULL, name TEXT NOT NULL, category TEXT NOT NULL, analyzer TEXT NOT NULL,
  confidence REAL NOT NULL, target_id TEXT, segments TEXT NOT NULL DEFAULT '[]',
  markers INTEGER NOT NULL DEFAULT 0, aliases TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL, updated_at REAL NOT NULL, UNIQUE (scene_id, kind, key));
CREATE TABLE IF NOT EXISTS feedback (
  kind TEXT NOT NULL, key TEXT NOT NULL, accepted INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, key));
"""


class Store:
    def __init__(self, path: str):
        self.path = path
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise EnvironmentProblem(f"cannot open the Stash Sense store at {path}: {exc}. "
                                     "Check the dataDir setting and its permissions") from None

    @classmethod
    def in_dir(cls, data_dir: str) -> "Store":
        return cls(os.path.join(data_dir, "stash_sense.sqlite"))

    def close(self) -> None:
        self.db.close()

    def tx(self):
        return _Tx(self.db)

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

    def run_of(self, scene_id: str, analyzer: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM runs WHERE scene_id=? AND analyzer=?",
                               (scene_id, analyzer)).fetchone()

    # -- what the plugin wrote ------------------------------------------------------------------
    def owned(self, scene_id: str, kind: str | None = None) -> list[sqlite3.Row]:
        if kind:
            return list(self.db.execute("SELECT * FROM owned WHERE scene_id=? AND kind=?",
                                        (scene_id, kind)))
        return list(self.db.execute("SELECT * FROM owned WHERE scene_id=?", (scene_id,)))

    def owned_scene_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT scene_id FROM owned ORDER BY 1")]

    def set_owned(self, scene_id: str, kind: str, refs: Iterable[str], state: str,
                  detail: dict | None = None) -> None:
        now = time.time()
        with self.tx():
            for ref in refs:
                self.db.execute(
                    "INSERT INTO owned VALUES (?,?,?,?,?,?) ON CONFLICT(scene_id, kind, ref) "
                    "DO UPDATE SET state=excluded.state, detail=CASE WHEN excluded.detail='{}' "
                    "THEN owned.detail ELSE excluded.detail END",
                    (scene_id, kind, str(ref), json.dumps(detail or {}), state, now))

    def drop_owned(self, scene_id: str, kind: str, refs: Iterable[str]) -> None:
        with self.tx():
            self.db.executemany("DELETE FROM owned WHERE scene_id=? AND kind=? AND ref=?",
                                [(scene_id, kind, str(r)) for r in refs])

    # -- scene status ---------------------------------------------------------------------------
    def set_status(self, scene_id: str, state: str, reason: str | None = None,
                   models: Sequence[str] = ()) -> None:
        with self.tx():
            self.db.execute("INSERT OR REPLACE INTO scene_status VALUES (?,?,?,?,?)",
                            (scene_id, state, reason, json.dumps(list(models)), time.time()))

    def status(self, scene_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM scene_status WHERE scene_id=?", (scene_id,)).fetchone()
        if row is None:
            return None
        return {"state": row["state"], "reason": row["reason"],
                "models": json.loads(row["models"]), "updated_at": row["updated_at"]}

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
    def replace_open_suggestions(self, scene_id: str, findings: Sequence[Any]) -> None:
        """The scene's open suggestions become `findings`; decided ones (accepted/rejected) stay."""
        now = time.time()
        with self.tx():
            self.db.execute("DELETE FROM suggestions WHERE scene_id=? AND status='open'", (scene_id,))
            for f in findings:
                self.db.execute(
                    "INSERT INTO suggestions (scene_id, kind, key, name, category, analyzer, "
                    "confidence, target_id, segments, markers, aliases, status, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,'open',?) ON CONFLICT(scene_id, kind, key) DO "
                    "NOTHING",
                    (scene_id, f.kind, f.key, f.name, f.category, f.analyzer, f.confidence,
                     f.target_id, json.dumps([s.as_dict() for s in f.segments]), int(f.markers),
                     json.dumps(list(f.aliases)), now))

    def suggestions(self, scene_id: str, status: str | None = None) -> list[sqlite3.Row]:
        query = "SELECT * FROM suggestions WHERE scene_id=?"
        args: list[Any] = [scene_id]
        if status:
            query += " AND status=?"
            args.append(status)
        return list(self.db.execute(query + " ORDER BY category, confidence DESC", args))

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
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
