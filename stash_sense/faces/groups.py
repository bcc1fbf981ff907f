"""Group faces that matched no performer, so the user can name a recurring stranger once.

DBSCAN on cosine distance (scikit-learn): two faces are neighbours when their similarity reaches
the network's match threshold (MatchRule.threshold: measured so that different people almost never
reach it), and a group needs `min_size` faces from at least `min_scenes` scenes — one still shot
of a face repeated over frames is not yet someone worth naming. Faces in no group are noise.
Why DBSCAN: the number of people is unknown, groups can be any shape along a person's poses, and
it leaves outliers out instead of forcing them into a group. numpy + scikit-learn, no torch.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

MIN_SIZE = 4          # faces a group needs
MIN_SCENES = 1        # scenes a group needs (raise to demand recurrence across the library)


def cluster(embeddings: np.ndarray, threshold: float, min_size: int = MIN_SIZE) -> np.ndarray:
    """Labels per row (-1 = in no group). `threshold` is a cosine similarity."""
    emb = np.asarray(embeddings, np.float32)
    if len(emb) < max(1, min_size):
        return np.full(len(emb), -1, np.int64)
    from sklearn.cluster import DBSCAN  # noqa: PLC0415 - only the clustering task needs it
    eps = max(1e-6, 1.0 - float(threshold))
    return DBSCAN(eps=eps, min_samples=max(1, min_size), metric="cosine").fit(emb).labels_


class Groupable(Protocol):
    """A face as grouping sees it (store.faces.SceneFace is one)."""
    @property
    def scene_id(self) -> str: ...
    @property
    def embedding(self) -> Any: ...


F = TypeVar("F", bound=Groupable)


def groups_of(faces: Sequence[F], threshold: float, min_size: int = MIN_SIZE,
              min_scenes: int = MIN_SCENES) -> list[list[F]]:
    """faces -> groups, largest first."""
    if not faces:
        return []
    labels = cluster(np.stack([f.embedding for f in faces]), threshold, min_size)
    out: dict[int, list[F]] = {}
    for face, label in zip(faces, labels):
        if label >= 0:
            out.setdefault(int(label), []).append(face)
    kept = [g for g in out.values()
            if len(g) >= min_size and len({f.scene_id for f in g}) >= min_scenes]
    return sorted(kept, key=lambda g: (-len(g), g[0].scene_id))
