"""Active learned tags -> findings (analyzer `learned`) for scenes with stored embeddings.

Scene level: probability = sigmoid(w . pooled + b) against the threshold cross-validation chose.
Segments: the same linear model on each frame. The pooled vector is the frames' mean divided by
its norm, so w . x_i / |mean| + b are frame scores whose mean is exactly the scene's score; the
stretches where they pass the threshold (gap and minimum length as for every tag) are where the
tag shows. numpy only; a library with no learned file costs one `os.path.isdir`.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..aggregate import find_segments
from ..findings import Finding
from ..kinds import Kind
from ..store.embeddings import EmbeddingStore, SceneVectors
from ..store.ledger import Ledger, State
from .model import FOLDER, LearnedModels, LearnedTag
from .train import sigmoid

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store

ANALYZER = "learned"
CATEGORY = "learned"


class LearnedPredictor:
    def __init__(self, store: Store, settings: Settings):
        import os  # noqa: PLC0415
        self.settings = settings
        self.store = store
        self.enabled = os.path.isdir(os.path.join(settings.data_dir, FOLDER))
        self.embeddings = EmbeddingStore(store)
        self._models: dict[str, LearnedModels | None] = {}

    def models(self, model_id: str) -> LearnedModels | None:
        if model_id not in self._models:
            self._models[model_id] = LearnedModels.load(self.settings.data_dir, model_id)
        return self._models[model_id]

    def findings(self, media, scene: dict[str, Any] | None,
                 vectors: SceneVectors | None = None) -> list[Finding]:
        """Active learned tags the user has not put on the scene themselves, from its newest
        stored embeddings (a learned tag the plugin wrote earlier is found again, so it stays)."""
        if not self.enabled:
            return []
        if vectors is None:
            model_id = self.embeddings.latest_model_id(str(media.id))
            if model_id is None or self.models(model_id) is None:
                return []
            vectors = self.embeddings.scene(media.id, model_id)
            if vectors is None:
                return []
        models = self.models(vectors.model_id)
        if models is None or not models.active:
            return []
        ours = {r.ref for r in Ledger(self.store).rows(str(media.id), Kind.TAG)
                if r.state is State.COMMITTED}
        has = {str(t["id"]) for t in (scene or {}).get("tags") or []} - ours
        tags = [t for t in models.active if t.tag_id not in has]
        return scene_findings(tags, vectors, media.duration, self.settings)


def combine(findings: list[Finding], learned: list[Finding]) -> list[Finding]:
    """One finding per tag: a learned tag that an analyzer also found keeps the more confident
    of the two (two findings of one tag would plan it, and its markers, twice)."""
    out = list(findings)
    where = {(f.kind, f.key): i for i, f in enumerate(out)}
    for f in learned:
        i = where.get((f.kind, f.key))
        if i is None:
            where[(f.kind, f.key)] = len(out)
            out.append(f)
        elif f.confidence > out[i].confidence:
            out[i] = f
    return out


def matrix(tags: list[LearnedTag]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.stack([t.weights for t in tags]).astype(np.float32),
            np.array([t.bias for t in tags], np.float32),
            np.array([t.threshold for t in tags], np.float32))


def scene_findings(tags: list[LearnedTag], vectors: SceneVectors, duration: float,
                   settings) -> list[Finding]:
    if not tags:
        return []
    W, b, thr = matrix(tags)
    probs = sigmoid(W @ vectors.pooled + b)
    hits = np.nonzero(probs >= thr)[0]
    if not len(hits):
        return []
    mean_norm = float(np.linalg.norm(vectors.frames.mean(axis=0))) or 1.0
    frame_probs = sigmoid(vectors.frames @ W[hits].T / mean_norm + b[hits])   # frames x hits
    out = []
    for col, i in enumerate(hits):
        tag = tags[i]
        probs_i, thr_i = frame_probs[:, col], float(thr[i])
        if tag.frame_weights is not None and tag.frame_threshold is not None:   # has_frame_model:
            # trained on the user's markers, it knows where, not only if
            probs_i = sigmoid(vectors.frames @ tag.frame_weights + tag.frame_bias)
            thr_i = float(tag.frame_threshold)
        points = [(float(t), float(span), float(p))
                  for (t, span), p in zip(vectors.times, probs_i)]
        segments = find_segments(points, threshold=thr_i, gap=settings.gapSeconds,
                                 min_segment=settings.minSegmentSeconds)
        if duration:
            segments = [s for s in segments if s.start < duration]
        out.append(Finding(kind=Kind.TAG, name=tag.name, analyzer=ANALYZER, category=CATEGORY,
                           confidence=float(probs[i]), segments=tuple(segments),
                           aliases=tuple(tag.aliases), markers=tag.has_frame_model,
                           detail={"threshold": round(float(thr[i]), 4),
                                   "cv_precision": tag.report.get("cv_precision")}))
    return out


def predict_pooled(tags: list[LearnedTag], pooled: np.ndarray, batch: int = 4096
                   ) -> Iterable[tuple[int, int, float]]:
    """(row, tag index, probability) of every pass over a pooled-vector matrix, in blocks."""
    if not tags or not len(pooled):
        return
    W, b, thr = matrix(tags)
    for start in range(0, len(pooled), batch):
        probs = sigmoid(pooled[start:start + batch] @ W.T + b)
        rows, cols = np.nonzero(probs >= thr)
        for r, c in zip(rows, cols):
            yield start + int(r), int(c), float(probs[r, c])
