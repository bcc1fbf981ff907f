"""A scene's findings recomputed from what the store kept, with the current settings and vocabulary.

Why: thresholds, vocabulary labels and learned tags change; the frames do not. This is the one
place that turns stored results back into findings, used by `retag` (then written through the
normal writer) and `evaluate` (compared with the user's tags, nothing written). No image model is
loaded:
- clip: stored frame embeddings scored against the current vocabulary (ClipTextScorer: stored
  prompt vectors, the text tower only for new prompts); scenes analysed before embeddings were
  kept fall back to their stored per-frame scores;
- objects, ocr, faces and custom analyzers: their pure `findings` over their stored raw signals
  (faces through `face_findings` with the current rule, since FacesAnalyzer sets it at load);
- learned: active learned tags from the scene's pooled vector.
"""
from __future__ import annotations

from typing import Any

from ..analyzers.base import AnalyzerContext, build_analyzers
from ..findings import Finding
from ..frames.types import SceneMedia
from ..references import StashReferences
from ..store.embeddings import EmbeddingStore
from ..vocabulary import load_vocabulary
from .predict import LearnedPredictor, combine


class StoredFindings:
    def __init__(self, ctx, *, learned: bool = True):
        settings = ctx.settings
        self.settings = settings
        self.store = ctx.store
        self.vocabulary = load_vocabulary(settings.vocabularyFile)
        self.actx = AnalyzerContext(settings=settings, vocabulary=self.vocabulary,
                                    references=StashReferences(ctx.api, ctx.store))
        self.analyzers = build_analyzers(self.actx)     # constructed, never loaded
        self.embeddings = EmbeddingStore(ctx.store)
        self.scorers: dict[str, Any] = {}
        self.learned = LearnedPredictor(ctx.store, settings) if learned else None
        self.encoded_prompts = 0

    def analysed_scene_ids(self) -> list[str]:
        names = [a.name for a in self.analyzers]
        marks = ",".join("?" * len(names))
        return [r[0] for r in self.store.db.execute(
            f"SELECT DISTINCT scene_id FROM runs WHERE analyzer IN ({marks}) "
            "ORDER BY CAST(scene_id AS INTEGER), scene_id", names)]

    def prepare(self) -> None:
        """Load the text side of every CLIP model with stored vectors now, before anything is
        written: a text encoder that cannot load is an environment problem and stops the task."""
        for model_id in self.store.signals.models_run("clip"):
            self.scorer(model_id)

    def scorer(self, model_id: str):
        """The model's ClipTextScorer, or None when the store has no text-side record for it
        (vectors from an older version): those scenes use their stored per-frame scores."""
        if model_id not in self.scorers:
            from ..analyzers.clip_text import ClipTextScorer  # noqa: PLC0415
            scorer = None
            if self.embeddings.model(model_id) is not None:
                scorer = ClipTextScorer(self.embeddings, self.vocabulary, model_id,
                                        self.settings.model_dir).load()
                self.encoded_prompts += scorer.encoded_prompts
            self.scorers[model_id] = scorer
        return self.scorers[model_id]

    def findings(self, media: SceneMedia, scene: dict[str, Any] | None = None,
                 with_learned: bool = True) -> tuple[list[Finding], list[str]]:
        """(findings, model ids they came from) for one scene."""
        found: list[Finding] = []
        models: list[str] = []
        latest_vectors = None
        for analyzer in self.analyzers:
            run = self.store.signals.last_run(media.id, analyzer.name)
            if run is None:
                continue
            models.append(run.model_id)
            if analyzer.name == "clip" and self.scorer(run.model_id) is not None:
                vectors = self.embeddings.scene(media.id, run.model_id)
                if vectors is not None:
                    latest_vectors = vectors
                    found.extend(self.scorer(run.model_id).findings(
                        self.settings, media, vectors.times, vectors.frames))
                    continue
            signals = self.store.signals.load(media.id, analyzer.name, run.model_id)
            if analyzer.name == "faces":
                from ..analyzers.faces import face_findings, rule_from_settings  # noqa: PLC0415
                found.extend(face_findings(rule_from_settings(self.settings, run.model_id),
                                            signals, media.duration))
            else:
                found.extend(analyzer.findings(media, signals))
        if with_learned and self.learned is not None:
            found = combine(found, self.learned.findings(media, scene, latest_vectors))
        return found, models
