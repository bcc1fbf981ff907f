"""CLIP zero-shot classification of sprite frames (open_clip).

The vocabulary's prompts are embedded once per model (and cached on disk beside the weights), each
label's prompts averaged into one unit vector; classifying a batch is then one matrix product,
followed by a softmax inside each exclusive category. Scores per frame and label are the raw
signals; findings come from aggregating them over time (stash_sense.aggregate).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import log
from ..aggregate import aggregate_tag, rule_from_settings
from ..findings import Finding, Signal
from ..frames.dedupe import reuse_plan
from ..frames.types import Frame, SceneMedia
from ..kinds import Kind
from ..models.clip import CLIP, RANDOM
from ..models.device import batch_size_for, import_torch
from ..store.embeddings import ClipModelSpec
from .base import EmbeddingAnalyzer
from .clip_backends import ClipBackend, EncoderFactory, ImageEncoder, TorchEncoder, physical_cores
from .clip_preprocess import preprocessor
from .clip_text import frame_signals, label_matrix, label_scores


class ClipAnalyzer(EmbeddingAnalyzer):
    name = "clip"
    source = "sprite"

    def _load(self) -> None:
        settings, device = self.ctx.settings, self.ctx.device
        loaded = CLIP.load(settings, device)
        self.torch = import_torch()
        model = self.model = loaded.model
        self.preprocess, self.tokenizer = loaded.preprocess, loaded.tokenizer
        self.pixels_of = preprocessor(loaded.preprocess, self.torch)
        self._model_id = loaded.model_id
        self.batch_size = batch_size_for(settings, device)
        self.scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
        self.load_spec = (loaded.arch, loaded.pretrained, loaded.config)
        self._build_classifier(cache=loaded.pretrained != RANDOM)
        self.encoder = self._choose_encoder(loaded.arch, settings)
        # one worker prepares the next batch's pixels while the encoder runs the current one
        self._prepare = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stash-sense-clip-prep")
        self.tiles_seen = self.tiles_skipped = 0

    def _choose_encoder(self, arch: str, settings) -> ImageEncoder:
        """clipBackend: torch, onnx, openvino, onnx-int8 (opt-in), or auto = the fastest encoder
        that reproduces torch's embeddings on this machine. A GPU always runs torch in fp16."""
        torch, device = self.torch, self.ctx.device
        backend = ClipBackend(settings.clipBackend or ClipBackend.AUTO.value)
        size = self.model.visual.image_size
        self.arch, self.image_size = arch, size[0] if isinstance(size, (tuple, list)) else int(size)
        self.factory: EncoderFactory | None = None
        if device != "cpu":
            if backend not in (ClipBackend.AUTO, ClipBackend.TORCH):
                log.warning(f"clipBackend={backend.value} is for CPUs; on {device} CLIP runs on torch")
            return TorchEncoder(self.model, device, torch)
        cores = physical_cores()
        if torch.get_num_threads() > cores:      # SMT siblings only oversubscribe the decode thread
            torch.set_num_threads(cores)
        if backend == ClipBackend.TORCH:
            return TorchEncoder(self.model, device, torch)
        factory = self.encoder_factory()
        if backend == ClipBackend.AUTO:
            encoder = factory.fastest(self.batch_size)
        else:
            encoder, cosine = factory.checked(backend)
            log.info(f"CLIP on {backend.value}: cosine to torch's embeddings >= {cosine:.6f}")
        return encoder

    def encoder_factory(self) -> EncoderFactory:
        """The CPU encoders of this model (the benchmark compares them all)."""
        if self.factory is None:
            self.factory = EncoderFactory(self.model, self.torch, self.ctx.settings.model_dir,
                                          self.arch, self.image_size, self.pixels_of,
                                          threads=self.torch.get_num_threads())
        return self.factory

    @property
    def model_id(self) -> str:
        return self._model_id

    # -- text side: computed once per model, cached on disk ----------------------------------------
    def _embed_texts(self, prompts: list[str], cache: bool) -> np.ndarray:
        digest = hashlib.sha1(("\n".join([self._model_id] + prompts)).encode()).hexdigest()[:16]
        path = os.path.join(self.ctx.settings.model_dir, "text-cache", f"{digest}.npy")
        if cache and os.path.isfile(path):
            return np.load(path)
        torch = self.torch
        with torch.no_grad():
            tokens = self.tokenizer(prompts).to(self.ctx.device)
            emb = self.model.encode_text(tokens).float()
            emb = emb / emb.norm(dim=-1, keepdim=True)
        result = emb.cpu().numpy()
        if cache:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            np.save(path, result)
        return result

    def _build_classifier(self, cache: bool) -> None:
        vocab = self.ctx.vocabulary
        prompts = vocab.all_prompts
        emb = self._embed_texts(prompts, cache)
        self.prompt_vectors = dict(zip(prompts, emb))   # kept in the store: re-scoring needs no model
        self.text_matrix, self.columns = label_matrix(vocab, self.prompt_vectors)

    # -- image side -----------------------------------------------------------------------------
    def _encode(self, frames: Sequence[Frame]) -> np.ndarray:
        """[N, D] float32, L2-normalised, one row per input frame, in order — the one place images
        become embeddings. A sprite tile near-identical to the tile encoded just before it
        (tileSkipThreshold, frames/dedupe.py) gets that tile's row instead of an encoder run."""
        if not frames:
            return np.zeros((0, self.text_matrix.shape[1]), np.float32)
        plan = reuse_plan(frames, self.ctx.settings.tileSkipThreshold)
        encoded = sorted(set(plan))
        self.tiles_seen += len(frames)
        self.tiles_skipped += len(frames) - len(encoded)
        images = [frames[i].image for i in encoded]
        batches = [images[i:i + self.batch_size] for i in range(0, len(images), self.batch_size)]
        out = []
        pending = self._prepare.submit(self.pixels_of, batches[0])
        for k in range(len(batches)):
            pixels = pending.result()
            if k + 1 < len(batches):
                pending = self._prepare.submit(self.pixels_of, batches[k + 1])
            out.append(self.encoder(pixels))
        emb = np.concatenate(out).astype(np.float32, copy=False)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        if len(encoded) == len(frames):
            return emb
        row = {frame_index: r for r, frame_index in enumerate(encoded)}
        return emb[[row[source] for source in plan]]

    def scores(self, image_embeddings: np.ndarray) -> np.ndarray:
        """frames x labels; a softmax inside each exclusive category, a sigmoid-free cosine else."""
        return label_scores(image_embeddings, self.text_matrix, self.columns,
                            self.ctx.vocabulary.categories, self.scale)

    def analyze(self, frames: Sequence[Frame]) -> list[list[Signal]]:
        return self.analyze_with_embeddings(frames)[0]

    def analyze_with_embeddings(self, frames: Sequence[Frame]) -> tuple[list[list[Signal]], np.ndarray]:
        """Signals per frame and the frames' image embeddings (N x D, L2-normalised, in order):
        the pipeline stores the embeddings so later re-scoring and learning need no image model."""
        embeddings = self._encode(frames)
        probs = self.scores(embeddings)
        return frame_signals([(f.time, f.span) for f in frames], probs, self.columns), embeddings

    @property
    def spec(self) -> ClipModelSpec:
        """How to load this model's text tower again (stored with the embeddings)."""
        arch, pretrained, config = self.load_spec
        return ClipModelSpec(self.model_id, arch, pretrained, config, self.scale,
                             int(self.text_matrix.shape[1]))

    # -- aggregation (pure) ---------------------------------------------------------------------
    def findings(self, scene: SceneMedia, signals: Sequence[Signal]) -> list[Finding]:
        return clip_findings(self.ctx.settings, self.ctx.vocabulary, scene, signals)


