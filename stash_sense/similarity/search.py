"""Search by description: a CLIP text vector against every stored frame; scenes ranked by their
best moment, each with its best few moments.

Two ways to score, same answer format (bench/find.py compares them on 10,000 scenes):
- `Strategy.BRUTE`: every frame row of the memory-mapped float16 matrix, in chunks converted to
  float32 for BLAS (numpy has no float16 GEMV worth the name). Exact; cost grows with frames.
- `Strategy.PREFILTER`: score the pooled scene vectors, keep the best `candidates` scenes, score
  only their frames. Cost grows with scenes; exact whenever a scene's best frame ranks among its
  pooled score's top candidates (bench/find.py reports the recall against BRUTE).
The text side: `query_vector` (text.py) — the only place that may import torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .index import FrameIndex
from .similar import top_k

CHUNK = 65536          # rows per float16 -> float32 conversion (32 MB at 512 d)


class Strategy(str, Enum):
    BRUTE = "brute"
    PREFILTER = "prefilter"


@dataclass
class Moment:
    time: float
    score: float


@dataclass
class SceneResult:
    scene_id: str
    score: float
    moments: list[Moment] = field(default_factory=list)


def allowed_mask(index: FrameIndex, scene_ids) -> np.ndarray | None:
    """Positions allowed by the Stash filters (None = all)."""
    if scene_ids is None:
        return None
    wanted = {str(s) for s in scene_ids}
    return np.array([sid in wanted for sid in index.scene_ids], bool)


def frame_scores(index: FrameIndex, query: np.ndarray) -> np.ndarray:
    """Cosine of every frame row with the query (dead rows included; callers mask them)."""
    out = np.empty(len(index.frames), np.float32)
    for start in range(0, len(out), CHUNK):
        block = np.asarray(index.frames[start:start + CHUNK], np.float32)
        out[start:start + CHUNK] = block @ query
    return out


def search(index: FrameIndex, query: np.ndarray, limit: int = 20, moments: int = 3,
           allowed: np.ndarray | None = None, strategy: Strategy = Strategy.PREFILTER,
           candidates: int = 500) -> list[SceneResult]:
    query = np.asarray(query, np.float32).reshape(-1)
    query = query / (np.linalg.norm(query) or 1.0)
    if not index.scene_ids or limit <= 0:
        return []
    if strategy is Strategy.BRUTE:
        positions = _brute_candidates(index, query, limit, allowed)
    else:
        positions = _pooled_candidates(index, query, candidates, allowed)
    results = [_scene_result(index, int(p), query, moments) for p in positions]
    results.sort(key=lambda r: -r.score)
    return results[:limit]


def _pooled_candidates(index, query, candidates, allowed) -> np.ndarray:
    scores = index.pooled_of() @ query
    if allowed is not None:
        scores[~allowed] = -np.inf
    return top_k(scores, candidates)


def _brute_candidates(index, query, limit, allowed) -> np.ndarray:
    """Scenes owning the best frames: take the top rows until `limit` distinct scenes appear."""
    scores = frame_scores(index, query)
    live = index.owner >= 0
    if allowed is not None:
        live &= allowed[np.maximum(index.owner, 0)]
    scores[~live] = -np.inf
    take = limit * 64
    while True:
        rows = top_k(scores, take)
        owners = list(dict.fromkeys(index.owner[rows].tolist()))
        if len(owners) >= limit or len(rows) < take:
            return np.array(owners[:limit], np.int64)
        take *= 4


def _scene_result(index, pos, query, moments) -> SceneResult:
    """The scene's best frames, at least two frames apart so the moments differ."""
    start, n, _ = (int(x) for x in index.ranges[pos])
    scores = np.asarray(index.frames[start:start + n], np.float32) @ query
    chosen: list[int] = []
    for i in np.argsort(-scores, kind="stable").tolist():
        if all(abs(i - j) >= 2 for j in chosen):
            chosen.append(i)
        if len(chosen) == moments:
            break
    return SceneResult(index.scene_ids[pos], float(scores[chosen[0]]),
                       [Moment(float(index.times[start + i, 0]), float(scores[i])) for i in chosen])
