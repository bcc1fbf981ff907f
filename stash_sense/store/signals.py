"""Raw per-frame signals of each analyzer on each scene, with the model that made them, and the
analyzer's last run (model, frame source, frame count): findings can be recomputed with other
thresholds, or by a learned model, without running a model again (learn/stored.py reads both).

Tables (store/schema.py): `signals` — one row per (scene, analyzer, model, frame) with the plain
scores as a JSON object and signals that carry data (a box, a text) as a JSON list; `runs`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..findings import Signal
from ..kinds import FrameKind
from .tx import Connected


@dataclass(frozen=True)
class Run:
    """An analyzer's last run on a scene."""
    scene_id: str
    analyzer: str
    model_id: str
    source: FrameKind
    frames: int
    created_at: float


class SignalStore:
    def __init__(self, store: Connected):
        self.store = store

    def save(self, scene_id: str, analyzer: str, model_id: str, source: FrameKind,
             per_frame: Sequence[tuple[float, float, Sequence[Signal]]]) -> None:
        """Replace this scene's signals for the analyzer. per_frame: (time, span, signals)."""
        rows = []
        for time_, span, signals in per_frame:
            scores = {s.key: round(s.score, 4) for s in signals if s.data is None}
            data = [{"key": s.key, "score": round(s.score, 4), **s.data}
                    for s in signals if s.data is not None]
            rows.append((scene_id, analyzer, model_id, round(time_, 3), span,
                         json.dumps(scores), json.dumps(data) if data else None))
        with self.store.tx() as db:
            db.execute("DELETE FROM signals WHERE scene_id=? AND analyzer=?", (scene_id, analyzer))
            db.executemany("INSERT OR REPLACE INTO signals VALUES (?,?,?,?,?,?,?)", rows)
            db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?)",
                       (scene_id, analyzer, model_id, FrameKind(source).value, len(rows),
                        time.time()))

    def load(self, scene_id: str, analyzer: str, model_id: str | None = None) -> list[Signal]:
        query = "SELECT * FROM signals WHERE scene_id=? AND analyzer=?"
        args: list[Any] = [scene_id, analyzer]
        if model_id:
            query += " AND model_id=?"
            args.append(model_id)
        signals = []
        for row in self.store.db.execute(query + " ORDER BY frame_time", args):
            for key, score in json.loads(row["scores"]).items():
                signals.append(Signal(row["frame_time"], row["span"], key, score))
            for item in json.loads(row["data"] or "[]"):
                item = dict(item)
                signals.append(Signal(row["frame_time"], row["span"], item.pop("key"),
                                      item.pop("score"), item))
        return signals

    def last_run(self, scene_id: str, analyzer: str) -> Run | None:
        """The analyzer's last run on the scene, or None."""
        row = self.store.db.execute("SELECT * FROM runs WHERE scene_id=? AND analyzer=?",
                                    (scene_id, analyzer)).fetchone()
        if row is None:
            return None
        return Run(scene_id=row["scene_id"], analyzer=row["analyzer"], model_id=row["model_id"],
                   source=FrameKind(row["source"]), frames=int(row["frames"]),
                   created_at=float(row["created_at"]))

    def models_run(self, analyzer: str) -> list[str]:
        """Every model the analyzer has run with, on any scene."""
        return [r[0] for r in self.store.db.execute(
            "SELECT DISTINCT model_id FROM runs WHERE analyzer=?", (analyzer,))]
