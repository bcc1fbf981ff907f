"""Pure face matching: embeddings against the gallery, then the per-scene decision.

Per face (cosine similarity of unit embeddings):
- the best and second-best *performer* are taken (a performer's score is its best gallery row);
- the face votes for the best one when it reaches `threshold` and beats the second by `margin`;
- a face that reaches the threshold but not the margin is *contested* (look-alikes): it votes
  for nobody and lowers the confidence of both;
- below the threshold it is *unknown* (kept with its embedding for later clustering).
The rule's numbers depend on the embedding network and were measured on real photographs
(bench/face_accuracy.py; README "Faces"): `rule_for(model_id)`.

Per scene, a performer is suggested when faces voted for it in at least `min_frames` distinct
frames. Why confidence is not a noisy-OR over frames: frames of one shot show the same still face,
so they are one piece of evidence, not several. Consecutive votes whose face boxes overlap
(IoU >= SAME_SHOT_IOU) are merged into one piece (its best frame). Each piece's strength rises
from 0.5 at the threshold to 0.95 at `strong` (the median same-person similarity measured on real
photos) and is lowered when the margin over the second-best performer is thin. The confidence is
the mean strength, raised by at most half the remaining doubt as more independent pieces agree,
times the agreement (share of the faces leaning to that performer that voted unambiguously): a
borderline match stays below 0.75 however many frames show it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..kinds import StrEnum
from ..models.faces import CASIA_ID, VGGFACE2_ID


class FaceVerdict(StrEnum):
    """What one face's match says: a vote for its best performer, too close to the runner-up to
    tell (contested: counted against both), or nobody in the gallery."""
    VOTE = "vote"
    CONTESTED = "contested"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class MatchRule:
    threshold: float = 0.5    # cosine a face needs to count as a performer at all
    margin: float = 0.08      # over the second-best performer
    min_frames: int = 2       # faceMinFrames
    strong: float = 0.75      # cosine at which one piece of evidence is near-certain
    min_face: float = 40.0    # px: smaller faces are detected but not matched (too unreliable)


# Measured with bench/face_accuracy.py on ../shared/data/faces (README "Faces" has the figures).
# CASIA-WebFace (crop margin 32): 67 same-person pairs, median cosine 0.72; 339 different-person
# pairs, mean 0.061, std 0.102, max 0.315. threshold: a normal fitted to the different-person
# similarities gives a per-comparison false-match rate of 1e-5 at 0.50 (TPR 0.955 there);
# margin: one standard deviation of the different-person similarity (two performers closer than
# that cannot be told apart by this network; every right identification measured had >= 0.31);
# strong: the median same-person similarity; min_face: probes shrunk to 24-40 px faces are still
# identified 12/13 at this rule, at 20 px only 9/13, so faces under 32 px are not matched.
DEFAULT_RULES: dict[str, MatchRule] = {
    CASIA_ID: MatchRule(threshold=0.50, margin=0.10, strong=0.72, min_face=32.0),
    # not measurable here (the weights cannot be downloaded): FaceNet's published VGGFace2 figures
    # put it at least as far apart as CASIA-WebFace, so the same numbers are a safe start
    VGGFACE2_ID: MatchRule(threshold=0.50, margin=0.10, strong=0.72, min_face=40.0),
}


def rule_for(model_id: str, min_frames: int = 2) -> MatchRule:
    """The measured rule of an embedding network (unknown networks: the CASIA-WebFace one)."""
    base = DEFAULT_RULES.get(model_id, DEFAULT_RULES[CASIA_ID])
    return MatchRule(base.threshold, base.margin, max(1, int(min_frames)), base.strong,
                     base.min_face)


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
    def from_rows(cls, rows: Iterable[tuple[str, str, np.ndarray]]) -> Gallery:
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

    def verdict(self, rule: MatchRule) -> FaceVerdict:
        if self.best is None or self.score < rule.threshold:
            return FaceVerdict.UNKNOWN
        if self.second is not None and self.score - self.second_score < rule.margin:
            return FaceVerdict.CONTESTED
        return FaceVerdict.VOTE


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


SAME_SHOT_IOU = 0.5    # consecutive boxes overlapping this much: the same shot, one piece


@dataclass(frozen=True)
class Observation:
    """One face seen in one frame, with its match (what the analyzer stores as a signal)."""
    time: float
    span: float
    match: FaceMatch
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class SeenPerformer:
    """A performer the scene's faces agree on, with how sure and on what evidence."""
    performer_id: str
    confidence: float
    frames: int
    pieces: int                          # independent pieces of evidence (shots)
    mean_score: float
    points: tuple[tuple[float, float, float], ...]    # (time, span, score) of each voting frame


