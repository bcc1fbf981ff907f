"""The analyzer interface and its registry.

An analyzer declares the frame source it wants (`source`), loads its model once per task
(`load`, idempotent, raising ModelUnavailable / DependencyMissing with what to do), turns a batch
of frames — possibly from several scenes — into raw per-frame signals (`analyze`), and turns one
scene's stored signals into findings (`findings`). `findings` is pure, so thresholds can change and
results be recomputed from the store without running a model again.

The registry maps names to "module:Class" strings and imports lazily: validating the `analyzers`
setting must not import torch (hooks and operations never load a model).
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import SettingsError
from ..findings import Finding, Signal
from ..frames.types import Frame, SceneMedia
from ..settings import Settings
from ..vocabulary import Vocabulary

if TYPE_CHECKING:
    from ..models.weights import Weight

REGISTRY: dict[str, str] = {
    "clip": "stash_sense.analyzers.clip:ClipAnalyzer",
    "objects": "stash_sense.analyzers.objects:ObjectsAnalyzer",
    "ocr": "stash_sense.analyzers.ocr:OcrAnalyzer",
    "faces": "stash_sense.analyzers.faces:FacesAnalyzer",
}


@dataclass
class AnalyzerContext:
    """What an analyzer may use. `references` gives Stash data an analyzer matches against (studios,
    the face gallery), loaded on first use; it is empty when analyzing a file without Stash."""
    settings: Settings
    vocabulary: Vocabulary
    device: str = "cpu"
    references: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Analyzer(ABC):
    name: ClassVar[str] = ""
    source: ClassVar[str] = "sprite"   # "sprite" (81 tiles of 160 px) or "video" (full resolution)
    uses_torch: ClassVar[bool] = True  # False: no device to pick (and torch is never imported)

    def __init__(self, ctx: AnalyzerContext):
        self.ctx = ctx
        self._loaded = False

    def load(self) -> None:
        """Load weights once; later calls do nothing."""
        if not self._loaded:
            self._load()
            self._loaded = True

    @abstractmethod
    def _load(self) -> None:
        ...

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Model name and version, stored with the raw results."""

    @abstractmethod
    def analyze(self, frames: Sequence[Frame]) -> list[list[Signal]]:
        """One list of signals per input frame, in order."""

    @abstractmethod
    def findings(self, scene: SceneMedia, signals: Sequence[Signal]) -> list[Finding]:
        """Pure: one scene's raw signals -> findings."""


class EmbeddingAnalyzer(Analyzer):
    """An analyzer whose per-frame image embeddings are kept (CLIP): re-scoring with new
    thresholds or labels, learned tags and search by look then need no image model. The pipeline
    stores the embeddings, and once per model how to embed text again (`spec`, `prompt_vectors`)."""

    spec_saved_for: str | None = None     # the model id whose spec this task already stored
    prompt_vectors: dict[str, Any]        # prompt -> text embedding, set by load()

    @abstractmethod
    def analyze_with_embeddings(self, frames: Sequence[Frame]) -> tuple[list[list[Signal]], Any]:
        """Signals per frame, and the frames' embeddings (N x D, unit rows, in frame order)."""

    @property
    @abstractmethod
    def spec(self) -> Any:
        """How to load this model's text tower again (store.embeddings.ClipModelSpec)."""


def analyzer_class(name: str) -> type[Analyzer]:
    """A built-in name, or "package.module:Class" for an analyzer of your own (an extension point;
    the test suite uses it for scripted analyzers)."""
    target = REGISTRY.get(name, name)
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        if name in REGISTRY:
            raise  # a broken install of a built-in: let the real error show
        raise SettingsError(f"analyzer {name!r} cannot be imported: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Analyzer)):
        raise SettingsError(f"analyzer {name!r} is not a stash_sense Analyzer subclass")
    return cls


def check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in REGISTRY and ":" not in n]
    if unknown:
        raise SettingsError(f"unknown analyzer {', '.join(repr(u) for u in unknown)} in setting "
                            f"'analyzers'; known: {', '.join(sorted(REGISTRY))}")


def build_analyzers(ctx: AnalyzerContext,
                    factory: Callable[[str], type[Analyzer]] = analyzer_class) -> list[Analyzer]:
    """Instances for the `analyzers` setting, unknown names rejected before anything is imported."""
    check_names(ctx.settings.analyzers)
    return [factory(name)(ctx) for name in ctx.settings.analyzers]


def verify_through_analyzers(weights: list[Weight], settings: Settings, device: str) -> None:
    """Make `verify` load CLIP the way a tagging run does, through its analyzer: that also embeds
    the vocabulary's prompts and chooses (exporting once) the image encoder, so a passed check
    means the tag task will start, not only that the weight file opens. (models/ sits below
    analyzers/ and cannot build an analyzer itself; the `models` task and command call this.)"""
    for weight in weights:
        if weight.analyzer == "clip":
            def load(name: str = weight.analyzer) -> Analyzer:
                from ..vocabulary import load_vocabulary  # noqa: PLC0415
                analyzer = analyzer_class(name)(AnalyzerContext(
                    settings, load_vocabulary(settings.vocabularyFile), device))
                analyzer.load()
                return analyzer
            weight.loader = load
