"""Stash data analyzers match against (studios for watermarks, the face gallery), loaded once per
task on first use. `StaticReferences` serves the standalone `analyze` command, which has no Stash."""
from __future__ import annotations

from functools import cached_property
from typing import Any


class StashReferences:
    def __init__(self, api, store):
        self.api = api
        self.store = store

    @cached_property
    def studios(self) -> list[dict[str, Any]]:
        """[{id, name, aliases}] of every studio in Stash."""
        return self.api.all_studios()

    @cached_property
    def gallery(self) -> dict[str, Any]:
        """The face gallery by embedding model id: {model_id: faces.match.Gallery} (numpy only)."""
        from .store.faces import FaceStore  # noqa: PLC0415
        return FaceStore(self.store).galleries() if self.store is not None else {}


class StaticReferences:
    def __init__(self, studios: list[dict[str, Any]] | None = None, store=None):
        self.studios = studios or []
        self.store = store
        self.api = None

    @cached_property
    def gallery(self) -> dict[str, Any]:
        from .store.faces import FaceStore  # noqa: PLC0415
        return FaceStore(self.store).galleries() if self.store is not None else {}