def frame_strength(score: float, rule: MatchRule, margin: float | None = None) -> float:
    """One piece of evidence: 0.5 at the threshold .. 0.95 at `strong`; a margin just over the
    rule's costs up to a fifth (look-alikes sit there)."""
    span = max(rule.strong - rule.threshold, 1e-6)
    strength = 0.5 + 0.45 * min(1.0, max(0.0, (score - rule.threshold) / span))
    if margin is not None and rule.margin > 0:
        strength *= 0.8 + 0.2 * min(1.0, max(0.0, (margin - rule.margin) / rule.margin))
    return strength


def iou(a, b) -> float:
    if a is None or b is None:
        return 0.0
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def pieces_of_evidence(frames: Sequence[Observation]) -> list[list[Observation]]:
    """Time-ordered votes for one performer -> groups of one shot (overlapping boxes)."""
    groups: list[list[Observation]] = []
    for obs in sorted(frames, key=lambda o: o.time):
        if groups and iou(groups[-1][-1].box, obs.box) >= SAME_SHOT_IOU:
            groups[-1].append(obs)
        else:
            groups.append([obs])
    return groups


def combine(strengths: Sequence[float]) -> float:
    """Mean strength + at most half of the remaining doubt as independent pieces add up."""
    if not strengths:
        return 0.0
    mean = sum(strengths) / len(strengths)
    return mean + (1.0 - mean) * 0.5 * (1.0 - 0.5 ** (len(strengths) - 1))


def performers_seen(observations: Sequence[Observation], rule: MatchRule) -> list[SeenPerformer]:
    """Performers seen in at least rule.min_frames frames, most confident first."""
    best_per_frame: dict[str, dict[float, Observation]] = {}
    votes: dict[str, int] = {}
    contested: dict[str, int] = {}
    for obs in observations:
        m = obs.match
        verdict = m.verdict(rule)
        if verdict is FaceVerdict.VOTE and m.best is not None:
            votes[m.best] = votes.get(m.best, 0) + 1
            frames = best_per_frame.setdefault(m.best, {})
            if obs.time not in frames or frames[obs.time].match.score < m.score:
                frames[obs.time] = obs
        elif verdict is FaceVerdict.CONTESTED:
            for pid in (m.best, m.second):
                if pid is not None:
                    contested[pid] = contested.get(pid, 0) + 1
    decisions = []
    for pid, frames in best_per_frame.items():
        if len(frames) < max(1, rule.min_frames):
            continue
        pieces = pieces_of_evidence(list(frames.values()))
        strengths = []
        for piece in pieces:
            top = max(piece, key=lambda o: o.match.score)
            margin = (top.match.score - top.match.second_score
                      if top.match.second is not None else None)
            strengths.append(frame_strength(top.match.score, rule, margin))
        agreement = votes[pid] / (votes[pid] + contested.get(pid, 0))
        ordered = sorted(frames.values(), key=lambda o: o.time)
        scores = [o.match.score for o in ordered]
        decisions.append(SeenPerformer(pid, round(combine(strengths) * agreement, 4), len(frames),
                                  len(pieces), round(float(np.mean(scores)), 4),
                                  tuple((o.time, o.span, o.match.score) for o in ordered)))
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
