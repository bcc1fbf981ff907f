"""Pure face matching: embeddings against the gallery, then the per-scene decision.

Per face (cosine similarity of unit embeddings; FaceNet puts the same person at roughly 0.6-0.9 and
different people below ~0.4):
- the best and second-best *performer* are taken (a performer's score is its best gallery row);
- the face votes for the best one when it reaches `threshold` and beats the second by `margin`;
- a face that reaches the threshold but not the margin is *contested* (look-alikes): it votes
  for nobody and lowers the confidence of both;
- below the threshold it is *unknown* (kept with its embedding for later clustering).
Per scene, a performer is suggested when faces voted for it in at least `min_frames` distinct
frames. Confidence combines the frames as independent evidence (noisy-OR of a per-frame strength
that rises from 0.5 at the threshold to 0.95 at `strong`), times the agreement: the share of the
faces leaning to that performer that voted for it unambiguously.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class MatchRule:
    threshold: float = 0.5    # cosine a face needs to count as a performer at all
    margin: float = 0.08      # over the second-best performer
    min_frames: int = 2       # faceMinFrames
    strong: float = 0.75      # cosine at which one frame is near-certain evidence


@dataclass
class Gallery:
    """Unit embeddings of known performers, rows grouped by performer."""
    performer_ids: list[str]
    names: dict[str, str]
    matrix: np.ndarray                   # rows x dim, float32, unit rows
    owners: np.ndarray                   # rows -> index into performer_ids
    _starts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        order = np.argsort(self.owners, kind="stable")
        self.matrix = np.asarray(self.matrix, np.float32)[order]
        self.owners = np.asarray(self.owners, np.int64)[order]
        self._starts = (np.flatnonzero(np.r_[True, np.diff(self.owners) != 0])
                        if len(self.owners) else np.zeros(0, np.int64))

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, np.ndarray]]) -> "Gallery":
        """rows: (performer_id, name, embedding)."""
        ids: list[str] = []
        index: dict[str, int] = {}
        names: dict[str, str] = {}
        vectors, owners = [], []
        for pid, name, emb in rows:
            if pid not in index:
                index[pid] = len(ids)
                ids.append(pid)
            names[pid] = name
            vectors.append(unit(np.asarray(emb, np.float32)))
            owners.append(index[pid])
        matrix = np.stack(vectors) if vectors else np.zeros((0, 512), np.float32)
        return cls(ids, names, matrix, np.asarray(owners, np.int64))

    def __len__(self) -> int:
        return len(self.performer_ids)

    def rows_of(self, performer_id: str) -> np.ndarray:
        if performer_id not in self.performer_ids:
            return np.zeros((0, self.matrix.shape[1]), np.float32)
        return self.matrix[self.owners == self.performer_ids.index(performer_id)]

    def performer_scores(self, embeddings: np.ndarray) -> np.ndarray:
        """faces x performers: each performer's best cosine over its gallery rows."""
        emb = np.asarray(embeddings, np.float32)
        emb = emb.reshape(len(emb), -1) if emb.ndim != 2 else emb
        if not len(self.performer_ids) or not len(emb):
            return np.zeros((len(emb), len(self.performer_ids)), np.float32)
        sims = emb @ self.matrix.T
        return np.maximum.reduceat(sims, self._starts, axis=1)


def unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


@dataclass(frozen=True)
class FaceMatch:
    """The two best performers for one face (ids None when the gallery has fewer)."""
    best: str | None
    score: float
    second: str | None = None
    second_score: float = 0.0

    def verdict(self, rule: MatchRule) -> str:
        """'vote', 'contested' or 'unknown'."""
        if self.best is None or self.score < rule.threshold:
            return "unknown"
        if self.second is not None and self.score - self.second_score < rule.margin:
            return "contested"
        return "vote"


