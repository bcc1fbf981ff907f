"""Snapshots the plan reads: the scene as Stash has it, and what the plugin owns on it."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..kinds import Kind
from ..store.ledger import OwnedRow, State


@dataclass(frozen=True)
class Marker:
    id: str
    tag_id: str
    seconds: float
    end_seconds: float | None
    tag_ids: frozenset[str] = frozenset()
    title: str = ""
    created_at: str = ""

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
    created_at: str = ""          # Stash's created_at of the scene: which scene, not only which id
    updated_at: str = ""
    # (kind, id) -> created_at
    created: Mapping[tuple[Kind, str], str] = field(default_factory=dict)

    @classmethod
    def from_stash(cls, scene: dict[str, Any]) -> SceneState:
        markers = tuple(
            Marker(id=str(m["id"]), tag_id=str(m["primary_tag"]["id"]), seconds=float(m["seconds"]),
                   end_seconds=None if m.get("end_seconds") is None else float(m["end_seconds"]),
                   tag_ids=frozenset(str(t["id"]) for t in m.get("tags") or []),
                   title=str(m.get("title") or ""), created_at=str(m.get("created_at") or ""))
            for m in scene.get("scene_markers") or [])
        created: dict[tuple[Kind, str], str] = {}
        for kind, items in ((Kind.TAG, scene.get("tags")),
                            (Kind.PERFORMER, scene.get("performers")),
                            (Kind.STUDIO, [scene["studio"]] if scene.get("studio") else [])):
            for item in items or []:
                if item.get("created_at"):
                    created[(kind, str(item["id"]))] = str(item["created_at"])
        return cls(id=str(scene["id"]),
                   tag_ids=frozenset(str(t["id"]) for t in scene.get("tags") or []),
                   markers=markers,
                   studio_id=str(scene["studio"]["id"]) if scene.get("studio") else None,
                   performer_ids=frozenset(str(p["id"]) for p in scene.get("performers") or []),
                   created_at=str(scene.get("created_at") or ""),
                   updated_at=str(scene.get("updated_at") or ""), created=created)

    def marker(self, marker_id: str) -> Marker | None:
        return next((m for m in self.markers if m.id == marker_id), None)

    def has(self, kind: Kind, ref: str) -> bool:
        return {Kind.TAG: ref in self.tag_ids, Kind.PERFORMER: ref in self.performer_ids,
                Kind.STUDIO: self.studio_id == ref, Kind.MARKER: self.marker(ref) is not None}[kind]

    def identity_of(self, kind: Kind, ref: str) -> dict[str, str]:
        """What the ledger records for an item on this scene: the scene's and the item's
        created_at, as Stash reports them."""
        if kind == Kind.MARKER:
            marker = self.marker(ref)
            target = marker.created_at if marker else ""
        else:
            target = self.created.get((kind, ref), "")
        return {"scene": self.created_at, "target": target}

    def same_identity(self, kind: Kind, ref: str, identity: Mapping[str, Any]) -> bool:
        """False when this id now names another scene or another item than the one the plugin
        wrote (a database restored from a backup hands ids out again). Unknown (a row from
        before identities were kept, or a field Stash did not send) counts as the same."""
        now = self.identity_of(kind, ref)
        for part in ("scene", "target"):
            recorded = identity.get(part)
            if recorded and now[part] and recorded != now[part]:
                return False
        return True


@dataclass
class Owned:
    """What the ledger says the plugin owns on one scene (pending/removing rows are reconciled
    first). `released` are markers the user edited (theirs now, remembered so that none is made
    beside them); `gone_tags` maps an owned tag that no longer exists in Stash to the tag it was
    merged into, or None when it was deleted (filled by the caller from Stash)."""
    tags: dict[str, dict] = field(default_factory=dict)         # tag id -> detail
    markers: dict[str, dict] = field(default_factory=dict)      # marker id -> detail
    studio: dict[str, dict] = field(default_factory=dict)       # studio id -> detail
    performers: dict[str, dict] = field(default_factory=dict)   # performer id -> detail
    released: dict[str, dict] = field(default_factory=dict)     # marker id -> detail
    identity: dict[tuple[str, str], dict] = field(default_factory=dict)
    gone_tags: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[OwnedRow]) -> Owned:
        owned = cls()
        for row in rows:
            if row.state == State.RELEASED and row.kind == Kind.MARKER:
                owned.released[row.ref] = row.detail
                continue
            if row.state != State.COMMITTED:
                continue
            bucket = {Kind.TAG: owned.tags, Kind.MARKER: owned.markers,
                      Kind.STUDIO: owned.studio, Kind.PERFORMER: owned.performers}[row.kind]
            bucket[row.ref] = row.detail
            owned.identity[(row.kind.value, row.ref)] = row.identity
        return owned
