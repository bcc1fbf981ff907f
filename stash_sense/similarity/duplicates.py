"""Near-duplicate scenes from stored embeddings plus duration: the same content re-encoded, at
another resolution, cropped a little, or trimmed.

Why not Stash's phash: Stash hashes one 5x5 montage of frames taken at fixed fractions of the
duration, so a trim (every sample lands elsewhere) or a crop/letterbox (the montage changes)
moves the hash far. Here each sprite frame of a scene looks for its best match anywhere in the
other scene, so what counts is how much of one scene's content appears in the other, in any
order and at any offset:

1. candidates: pairs whose pooled vectors are close (`pooled_min`), from blockwise products;
2. verification: `coverage(a in b)` = share of a's frames whose best cosine among b's frames is
   at least `frame_min`. Same content: both coverages high and durations within `duration_tol`.
   A trim: the shorter scene is covered (`contains_min`) and the longer one's duration is at least
   the shorter's. Everything else is not a duplicate;
3. groups: connected components of verified pairs (union-find), best pair score as group score.
Numpy only; 10,000 scenes x 81 frames is seconds (bench/find.py has the index, this reads it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .index import FrameIndex


class Relation(str, Enum):
    SAME = "same"            # both scenes cover each other: re-encode, resize, slight crop
    CONTAINS = "contains"    # the longer scene contains the shorter one: a trim or a cut


@dataclass(frozen=True)
class Rules:
    pooled_min: float = 0.85     # candidate floor; a trim keeping half a scene sits lower
    frame_min: float = 0.90
    same_min: float = 0.80       # coverage both ways for SAME
    contains_min: float = 0.85   # coverage of the shorter scene for CONTAINS
    duration_tol: float = 0.05   # SAME durations differ by at most this share
    neighbours: int = 20         # candidates per scene


@dataclass
class Pair:
    a: str
    b: str
    relation: Relation
    coverage_ab: float
    coverage_ba: float
    pooled: float


@dataclass
class Group:
    scene_ids: list[str]
    pairs: list[Pair] = field(default_factory=list)

    @property
    def score(self) -> float:
        return max(min(p.coverage_ab, p.coverage_ba) if p.relation is Relation.SAME
                   else max(p.coverage_ab, p.coverage_ba) for p in self.pairs)


def durations(index: FrameIndex) -> np.ndarray:
    """Each scene's length from its stored frame times (the last frame's time plus its span)."""
    out = np.zeros(len(index.scene_ids), np.float32)
    for pos, (start, n, _) in enumerate(index.ranges.tolist()):
        last = index.times[start + n - 1]
        out[pos] = float(last[0] + last[1])
    return out


def candidate_pairs(index: FrameIndex, rules: Rules, block: int = 1024):
    pooled = index.pooled_of()
    n = len(pooled)
    k = min(rules.neighbours, n - 1)
    for start in range(0, n, block):
        sims = pooled[start:start + block] @ pooled.T
        for row, i in enumerate(range(start, min(start + block, n))):
            sims[row, : i + 1] = -np.inf         # each unordered pair once, never itself
            if k <= 0:
                continue
            top = np.argpartition(-sims[row], k - 1)[:k] if k < n else np.arange(n)
            for j in top[sims[row, top] >= rules.pooled_min].tolist():
                yield i, j, float(sims[row, j])


def coverage(a: np.ndarray, b: np.ndarray, frame_min: float) -> tuple[float, float]:
    sims = a @ b.T
    return (float((sims.max(axis=1) >= frame_min).mean()),
            float((sims.max(axis=0) >= frame_min).mean()))


def verify(index: FrameIndex, i: int, j: int, pooled: float, lengths: np.ndarray,
           rules: Rules) -> Pair | None:
    fa, fb = (np.asarray(index.frames[s:s + n], np.float32)
              for s, n, _ in (index.ranges[i].tolist(), index.ranges[j].tolist()))
    ab, ba = coverage(fa, fb, rules.frame_min)
    la, lb = float(lengths[i]), float(lengths[j])
    a, b = index.scene_ids[i], index.scene_ids[j]
    if min(ab, ba) >= rules.same_min and abs(la - lb) <= rules.duration_tol * max(la, lb, 1e-6):
        return Pair(a, b, Relation.SAME, ab, ba, pooled)
    shorter_cov = ab if la <= lb else ba
    if shorter_cov >= rules.contains_min:
        return Pair(a, b, Relation.CONTAINS, ab, ba, pooled) if la <= lb else \
            Pair(b, a, Relation.CONTAINS, ba, ab, pooled)
    return None


def find_groups(index: FrameIndex, rules: Rules = Rules(), progress=None) -> list[Group]:
    lengths = durations(index)
    parent = list(range(len(index.scene_ids)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    pairs: list[tuple[int, Pair]] = []
    for i, j, pooled in candidate_pairs(index, rules):
        pair = verify(index, i, j, pooled, lengths, rules)
        if pair is not None:
            parent[root(i)] = root(j)
            pairs.append((i, pair))
        if progress:
            progress(i / max(len(index.scene_ids), 1))
    members: dict[int, list[str]] = {}
    for pos, sid in enumerate(index.scene_ids):
        members.setdefault(root(pos), []).append(sid)
    groups = {r: Group(sorted(ids, key=_natural)) for r, ids in members.items() if len(ids) > 1}
    for i, pair in pairs:
        groups[root(i)].pairs.append(pair)
    return sorted(groups.values(), key=lambda g: (-g.score, _natural(g.scene_ids[0])))


def _natural(sid: str):
    return (0, int(sid)) if sid.isdigit() else (1, sid)
