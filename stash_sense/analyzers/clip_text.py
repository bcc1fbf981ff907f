"""CLIP zero-shot scoring from stored image embeddings: the text side only.

Why a separate module: re-tagging a library (task `retag`) and the quality report score stored
frame embeddings against the *current* vocabulary. That is one matrix product per scene; the only
model it can need is the text tower, and only for prompts the store has never embedded. So:
- `label_matrix` / `label_scores` / `frame_signals` are the pure maths `ClipAnalyzer` uses too (one
  definition of a score, whether frames were just encoded or read back);
- `ClipTextScorer` builds the label matrix from `prompt_vectors` in the store and loads the text
  tower (numpy -> torch -> open_clip) only when a prompt is missing. The image tower is dropped
  right after the model is built and never run; with a warm store not even torch is imported.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .. import log
from ..errors import ModelUnavailable
from ..findings import Signal
from ..models.clip import load_text_model
from ..store.embeddings import ClipModelSpec, EmbeddingStore, normalise


def label_matrix(vocab, prompt_vectors: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list]:
    """(labels x D unit vectors: each label's prompts averaged, [(category index, label)])."""
    columns, rows = [], []
    for c_index, category in enumerate(vocab.categories):
        for label in category.labels:
            vec = np.mean([prompt_vectors[p] for p in label.prompts], axis=0)
            rows.append(vec / (np.linalg.norm(vec) or 1.0))
            columns.append((c_index, label))
    return np.stack(rows).astype(np.float32), columns


def label_scores(image_embeddings: np.ndarray, text_matrix: np.ndarray, columns: Sequence,
                 categories: Sequence, scale: float) -> np.ndarray:
    """frames x labels; a softmax inside each exclusive category, a shifted sigmoid else."""
    logits = scale * np.asarray(image_embeddings, np.float32) @ text_matrix.T
    result = np.empty_like(logits)
    for c_index, category in enumerate(categories):
        cols = [i for i, (c, _) in enumerate(columns) if c == c_index]
        block = logits[:, cols]
        if category.exclusive:
            block = np.exp(block - block.max(axis=1, keepdims=True))
            block = block / block.sum(axis=1, keepdims=True)
        else:
            block = 1.0 / (1.0 + np.exp(-(block - scale * 0.2)))
        result[:, cols] = block
    return result


def frame_signals(times: Sequence[tuple[float, float]], probs: np.ndarray,
                  columns: Sequence) -> list[list[Signal]]:
    """One list of Signals per frame (background labels, those without a tag, are never emitted)."""
    tagged = [(i, label.tag) for i, (_, label) in enumerate(columns) if label.tag]
    out = []
    for (t, span), row in zip(times, probs):
        out.append([Signal(float(t), float(span), tag, float(row[i])) for i, tag in tagged])
    return out


class ClipTextScorer:
    """Scores stored embeddings of one CLIP model against the current vocabulary."""

    def __init__(self, embeddings: EmbeddingStore, vocabulary, model_id: str, model_dir: str):
        self.embeddings = embeddings
        self.vocabulary = vocabulary
        self.model_id = model_id
        self.model_dir = model_dir
        self.encoded_prompts = 0     # prompts that needed the text tower this time

    def load(self) -> ClipTextScorer:
        spec = self.embeddings.model(self.model_id)
        if spec is None:
            raise ModelUnavailable(f"no text-side record for {self.model_id}: analyze one scene "
                                   "with the clip analyzer again (task Tag TagMe scenes)")
        self.spec = spec
        prompts = list(dict.fromkeys(self.vocabulary.all_prompts))
        vectors = self.embeddings.prompts(self.model_id, prompts)
        missing = [p for p in prompts if p not in vectors]
        if missing:
            log.info(f"{len(missing)} new prompt(s) for {self.model_id}: loading its text encoder "
                     "(the image encoder is not run)")
            new = encode_prompts(spec, missing, self.model_dir)
            self.embeddings.save_prompts(self.model_id, missing, new)
            vectors.update(zip(missing, normalise(new)))
            self.encoded_prompts = len(missing)
        self.text_matrix, self.columns = label_matrix(self.vocabulary, vectors)
        return self

    def scores(self, image_embeddings: np.ndarray) -> np.ndarray:
        return label_scores(image_embeddings, self.text_matrix, self.columns,
                            self.vocabulary.categories, self.spec.scale)

    def findings(self, settings, media, times: np.ndarray, frames: np.ndarray) -> list:
        """The clip findings of one scene from its stored vectors: the same aggregation as
        clip_findings, with the per-tag points taken from the score matrix (no Signal objects:
        this runs 10,000 times in a re-tag)."""
        from .clip import tag_findings  # noqa: PLC0415 - numpy only; clip imports this module
        probs = self.scores(frames)
        t, span = times[:, 0].tolist(), times[:, 1].tolist()
        best = probs.max(axis=0) if len(probs) else np.zeros(len(self.columns))
        # a tag no frame reaches cannot pass (aggregate_tag needs a hit): skip its aggregation
        bar: dict[str, float] = {}
        for _, label in self.columns:
            if label.tag:
                need = settings.threshold or label.threshold
                bar[label.tag] = min(bar.get(label.tag, need), need)
        reached = {label.tag for i, (_, label) in enumerate(self.columns)
                   if label.tag and best[i] >= bar[label.tag]}
        by_tag: dict[str, list[tuple[float, float, float]]] = {}
        for i, (_, label) in enumerate(self.columns):
            if label.tag in reached:
                by_tag.setdefault(label.tag, []).extend(zip(t, span, probs[:, i].tolist()))
        duration = media.duration or (max(a + b for a, b in zip(t, span)) if t else 0.0)
        return tag_findings(settings, self.vocabulary, by_tag, duration)

    def signals(self, times: np.ndarray, frames: np.ndarray) -> list[Signal]:
        """A scene's flat signal list, exactly as the analyzer would have produced it."""
        per_frame = frame_signals([tuple(t) for t in times], self.scores(frames), self.columns)
        return [s for row in per_frame for s in row]


def encode_prompts(spec: ClipModelSpec, prompts: Sequence[str], model_dir: str) -> np.ndarray:
    """Text embeddings from the model that made the stored image vectors."""
    model, tokenizer = load_text_model(spec, model_dir)   # DependencyMissing without torch
    import torch  # noqa: PLC0415
    with torch.no_grad():
        emb = model.encode_text(tokenizer(list(prompts))).float()
        emb = emb / emb.norm(dim=-1, keepdim=True)
    return emb.cpu().numpy()
