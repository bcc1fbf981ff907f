"""The query's CLIP text vector, from the same model that made the stored image vectors.

A query seen before is read back from `prompt_vectors` (no torch at all); a new one goes through
the model's text tower (clip_text.encode_prompts: open_clip's own loading code, the visual tower
discarded) and is stored for next time.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelUnavailable
from ..store.embeddings import EmbeddingStore


def normalise_query(text: str) -> str:
    return " ".join(str(text).split())


def query_vector(embeddings: EmbeddingStore, model_id: str, text: str,
                 model_dir: str) -> tuple[np.ndarray, bool]:
    """(unit vector, whether the text encoder had to run)."""
    text = normalise_query(text)
    cached = embeddings.prompts(model_id, [text])
    if text in cached:
        return cached[text], False
    spec = embeddings.model(model_id)
    if spec is None:
        raise ModelUnavailable(f"no text-side record for {model_id}: analyze one scene with the "
                               "clip analyzer again (task Tag TagMe scenes)")
    from ..analyzers.clip_text import encode_prompts  # noqa: PLC0415 - imports torch lazily
    vector = encode_prompts(spec, [text], model_dir)[0]
    embeddings.save_prompts(model_id, [text], vector[None, :])
    return vector / (np.linalg.norm(vector) or 1.0), True
