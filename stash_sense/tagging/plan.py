"""The pure per-scene diff: findings + the scene as it is + what we own -> what to change.

Rules that protect the user's data, all decided here and nowhere else:
- only tags, markers, studios and performers the plugin recorded as its own are ever removed;
- something the user already has is never added again or claimed;
- something we added that the user has since removed counts as a rejection and is not re-added;
- a rejected suggestion is never proposed again for that scene;
- the studio is set only when the scene has none; performers are only ever added.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..findings import Finding, Segment
from ..settings import Settings
from .state import Owned, SceneState


@dataclass(frozen=True)
class MarkerSpec:
    tag_name: str
    tag_aliases: tuple[str, ...]
    title: str
    seconds: float
    end_seconds: float

    @property
    def ref(self) -> str:
        return f"pending:{self.tag_name.lower()}:{self.seconds:.3f}:{self.end_seconds:.3f}"


@dataclass
class Plan:
    scene_id: str
    add_tags: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (name, aliases)
    remove_tag_ids: list[str] = field(default_factory=list)
    create_markers: list[MarkerSpec] = field(default_factory=list)
    delete_marker_ids: list[str] = field(default_factory=list)
    set_studio_id: str | None = None
    add_performer_ids: list[str] = field(default_factory=list)
    suggestions: list[Finding] = field(default_factory=list)
    forget: list[tuple[str, str, dict]] = field(default_factory=list)  # (kind, ref, detail)
    notes: list[str] = field(default_factory=list)
    applied: list[Finding] = field(default_factory=list)

    @property
    def changes_stash(self) -> bool:
        return bool(self.add_tags or self.remove_tag_ids or self.create_markers or
                    self.delete_marker_ids or self.set_studio_id or self.add_performer_ids)

    def summary(self) -> str:
        parts = [f"+{len(self.add_tags)} tags", f"-{len(self.remove_tag_ids)} tags",
                 f"+{len(self.create_markers)} markers", f"-{len(self.delete_marker_ids)} markers"]
        if self.set_studio_id:
            parts.append("studio set")
        if self.add_performer_ids:
            parts.append(f"+{len(self.add_performer_ids)} performers")
        parts.append(f"{len(self.suggestions)} suggestions")
        return ", ".join(parts)


def _should_apply(f: Finding, settings: Settings, raised: Mapping[str, float]) -> bool:
    if settings.reviewMode:
        return False
    if f.kind == "studio" and not settings.applyStudio:
        return False
    if f.kind == "performer" and not settings.applyPerformers:
        return False
    needed = max(settings.applyThreshold, raised.get(f"{f.kind}:{f.key}", 0.0))
    return f.confidence >= needed


def make_plan(scene: SceneState, findings: list[Finding], owned: Owned, settings: Settings,
              tag_ids: Mapping[str, str], rejected: set[tuple[str, str]],
              incorrect_tag_id: str | None = None,
              raised_thresholds: Mapping[str, float] | None = None) -> Plan:
    """tag_ids: lower-cased tag name or alias -> existing Stash tag id (lookups done beforehand)."""
    plan = Plan(scene_id=scene.id)
    raised = raised_thresholds or {}

    def tag_id_of(f: Finding) -> str | None:
        for name in (f.name, *f.aliases):
            if name.lower() in tag_ids:
                return tag_ids[name.lower()]
        return None

    wanted_tags: set[str] = set()
    wanted_markers: set[str] = set()
    for f in findings:
        if (f.kind, f.key) in rejected:
            continue
        if not _should_apply(f, settings, raised):
            plan.suggestions.append(f)
            continue
        if f.kind == "tag":
            tid = tag_id_of(f)
            if tid is not None:
                wanted_tags.add(tid)
            if tid is None or tid not in scene.tag_ids:
                plan.add_tags.append((f.name, f.aliases))
            plan.applied.append(f)
            if settings.createMarkers and f.markers:
                _plan_markers(plan, scene, f, tid, wanted_markers)
        elif f.kind == "studio":
            if scene.studio_id is None:
                plan.set_studio_id = f.target_id
                plan.applied.append(f)
            elif scene.studio_id != f.target_id:
                plan.suggestions.append(f)
                plan.notes.append(f"scene already has a studio; {f.name!r} is kept as a suggestion")
        elif f.kind == "performer":
            if f.target_id not in scene.performer_ids:
                plan.add_performer_ids.append(str(f.target_id))
            plan.applied.append(f)

    for tid, detail in owned.tags.items():
        if tid not in scene.tag_ids:
            plan.forget.append(("tag", tid, detail))       # the user removed our tag
        elif tid not in wanted_tags:
            plan.remove_tag_ids.append(tid)                # ours, no longer found
    for mid, detail in owned.markers.items():
        marker = scene.marker(mid)
        if marker is None:
            plan.forget.append(("marker", mid, detail))    # the user deleted our marker
        elif incorrect_tag_id and incorrect_tag_id in marker.tag_ids:
            plan.delete_marker_ids.append(mid)
            plan.forget.append(("marker", mid, {**detail, "incorrect": True}))
        elif mid not in wanted_markers:
            plan.delete_marker_ids.append(mid)
    for sid, detail in owned.studio.items():
        if scene.studio_id != sid:
            plan.forget.append(("studio", sid, detail))
    for pid, detail in owned.performers.items():
        if pid not in scene.performer_ids:
            plan.forget.append(("performer", pid, detail))
    return plan


def _plan_markers(plan: Plan, scene: SceneState, f: Finding, tid: str | None,
                  wanted: set[str]) -> None:
    for seg in f.segments:
        existing = None
        if tid is not None:
            existing = next((m for m in scene.markers
                             if m.same_span(tid, seg.start, seg.end)), None)
        if existing is not None:
            wanted.add(existing.id)   # ours: keep it; the user's: leave it, never duplicate
            continue
        plan.create_markers.append(MarkerSpec(f.name, f.aliases, f.name,
                                              round(seg.start, 3), round(seg.end, 3)))


def segments_of(detail: dict) -> list[Segment]:
    return [Segment(s["start"], s["end"], s.get("score", 0.0)) for s in detail.get("segments", [])]
