"""The query's CLIP text vector, from the same model that made the stored image vectors.

In order of cost: a query seen before is read back from `prompt_vectors` (no model at all); a new
one goes through the exported ONNX text tower when there is one (onnxruntime, no torch:
text_onnx.py); else through open_clip with torch — and that first time the tower is exported, so
the next new query is fast. The vector is stored either way.
"""
from __future__ import annotations

from enum import Enum

import numpy as np

from .. import log
from ..errors import ModelUnavailable
from ..store.embeddings import EmbeddingStore


class TextPath(str, Enum):
    STORED = "stored"     # the query's vector was in the store
    ONNX = "onnx"         # exported text tower, onnxruntime
    TORCH = "torch"       # open_clip (and the ONNX export for next time)


def normalise_query(text: str) -> str:
    return " ".join(str(text).split())


def query_vector(embeddings: EmbeddingStore, model_id: str, text: str, model_dir: str,
                 data_dir: str | None = None) -> tuple[np.ndarray, TextPath]:
    from .text_onnx import OnnxText, export, folder_for  # noqa: PLC0415
    text = normalise_query(text)
    cached = embeddings.prompts(model_id, [text])
    if text in cached:
        return cached[text], TextPath.STORED
    spec = embeddings.model(model_id)
    if spec is None:
        raise ModelUnavailable(f"no text-side record for {model_id}: analyze one scene with the "
                               "clip analyzer again (task Tag TagMe scenes)")
    folder = folder_for(data_dir, model_id) if data_dir else None
    if folder and OnnxText.available(folder):
        vector, path = OnnxText(folder).encode([text])[0], TextPath.ONNX
    else:
        from ..analyzers.clip_text import encode_prompts  # noqa: PLC0415 - imports torch
        vector, path = encode_prompts(spec, [text], model_dir)[0], TextPath.TORCH
        if folder:
            try:
                export(spec, model_dir, folder)
            except ImportError as exc:
                log.info(f"no ONNX text tower ({exc}); searches keep using torch")
    embeddings.save_prompts(model_id, [text], vector[None, :])
    return vector / (np.linalg.norm(vector) or 1.0), path
