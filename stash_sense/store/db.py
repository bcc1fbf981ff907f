"""The plugin's local SQLite store (in its data directory): the memory Stash has no place for.

`Store` opens (and migrates: store/schema.py) the one SQLite file and holds its unit of work
(store/tx.py); each concern is a module of its own, reached from the Store:
- `signals`: raw per-frame signals and each analyzer's last run (store/signals.py);
- `scene_status`: the scene's last status for the scene tab (store/scene_status.py);
- `suggestions`: suggestions awaiting review and the decisions on them (store/suggestions.py);
- `feedback`: per-key accept/reject counts (store/feedback_counts.py);
- the ledger of what the plugin put on each scene (store/ledger.py), the review memories
  (store/review.py), faces (store/faces.py) and embeddings (store/embeddings.py) take the Store.
Every write is its own transaction (nested units become savepoints); WAL lets a UI operation
read while a task writes. Rows leave the store typed, with their JSON decoded. The files are
readable by their owner only.
"""
from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import AbstractContextManager

from ..errors import EnvironmentProblem
from .feedback_counts import FeedbackCounts
from .scene_status import SceneStatuses
from .schema import migrate
from .signals import SignalStore
from .suggestions import Suggestions
from .tx import Transactions

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
        self._transactions = Transactions(self.db)
        self.signals = SignalStore(self)
        self.scene_status = SceneStatuses(self)
        self.feedback = FeedbackCounts(self)
        self.suggestions = Suggestions(self, self.feedback)

    @classmethod
    def in_dir(cls, data_dir: str) -> Store:
        return cls(os.path.join(data_dir, FILE_NAME))

    def close(self) -> None:
        self.db.close()

    def tx(self) -> AbstractContextManager[sqlite3.Connection]:
        """One unit of work. Nested units are savepoints of the outer one: they commit with it."""
        return self._transactions.unit()

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
