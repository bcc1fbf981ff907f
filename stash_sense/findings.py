"""What analyzers conclude about a scene, before anything is written to Stash."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import SettingsError
from .kinds import Kind


@dataclass(frozen=True)
class Segment:
    """A stretch of the scene, in seconds, where something was seen; `score` is its mean score."""
    start: float
    end: float
    score: float = 0.0

    @property
    def length(self) -> float:
        return self.end - self.start

    def as_dict(self) -> dict[str, float]:
        return {"start": round(self.start, 3), "end": round(self.end, 3),
                "score": round(self.score, 4)}


@dataclass(frozen=True)
class Signal:
    """One raw per-frame result: `key` (a tag label, a class, 'text', a face) with a score."""
    time: float
    span: float
    key: str
    score: float
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Finding:
    """A proposal: a tag (by Stash tag name), a studio or a performer (by Stash id), with evidence.

    `aliases` are other names the user's existing tag may carry; `markers` says whether segments
    should become scene markers. `confidence` is in [0, 1]. `kind` is TAG, STUDIO or PERFORMER
    (given as the bare value, it is made the Kind).
    """
    kind: Kind
    name: str
    analyzer: str
    category: str
    confidence: float
    segments: tuple[Segment, ...] = ()
    target_id: str | None = None
    aliases: tuple[str, ...] = ()
    markers: bool = False
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        try:
            kind = Kind(self.kind)
        except ValueError:   # a custom analyzer's mistake: name it rather than crash unexplained
            raise SettingsError(f"analyzer {self.analyzer!r} made a finding of kind {self.kind!r}"
                                f" ({self.name!r}); a finding's kind is one of "
                                f"{', '.join(k.value for k in Kind if k is not Kind.MARKER)}"
                                ) from None
        object.__setattr__(self, "kind", kind)

    @property
    def key(self) -> str:
        """Stable identity for feedback: tags by lower-cased name, others by Stash id."""
        return self.name.lower() if self.kind == Kind.TAG else str(self.target_id)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "analyzer": self.analyzer,
                "category": self.category, "confidence": round(self.confidence, 4),
                "target_id": self.target_id,
                "segments": [s.as_dict() for s in self.segments], "markers": self.markers}