def clip_findings(settings, vocab, scene: SceneMedia, signals: Sequence[Signal]) -> list[Finding]:
    by_tag: dict[str, list[tuple[float, float, float]]] = {}
    for s in signals:
        by_tag.setdefault(s.key, []).append((s.time, s.span, s.score))
    duration = scene.duration or max((s.time + s.span for s in signals), default=0.0)
    return tag_findings(settings, vocab, by_tag, duration)


def tag_findings(settings, vocab, by_tag: dict[str, list[tuple[float, float, float]]],
                 duration: float) -> list[Finding]:
    """Pure: per tag its (time, span, score) points -> findings (shared with clip_text's re-scoring
    of stored embeddings, which builds the points straight from the score matrix)."""
    found = []
    for category in vocab.categories:
        for label in category.labels:
            if not label.tag or label.tag not in by_tag:
                continue
            result = aggregate_tag(by_tag[label.tag],
                                   rule_from_settings(settings, label.threshold, duration))
            if result.passed:
                found.append(Finding(kind=Kind.TAG, name=label.tag, analyzer="clip",
                                     category=category.name, confidence=result.confidence,
                                     segments=result.segments, aliases=label.aliases,
                                     markers=category.markers,
                                     detail={"detected_seconds": round(result.detected, 2)}))
    return found
