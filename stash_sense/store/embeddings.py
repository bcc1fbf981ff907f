"""Stored CLIP image embeddings: look at a scene's frames once, decide from the vectors forever.

Why: on a CPU, encoding a library's frames costs days; everything after it (new thresholds, new or
edited labels, the quality report, tags learned from the user's library) needs only these vectors.

Tables (store schema version 4, store/schema.py):
- `scene_embeddings`: one row per (scene, embedding model). `frames` is the N x D matrix of
  L2-normalised frame embeddings as float16 bytes (1 KiB per frame for a 512-d model), `times` the
  N (time, span) pairs as float32 bytes, `pooled` the scene vector (mean of the frames,
  L2-normalised, float16). Re-analysis with the same model replaces the row; another model's rows
  stay apart, so a model switch never mixes vector spaces.
- `clip_models`: how to load each embedding model's text tower again (arch, pretrained, config
  file) and its logit scale — re-scoring a new vocabulary needs the text encoder of the *same*
  model that made the stored image vectors.
- `prompt_vectors`: the text embedding of each prompt per model, so an unchanged vocabulary is
  re-scored with no model at all, and an edited one encodes only the new prompts.

Everything streams: `iter_pooled` and `iter_scenes` read row by row (numpy only, no torch), so
10,000 scenes never sit in RAM as one float32 frame tensor.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

DTYPE = np.float16

def migrate_embeddings(db: sqlite3.Connection) -> None:
    """Create the embedding tables (the store does this itself: schema version 4)."""
    from .schema import V4_EMBEDDINGS, _script  # noqa: PLC0415
    _script(V4_EMBEDDINGS)(db)


def normalise(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, np.float32)
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


def pool(frames: np.ndarray) -> np.ndarray:
    """The scene vector: the mean frame direction. Linear models see the mean of their frame
    scores in it (before the final normalisation), which is why frame scores of a scene-level
    classifier are meaningful."""
    if len(frames) == 0:
        raise ValueError("a scene without frames has no pooled vector")
    return normalise(np.asarray(frames, np.float32).mean(axis=0))


@dataclass(frozen=True)
class SceneVectors:
    scene_id: str
    model_id: str
    times: np.ndarray    # N x 2 float32: (time, span)
    frames: np.ndarray   # N x D float32 (decoded from float16)
    pooled: np.ndarray   # D float32


@dataclass(frozen=True)
class ClipModelSpec:
    model_id: str
    arch: str
    pretrained: str
    config: str | None
    scale: float
    dim: int


class EmbeddingStore:
    """The embedding tables on the plugin's `Store` connection."""

    def __init__(self, store):
        self.store = store
        self.db: sqlite3.Connection = store.db      # tables: store schema version 4

    # -- scene vectors ----------------------------------------------------------------------------
    def save_scene(self, scene_id: str, model_id: str, times: Sequence[tuple[float, float]],
                   frames: np.ndarray) -> None:
        """Replace the scene's vectors for this model (other models' rows are kept)."""
        frames = normalise(frames)
        if frames.ndim != 2 or len(frames) != len(times):
            raise ValueError(f"scene {scene_id}: {len(times)} frame times for a "
                             f"{frames.shape} embedding matrix")
        if len(frames) == 0:
            self.drop_scene(scene_id, model_id)
            return
        row = (str(scene_id), model_id, len(frames), frames.shape[1],
               np.asarray(times, np.float32).reshape(-1, 2).tobytes(),
               frames.astype(DTYPE).tobytes(), pool(frames).astype(DTYPE).tobytes(), time.time())
        with self.store.tx():
            self.db.execute("INSERT OR REPLACE INTO scene_embeddings VALUES (?,?,?,?,?,?,?,?)", row)

    def drop_scene(self, scene_id: str, model_id: str) -> None:
        with self.store.tx():
            self.db.execute("DELETE FROM scene_embeddings WHERE scene_id=? AND model_id=?",
                            (str(scene_id), model_id))

    def scene(self, scene_id: str, model_id: str) -> SceneVectors | None:
        row = self.db.execute("SELECT * FROM scene_embeddings WHERE scene_id=? AND model_id=?",
                              (str(scene_id), model_id)).fetchone()
        return _vectors(row) if row else None

    def model_ids(self) -> list[str]:
        """Embedding models with stored scenes, most scenes first."""
        return [r[0] for r in self.db.execute(
            "SELECT model_id FROM scene_embeddings GROUP BY model_id ORDER BY COUNT(*) DESC, "
            "MAX(created_at) DESC")]

    def latest_model_id(self, scene_id: str | None = None) -> str | None:
        """The model of the newest stored vectors (of one scene, or of any)."""
        where, args = ("WHERE scene_id=? ", (str(scene_id),)) if scene_id is not None else ("", ())
        row = self.db.execute(f"SELECT model_id FROM scene_embeddings {where}"
                              "ORDER BY created_at DESC LIMIT 1", args).fetchone()
        return row[0] if row else None

    def scene_ids(self, model_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT scene_id FROM scene_embeddings WHERE model_id=? ORDER BY scene_id", (model_id,))]

    def count(self, model_id: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM scene_embeddings WHERE model_id=?",
                               (model_id,)).fetchone()[0]

    def iter_scenes(self, model_id: str, scene_ids: Iterable[str] | None = None
                    ) -> Iterator[SceneVectors]:
        """Every stored scene of the model (or those in `scene_ids`), one at a time."""
        if scene_ids is None:
            cursor = self.db.execute("SELECT * FROM scene_embeddings WHERE model_id=? "
                                     "ORDER BY scene_id", (model_id,))
            for row in cursor:
                yield _vectors(row)
            return
        for sid in scene_ids:
            found = self.scene(sid, model_id)
            if found is not None:
                yield found

    def pooled_matrix(self, model_id: str) -> tuple[list[str], np.ndarray]:
        """(scene ids, S x D float32) of every scene's pooled vector: 20 MB for 10,000 scenes at
        512 d, read without touching the frame blobs."""
        ids, rows = [], []
        for sid, blob in self.db.execute("SELECT scene_id, pooled FROM scene_embeddings WHERE "
                                         "model_id=? ORDER BY scene_id", (model_id,)):
            ids.append(sid)
            rows.append(np.frombuffer(blob, DTYPE))
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        return ids, np.stack(rows).astype(np.float32)

    def bytes_per_scene(self, model_id: str) -> float:
        row = self.db.execute("SELECT AVG(LENGTH(frames) + LENGTH(times) + LENGTH(pooled) + "
                              "LENGTH(scene_id) + LENGTH(model_id) + 32) FROM scene_embeddings "
                              "WHERE model_id=?", (model_id,)).fetchone()
        return float(row[0] or 0.0)

    # -- the text side of each model ----------------------------------------------------------------
    def save_model(self, spec: ClipModelSpec) -> None:
        with self.store.tx():
            self.db.execute("INSERT OR REPLACE INTO clip_models VALUES (?,?,?,?,?,?,?)",
                            (spec.model_id, spec.arch, spec.pretrained, spec.config, spec.scale,
                             spec.dim, time.time()))

    def model(self, model_id: str) -> ClipModelSpec | None:
        row = self.db.execute("SELECT * FROM clip_models WHERE model_id=?", (model_id,)).fetchone()
        if row is None:
            return None
        return ClipModelSpec(row["model_id"], row["arch"], row["pretrained"], row["config"],
                             float(row["scale"]), int(row["dim"]))

    def save_prompts(self, model_id: str, prompts: Sequence[str], vectors: np.ndarray) -> None:
        vectors = normalise(vectors)
        with self.store.tx():
            self.db.executemany("INSERT OR REPLACE INTO prompt_vectors VALUES (?,?,?)",
                                [(model_id, p, v.astype(np.float32).tobytes())
                                 for p, v in zip(prompts, vectors)])

    def prompts(self, model_id: str, prompts: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of those prompts that have one (float32, as the text tower gave them)."""
        wanted = set(prompts)
        return {p: np.frombuffer(v, np.float32) for p, v in self.db.execute(
            "SELECT prompt, vector FROM prompt_vectors WHERE model_id=?", (model_id,))
            if p in wanted}


def _vectors(row) -> SceneVectors:
    n, dim = int(row["n"]), int(row["dim"])
    frames = np.frombuffer(row["frames"], DTYPE).reshape(n, dim).astype(np.float32)
    return SceneVectors(row["scene_id"], row["model_id"],
                        np.frombuffer(row["times"], np.float32).reshape(n, 2),
                        frames, np.frombuffer(row["pooled"], DTYPE).astype(np.float32))
