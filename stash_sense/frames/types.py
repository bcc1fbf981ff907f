"""What every frame source yields, and the one interface a frame source implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from ..kinds import FrameKind


@dataclass(frozen=True)
class SceneMedia:
    """The parts of a Stash scene the frame sources and analyzers need."""
    id: str
    title: str
    duration: float
    width: int
    height: int
    path: str | None          # primary file path as Stash reports it
    sprite_url: str | None
    vtt_url: str | None
    stream_url: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_stash(cls, scene: dict[str, Any]) -> SceneMedia:
        files = scene.get("files") or [{}]
        first = files[0] if files else {}
        paths = scene.get("paths") or {}
        return cls(id=str(scene["id"]), title=scene.get("title") or "",
                   duration=float(first.get("duration") or 0.0),
                   width=int(first.get("width") or 0), height=int(first.get("height") or 0),
                   path=first.get("path"), sprite_url=paths.get("sprite"),
                   vtt_url=paths.get("vtt"), stream_url=paths.get("stream"), raw=scene)

    @property
    def label(self) -> str:
        return f"scene {self.id}" + (f" ({self.title})" if self.title else "")


@dataclass(frozen=True)
class Frame:
    """One decoded RGB frame. `time` is where it was taken; `span` the stretch it stands for."""
    scene_id: str
    index: int
    time: float
    span: float
    image: Image.Image = field(compare=False, repr=False)
    source: FrameKind = FrameKind.SPRITE


class FrameSource(ABC):
    """Produces the frames of one scene. Raises FramesUnavailable (a SceneError) with a reason
    that says what the user can do about it."""

    name: FrameKind

    @abstractmethod
    def frames(self, scene: SceneMedia) -> list[Frame]:
        ...
