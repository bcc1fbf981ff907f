"""Snapshots the plan reads: the scene as Stash has it, and what the plugin owns on it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass(frozen=True)
class Marker:
    id: str
    tag_id: str
    seconds: float
    end_seconds: float | None
    tag_ids: frozenset[str] = frozenset()

    def same_span(self, tag_id: str, start: float, end: float | None, tol: float = 0.5) -> bool:
        return (self.tag_id == tag_id and abs(self.seconds - start) <= tol and
                abs((self.end_seconds or self.seconds) - (end or start)) <= tol)


@dataclass(frozen=True)
class SceneState:
    id: str
    tag_ids: frozenset[str]
    markers: tuple[Marker, ...]
    studio_id: str | None
    performer_ids: frozenset[str]

    @classmethod
    def from_stash(cls, scene: dict[str, Any]) -> "SceneState":
        markers = tuple(
            Marker(id=str(m["id"]), tag_id=str(m["primary_tag"]["id"]), seconds=float(m["seconds"]),
                   end_seconds=None if m.get("end_seconds") is None else float(m["end_seconds"]),
                   tag_ids=frozenset(str(t["id"]) for t in m.get("tags") or []))
            for m in scene.get("scene_markers") or [])
        return cls(id=str(scene["id"]),
                   tag_ids=frozenset(str(t["id"]) for t in scene.get("tags") or []),
                   markers=markers,
                   studio_id=str(scene["studio"]["id"]) if scene.get("studio") else None,
                   performer_ids=frozenset(str(p["id"]) for p in scene.get("performers") or []))

    def marker(self, marker_id: str) -> Marker | None:
        return next((m for m in self.markers if m.id == marker_id), None)


@dataclass
class Owned:
    """Committed ownership records of one scene (pending/removing rows are reconciled first)."""
    tags: dict[str, dict] = field(default_factory=dict)         # tag id -> detail
    markers: dict[str, dict] = field(default_factory=dict)      # marker id -> detail
    studio: dict[str, dict] = field(default_factory=dict)       # studio id -> detail
    performers: dict[str, dict] = field(default_factory=dict)   # performer id -> detail

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> "Owned":
        owned = cls()
        for row in rows:
            if row["state"] != "committed":
                continue
            bucket = {"tag": owned.tags, "marker": owned.markers, "studio": owned.studio,
                      "performer": owned.performers}.get(row["kind"])
            if bucket is not None:
                bucket[row["ref"]] = json.loads(row["detail"] or "{}")
        return owned
