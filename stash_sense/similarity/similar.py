"""Similar scenes: cosine between pooled scene vectors (the mean frame direction of each scene).

Numpy only — this is the scene tab's operation. 10,000 scenes x 512 d is one 20 MB product.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import FrameIndex


@dataclass(frozen=True)
class Hit:
    scene_id: str
    score: float
    time: float          # the frame of the hit closest to the scene's own pooled direction


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first (-inf entries never returned)."""
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def similar_scenes(index: FrameIndex, scene_id: str, limit: int) -> list[Hit] | None:
    """The `limit` nearest analysed scenes (itself excluded); None when the scene has no vectors."""
    pos = index.position(scene_id)
    if pos is None:
        return None
    pooled = index.pooled_of()
    scores = pooled @ pooled[pos]
    scores[pos] = -np.inf
    hits = []
    for other in top_k(scores, limit):
        hits.append(Hit(index.scene_ids[other], float(scores[other]),
                        representative_time(index, int(other))))
    return hits


def representative_time(index: FrameIndex, pos: int) -> float:
    """The frame nearest the scene's pooled vector: the most typical look, for the thumbnail."""
    start, n, _ = (int(x) for x in index.ranges[pos])
    frames = np.asarray(index.frames[start:start + n], np.float32)
    best = int(np.argmax(frames @ index.pooled_of([pos])[0]))
    return float(index.times[start + best, 0])