def match_faces(embeddings: np.ndarray, gallery: Gallery) -> list[FaceMatch]:
    scores = gallery.performer_scores(embeddings)
    out = []
    for row in scores:
        if not len(row):
            out.append(FaceMatch(None, 0.0))
            continue
        order = np.argsort(-row, kind="stable")
        best = order[0]
        second = order[1] if len(order) > 1 else None
        out.append(FaceMatch(gallery.performer_ids[best], float(row[best]),
                             None if second is None else gallery.performer_ids[second],
                             0.0 if second is None else float(row[second])))
    return out


@dataclass(frozen=True)
class Observation:
    """One face seen in one frame, with its match (what the analyzer stores as a signal)."""
    time: float
    span: float
    match: FaceMatch


@dataclass(frozen=True)
class Decision:
    performer_id: str
    confidence: float
    frames: int
    mean_score: float
    times: tuple[float, ...]
    spans: tuple[float, ...]


def frame_strength(score: float, rule: MatchRule) -> float:
    span = max(rule.strong - rule.threshold, 1e-6)
    return 0.5 + 0.45 * min(1.0, max(0.0, (score - rule.threshold) / span))


def decide(observations: Sequence[Observation], rule: MatchRule) -> list[Decision]:
    """Performers seen in at least rule.min_frames frames, most confident first."""
    best_per_frame: dict[str, dict[float, Observation]] = {}
    votes: dict[str, int] = {}
    contested: dict[str, int] = {}
    for obs in observations:
        m = obs.match
        verdict = m.verdict(rule)
        if verdict == "vote":
            votes[m.best] = votes.get(m.best, 0) + 1
            frames = best_per_frame.setdefault(m.best, {})
            if obs.time not in frames or frames[obs.time].match.score < m.score:
                frames[obs.time] = obs
        elif verdict == "contested":
            for pid in (m.best, m.second):
                contested[pid] = contested.get(pid, 0) + 1
    decisions = []
    for pid, frames in best_per_frame.items():
        if len(frames) < max(1, rule.min_frames):
            continue
        scores = [o.match.score for o in frames.values()]
        miss = 1.0
        for s in scores:
            miss *= 1.0 - frame_strength(s, rule)
        agreement = votes[pid] / (votes[pid] + contested.get(pid, 0))
        ordered = sorted(frames.values(), key=lambda o: o.time)
        decisions.append(Decision(pid, round((1.0 - miss) * agreement, 4), len(frames),
                                  round(float(np.mean(scores)), 4),
                                  tuple(o.time for o in ordered), tuple(o.span for o in ordered)))
    return sorted(decisions, key=lambda d: (-d.confidence, d.performer_id))


def consistent_faces(anchor: np.ndarray, candidates: np.ndarray, rule: MatchRule,
                     others: np.ndarray | None = None, agree: float = 0.6,
                     rounds: int = 3) -> list[int]:
    """Indices of candidate faces that form one cluster with the performer's known faces.

    A candidate must reach `agree` against the anchor (the performer's profile faces), beat every
    other performer's gallery (`others`) by rule.margin, and stay within `agree` of the centroid
    of anchor + kept faces as that centroid is refined. Faces of co-performers, look-alikes and
    misdetections fall out; what is left strengthens the gallery.
    """
    if not len(anchor) or not len(candidates):
        return []
    cand = np.asarray(candidates, np.float32)
    anchor = np.asarray(anchor, np.float32).reshape(-1, cand.shape[1])
    own = (cand @ anchor.T).max(axis=1)
    ok = own >= agree
    if others is not None and len(others):
        ok &= own - (cand @ np.asarray(others, np.float32).T).max(axis=1) >= rule.margin
    keep = np.flatnonzero(ok)
    for _ in range(rounds):
        if not len(keep):
            break
        centroid = unit(np.concatenate([anchor, cand[keep]]).mean(axis=0))
        refined = keep[(cand[keep] @ centroid) >= agree]
        if len(refined) == len(keep):
            break
        keep = refined
    return [int(i) for i in keep]
