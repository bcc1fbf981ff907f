"""Learned tags on disk: one small file per embedding model in `<dataDir>/learned/`.

Why keyed by the embedding model: a classifier's weights live in the vector space of the CLIP
model whose image vectors it was trained on. Vectors of another model are meaningless to it, so
the file carries the model id, is looked up by it, and the learn task deletes the files of other
models (a new CLIP model invalidates them until the next learn). numpy only: predicting needs no
scikit-learn and no torch. Files and the folder are owner-only.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FOLDER = "learned"


@dataclass
class LearnedTag:
    tag_id: str
    name: str
    aliases: tuple[str, ...]
    weights: np.ndarray = field(repr=False)
    bias: float
    threshold: float
    active: bool
    report: dict[str, Any]
    # frame level, where the user's markers gave times: where in the scene the tag shows
    frame_weights: np.ndarray | None = field(default=None, repr=False)
    frame_bias: float = 0.0
    frame_threshold: float | None = None      # None: no active frame model

    @property
    def has_frame_model(self) -> bool:
        return self.frame_weights is not None and self.frame_threshold is not None


@dataclass
class LearnedModels:
    model_id: str
    tags: list[LearnedTag]
    trained_at: float = 0.0

    @property
    def active(self) -> list[LearnedTag]:
        return [t for t in self.tags if t.active]

    def save(self, data_dir: str) -> str:
        folder = os.path.join(data_dir, FOLDER)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = path_for(data_dir, self.model_id)
        dim = self.tags[0].weights.shape[0] if self.tags else 0
        arrays = ("weights", "frame_weights")
        meta = {"model_id": self.model_id, "trained_at": self.trained_at,
                "tags": [{k: getattr(t, k) for k in t.__dataclass_fields__ if k not in arrays}
                         for t in self.tags]}
        empty = np.zeros((0, dim), np.float32)
        frames = [t.frame_weights if t.frame_weights is not None else np.zeros(dim, np.float32)
                  for t in self.tags]
        tmp = path + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            np.savez(fh, weights=np.stack([t.weights for t in self.tags]).astype(np.float32)
                     if self.tags else empty,
                     frame_weights=np.stack(frames).astype(np.float32) if self.tags else empty,
                     meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
        os.replace(tmp, path)
        for name in os.listdir(folder):             # other models' files are invalid now
            other = os.path.join(folder, name)
            if other != path and name.endswith(".npz"):
                os.remove(other)
        return path

    @classmethod
    def load(cls, data_dir: str, model_id: str) -> LearnedModels | None:
        path = path_for(data_dir, model_id)
        if not os.path.isfile(path):
            return None
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            weights = data["weights"]
            frames = data["frame_weights"] if "frame_weights" in data else None
        if meta.get("model_id") != model_id:
            return None
        tags = []
        for i, t in enumerate(meta["tags"]):
            frame_part = ({"frame_weights": frames[i]}
                          if frames is not None and t.get("frame_threshold") is not None else {})
            tags.append(LearnedTag(weights=weights[i], **{**t, "aliases": tuple(t["aliases"])},
                                   **frame_part))
        return cls(model_id, tags, meta.get("trained_at", 0.0))


def path_for(data_dir: str, model_id: str) -> str:
    digest = hashlib.sha1(model_id.encode()).hexdigest()[:12]
    return os.path.join(data_dir, FOLDER, f"{digest}.npz")


def latest(data_dir: str) -> LearnedModels | None:
    """The file there is (learn keeps one), whatever its model: for the report in the UI."""
    folder = os.path.join(data_dir, FOLDER)
    if not os.path.isdir(folder):
        return None
    for name in sorted(os.listdir(folder)):
        if name.endswith(".npz"):
            with np.load(os.path.join(folder, name)) as data:
                meta = json.loads(bytes(data["meta"]).decode())
            return LearnedModels.load(data_dir, meta["model_id"])
    return None
