"""Two small memories of the review workflow, kept next to the main store (same SQLite file).

- rejected spans: markers the user deleted or tagged StashSense_Incorrect. The span is never
  created again on that scene, while the tag itself may stay (one wrong stretch does not make the
  whole tag wrong).
- queue marks: the Scene.Update.Post hook notes when it queued an analysis (or when the
  Scene.Create.Post hook marked a new scene for the batch), so saving the scene again while it
  waits does not queue it twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .db import Store


@dataclass(frozen=True)
class QueueMark:
    """An analysis a hook queued (job_id None: the scene was marked TagMe for the batch)."""
    job_id: str | None
    queued_at: float


class ReviewMemory:
    def __init__(self, store: Store):
        self.store = store
        self.db = store.db                 # tables: store/schema.py

    # -- markers the user rejected --------------------------------------------------------------
    def reject_span(self, scene_id: str, key: str, seconds: float, end_seconds: float | None) -> None:
        with self.store.tx():
            self.db.execute("INSERT OR REPLACE INTO rejected_spans VALUES (?,?,?,?,?)",
                            (scene_id, key, round(float(seconds), 3),
                             None if end_seconds is None else round(float(end_seconds), 3),
                             time.time()))

    def rejected_spans(self, scene_id: str) -> dict[str, list[tuple[float, float]]]:
        """tag key -> [(start, end)] of markers the user rejected on this scene."""
        spans: dict[str, list[tuple[float, float]]] = {}
        for r in self.db.execute("SELECT * FROM rejected_spans WHERE scene_id=?", (scene_id,)):
            end = r["end_seconds"] if r["end_seconds"] is not None else r["seconds"]
            spans.setdefault(r["key"], []).append((r["seconds"], end))
        return spans

    # -- analyses queued by the hooks -----------------------------------------------------------
    def mark_queued(self, scene_id: str, job_id: str | None) -> None:
        """job_id None: marked TagMe for the batch (a new scene whose sprites do not exist yet)."""
        with self.store.tx():
            self.db.execute("INSERT OR REPLACE INTO queued VALUES (?,?,?)",
                            (scene_id, job_id, time.time()))

    def queued(self, scene_id: str) -> QueueMark | None:
        """The last queue mark, unless the scene was analyzed (or failed) since."""
        row = self.db.execute("SELECT * FROM queued WHERE scene_id=?", (scene_id,)).fetchone()
        if row is None:
            return None
        status = self.store.scene_status.get(scene_id)
        if status is not None and status.updated_at >= row["queued_at"]:
            return None
        return QueueMark(job_id=row["job_id"], queued_at=float(row["queued_at"]))
