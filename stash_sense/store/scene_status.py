"""Each scene's last processing status (analyzed, or failed with its reason), for the scene tab,
and which scene — not only which id — the store's data about it belongs to (its created_at)."""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..kinds import StrEnum
from .tx import Connected


class ProcessingState(StrEnum):
    """A scene's last analysis. NEVER is never stored: it is what the tab shows without a row."""
    ANALYZED = "analyzed"
    ERROR = "error"
    NEVER = "never"


@dataclass(frozen=True)
class SceneStatus:
    scene_id: str
    state: ProcessingState
    reason: str | None
    models: tuple[str, ...]
    updated_at: float
    scene_created_at: str | None


class SceneStatuses:
    def __init__(self, store: Connected):
        self.store = store

    def set(self, scene_id: str, state: ProcessingState, reason: str | None = None,
            models: Sequence[str] = (), scene_created_at: str | None = None) -> None:
        """Record the scene's latest status; the scene's created_at, once known, is kept."""
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO scene_status (scene_id, state, reason, models, updated_at, "
                "scene_created_at) VALUES (?,?,?,?,?,?) ON CONFLICT(scene_id) DO UPDATE SET "
                "state=excluded.state, reason=excluded.reason, models=excluded.models, "
                "updated_at=excluded.updated_at, scene_created_at=COALESCE("
                "excluded.scene_created_at, scene_status.scene_created_at)",
                (scene_id, ProcessingState(state).value, reason, json.dumps(list(models)),
                 time.time(), scene_created_at))

    def get(self, scene_id: str) -> SceneStatus | None:
        row = self.store.db.execute("SELECT * FROM scene_status WHERE scene_id=?",
                                    (scene_id,)).fetchone()
        if row is None:
            return None
        return SceneStatus(scene_id=row["scene_id"], state=ProcessingState(row["state"]),
                           reason=row["reason"], models=tuple(json.loads(row["models"])),
                           updated_at=float(row["updated_at"]),
                           scene_created_at=row["scene_created_at"])

    def scene_identities(self) -> dict[str, str]:
        """scene id -> the created_at Stash reported for the scene its status is about."""
        return {str(r[0]): r[1] for r in self.store.db.execute(
            "SELECT scene_id, scene_created_at FROM scene_status "
            "WHERE scene_created_at IS NOT NULL")}
