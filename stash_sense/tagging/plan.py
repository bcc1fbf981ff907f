"""The pure per-scene diff: findings + the scene as it is + what we own -> what to change.

Rules that protect the user's data, all decided here and nowhere else:
- only tags, markers, studios and performers the plugin recorded as its own are ever removed;
- something the user already has is never added again or claimed;
- something we added that the user has since removed counts as a rejection and is not re-added;
- a rejected suggestion is never proposed again for that scene — by its name and by the Stash tag
  it landed on (two findings that map to one user tag stay removed) — and a marker the user
  deleted or tagged Incorrect is never created again there;
- a marker of ours that the user edited in any way (title, times, primary tag, tags) is theirs:
  released, never deleted, and no marker of that tag is made over its stretch again;
- a tag of ours that no longer exists was deleted or merged by the user: forgotten (merged: the
  finding follows it to the merge target, tagging/tags.py), never counted as a rejection;
- what the user accepted stays, even when a later run no longer finds it;
- review mode writes nothing but the workflow tags: findings become suggestions and nothing is
  removed (except a marker the user tagged Incorrect);
- two thresholds: at or above applyThreshold a finding is applied, from suggestThreshold (or the
  higher threshold learnFromRejections gave the tag) up to it suggested, below it dropped;
- the studio is set only when the scene has none; a run only ever adds performers (rejecting one
  in the scene tab takes back exactly the one the plugin added: plan_reject).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

from ..feedback import feedback_key
from ..findings import Finding
from ..kinds import Kind, StrEnum
from ..settings import Settings
from .state import Marker, Owned, SceneState


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
    clear_studio_id: str | None = None      # ours, taken back (a rejected suggestion)
    add_performer_ids: list[str] = field(default_factory=list)
    remove_performer_ids: list[str] = field(default_factory=list)
    suggestions: list[Finding] = field(default_factory=list)
    forget: list[tuple[Kind, str, dict]] = field(default_factory=list)  # (kind, ref, detail)
    release: list[tuple[Kind, str, dict]] = field(default_factory=list)  # theirs now, no rejection
    drop: list[tuple[Kind, str]] = field(default_factory=list)  # forget silently (tag deleted)
    notes: list[str] = field(default_factory=list)
    applied: list[Finding] = field(default_factory=list)

    @property
    def changes_stash(self) -> bool:
        return bool(self.add_tags or self.remove_tag_ids or self.create_markers or
                    self.delete_marker_ids or self.set_studio_id or self.add_performer_ids or
                    self.clear_studio_id or self.remove_performer_ids)

    def summary(self) -> str:
        parts = [f"+{len(self.add_tags)} tags", f"-{len(self.remove_tag_ids)} tags",
                 f"+{len(self.create_markers)} markers", f"-{len(self.delete_marker_ids)} markers"]
        if self.set_studio_id:
            parts.append("studio set")
        if self.add_performer_ids:
            parts.append(f"+{len(self.add_performer_ids)} performers")
        parts.append(f"{len(self.suggestions)} suggestions")
        return ", ".join(parts)


class Verdict(StrEnum):
    """What the plan does with a finding."""
    APPLY = "apply"          # written to Stash
    SUGGEST = "suggest"      # shown in the scene tab for the user to decide
    DROP = "drop"            # neither: below the thresholds


def verdict_for(f: Finding, settings: Settings, raised: Mapping[str, float] | None = None,
                accepted: Set[tuple[str, str]] = frozenset()) -> Verdict:
    """What happens to one (not rejected) finding.

    Accepted by the user: always applied. Below the suggest threshold (or a threshold raised by
    learnFromRejections): dropped. Review mode: suggested. Otherwise applied from the apply
    threshold up, suggested below it; studios and performers obey their apply switches."""
    if (f.kind, f.key) in accepted:
        return Verdict.APPLY
    bar = (raised or {}).get(feedback_key(f.kind, f.key), 0.0)
    if f.confidence < max(settings.suggestThreshold, bar):
        return Verdict.DROP
    if settings.reviewMode:
        return Verdict.SUGGEST
    if f.kind == Kind.STUDIO and not settings.applyStudio:
        return Verdict.SUGGEST
    if f.kind == Kind.PERFORMER and not settings.applyPerformers:
        return Verdict.SUGGEST
    return Verdict.APPLY if f.confidence >= settings.applyThreshold else Verdict.SUGGEST


def make_plan(scene: SceneState, findings: list[Finding], owned: Owned, settings: Settings,
              tag_ids: Mapping[str, str], rejected: set[tuple[str, str]],
              incorrect_tag_id: str | None = None,
              raised_thresholds: Mapping[str, float] | None = None,
              accepted: Set[tuple[str, str]] = frozenset(),
              rejected_spans: Mapping[str, Sequence[tuple[float, float]]] | None = None,
              rejected_tag_ids: Set[str] = frozenset()) -> Plan:
    """tag_ids: lower-cased tag name or alias -> existing Stash tag id (lookups done beforehand).
    rejected: (kind, key) rejected on this scene; accepted: (kind, key) the user accepted;
    rejected_spans: tag key -> [(start, end)] of markers the user deleted or marked Incorrect;
    rejected_tag_ids: Stash tags the user took off this scene after the plugin put them there."""
    plan = Plan(scene_id=scene.id)
    raised = raised_thresholds or {}
    gone = {tid: dest for tid, dest in owned.gone_tags.items() if tid not in scene.tag_ids}

    def tag_id_of(f: Finding) -> str | None:
        for name in (f.name, *f.aliases):
            if name.lower() in tag_ids:
                return tag_ids[name.lower()]
        return None

    # What the user undid since the last run counts now, not only from the next run on.
    removed_tag_ids = {tid for tid in owned.tags if tid not in scene.tag_ids and tid not in gone}
    rejected_tag_ids = set(rejected_tag_ids) | removed_tag_ids
    rejected = set(rejected)
    rejected |= {(Kind.TAG, _key(d)) for tid, d in owned.tags.items() if tid in removed_tag_ids}
    rejected |= {(Kind.STUDIO, sid) for sid in owned.studio if scene.studio_id != sid}
    rejected |= {(Kind.PERFORMER, pid) for pid in owned.performers
                 if pid not in scene.performer_ids}
    spans: dict[str, list[tuple[float, float]]] = {k: list(v) for k, v in
                                                   (rejected_spans or {}).items()}
    undone_markers: dict[str, dict] = {}
    edited_markers: dict[str, dict] = {}
    for mid, detail in owned.markers.items():
        marker = scene.marker(mid)
        incorrect = (marker is not None and incorrect_tag_id is not None
                     and incorrect_tag_id in marker.tag_ids)
        if marker is None or incorrect:
            undone_markers[mid] = {**detail, "incorrect": True} if incorrect else detail
            _add_span(spans, detail)
        elif edited(marker, detail):
            edited_markers[mid] = detail
    for detail in [*owned.released.values(), *edited_markers.values()]:
        _add_span(spans, detail)                     # theirs now: nothing of ours over it

    wanted_tags: set[str] = set()
    wanted_markers: set[str] = set()
    applied_keys: set[str] = set()
    for f in findings:
        if (f.kind, f.key) in rejected:
            continue
        if f.kind == Kind.PERFORMER and str(f.target_id) in scene.performer_ids:
            continue                                       # already on the scene: nothing to do
        tid = tag_id_of(f) if f.kind == Kind.TAG else None
        if tid is not None and tid in rejected_tag_ids:
            continue                                       # removed by the user under an alias
        verdict = verdict_for(f, settings, raised, accepted)
        if verdict == Verdict.DROP:
            continue
        if verdict == Verdict.SUGGEST:
            plan.suggestions.append(f)
            continue
        if f.kind == Kind.TAG:
            applied_keys.add(f.key)
            if tid is not None:
                wanted_tags.add(tid)
        if not _plan_apply(plan, scene, f, tid, settings, spans, wanted_markers):
            plan.suggestions.append(f)

    def kept(detail: dict) -> bool:
        """Ours but not applied this run: kept in review mode (nothing but workflow tags is
        written) and when the user accepted it; otherwise it goes."""
        key = _key(detail)
        return key not in applied_keys and (settings.reviewMode or (Kind.TAG, key) in accepted)

    for tid, detail in owned.tags.items():
        if tid in gone:
            if gone[tid] is not None:                      # merged into another tag: theirs
                plan.release.append((Kind.TAG, tid, {**detail, "merged_into": gone[tid]}))
            else:
                plan.drop.append((Kind.TAG, tid))             # the tag was deleted in Stash
        elif tid in removed_tag_ids:
            plan.forget.append((Kind.TAG, tid, detail))       # the user removed our tag
        elif tid not in wanted_tags and not kept(detail):
            plan.remove_tag_ids.append(tid)                # ours, no longer found
    for mid, detail in owned.markers.items():
        if mid in edited_markers:
            plan.release.append((Kind.MARKER, mid, detail))
        elif mid in undone_markers:
            if scene.marker(mid) is not None:
                plan.delete_marker_ids.append(mid)         # tagged Incorrect: it goes
            plan.forget.append((Kind.MARKER, mid, undone_markers[mid]))
        elif mid not in wanted_markers and not kept(detail):
            plan.delete_marker_ids.append(mid)
    for sid, detail in owned.studio.items():
        if scene.studio_id != sid:
            plan.forget.append((Kind.STUDIO, sid, detail))
    for pid, detail in owned.performers.items():
        if pid not in scene.performer_ids:
            plan.forget.append((Kind.PERFORMER, pid, detail))
    return plan


def plan_accept(scene: SceneState, findings: Sequence[Finding], settings: Settings,
                tag_ids: Mapping[str, str],
                rejected_spans: Mapping[str, Sequence[tuple[float, float]]] | None = None) -> Plan:
    """Apply exactly these findings (the user accepted them in the scene tab); nothing else is
    added or removed. A studio is set only when the scene has none (else a note says why not)."""
    plan = Plan(scene_id=scene.id)
    spans = {k: list(v) for k, v in (rejected_spans or {}).items()}
    wanted: set[str] = set()
    for f in findings:
        tid = None
        if f.kind == Kind.TAG:
            tid = next((tag_ids[n.lower()] for n in (f.name, *f.aliases) if n.lower() in tag_ids),
                       None)
        if not _plan_apply(plan, scene, f, tid, settings, spans, wanted):
            plan.notes.append(f"the scene already has a studio; remove it in Stash to accept "
                              f"{f.name!r}")
    return plan


def plan_reject(scene: SceneState, kind: str, key: str, owned: Owned) -> Plan:
    """Take back exactly what the plugin added for one finding: its tag and that tag's markers,
    the studio it set, the performer it added — only while they are ours and still there."""
    plan = Plan(scene_id=scene.id)
    if kind == Kind.TAG:
        plan.remove_tag_ids = [tid for tid, d in owned.tags.items()
                               if _key(d) == key and tid in scene.tag_ids]
        for mid, d in owned.markers.items():
            marker = scene.marker(mid)
            if _key(d) != key or marker is None:
                continue
            if edited(marker, d):
                plan.release.append((Kind.MARKER, mid, d))    # the user's now: it stays
            else:
                plan.delete_marker_ids.append(mid)
    elif kind == Kind.STUDIO:
        if key in owned.studio and scene.studio_id == key:
            plan.clear_studio_id = key
    elif kind == Kind.PERFORMER:
        if key in owned.performers and key in scene.performer_ids:
            plan.remove_performer_ids = [key]
    return plan


def plan_undo(scene: SceneState, owned: Owned) -> Plan:
    """Take back everything the plugin owns on the scene and that is still there as it wrote it;
    a marker the user edited is theirs and stays."""
    plan = Plan(scene_id=scene.id)
    plan.remove_tag_ids = [t for t in owned.tags if t in scene.tag_ids]
    for mid, detail in owned.markers.items():
        marker = scene.marker(mid)
        if marker is None:
            continue
        if edited(marker, detail):
            plan.release.append((Kind.MARKER, mid, detail))
        else:
            plan.delete_marker_ids.append(mid)
    plan.clear_studio_id = next((s for s in owned.studio if scene.studio_id == s), None)
    plan.remove_performer_ids = [p for p in owned.performers if p in scene.performer_ids]
    return plan


def edited(marker: Marker, detail: dict) -> bool:
    """Has the user changed this marker since the plugin made it? Any field counts: title,
    times, primary tag, tags. (Rows from before titles were recorded compare what they have.)"""
    if "tag_id" in detail and str(detail["tag_id"]) != marker.tag_id:
        return True
    if "seconds" in detail and abs(float(detail["seconds"]) - marker.seconds) > 0.01:
        return True
    if "end_seconds" in detail:
        end = detail["end_seconds"]
        if (end is None) != (marker.end_seconds is None) or (
                end is not None and abs(float(end) - float(marker.end_seconds or 0)) > 0.01):
            return True
    if "title" in detail and str(detail["title"]) != marker.title:
        return True
    return set(map(str, detail.get("tag_ids", []))) != set(marker.tag_ids) if (
        "tag_ids" in detail) else bool(marker.tag_ids)


def _add_span(spans: dict[str, list[tuple[float, float]]], detail: dict) -> None:
    if detail.get("seconds") is not None:
        spans.setdefault(_key(detail), []).append(
            (float(detail["seconds"]), float(detail.get("end_seconds") or detail["seconds"])))


def _key(detail: dict) -> str:
    return str(detail.get("name") or "").lower()


def _plan_apply(plan: Plan, scene: SceneState, f: Finding, tid: str | None, settings: Settings,
                spans: Mapping[str, Sequence[tuple[float, float]]], wanted_markers: set[str]) -> bool:
    """Add what applying `f` needs. False when it cannot be applied (the scene has another
    studio): the caller keeps it as a suggestion."""
    if f.kind == Kind.TAG:
        if tid is None or tid not in scene.tag_ids:
            plan.add_tags.append((f.name, f.aliases))
        plan.applied.append(f)
        if settings.createMarkers and f.markers:
            _plan_markers(plan, scene, f, tid, wanted_markers, spans.get(f.key, ()))
    elif f.kind == Kind.STUDIO:
        if scene.studio_id is None:
            plan.set_studio_id = f.target_id
        elif scene.studio_id != f.target_id:
            plan.notes.append(f"scene already has a studio; {f.name!r} is kept as a suggestion")
            return False
        plan.applied.append(f)
    elif f.kind == Kind.PERFORMER:
        if f.target_id not in scene.performer_ids and f.target_id not in plan.add_performer_ids:
            plan.add_performer_ids.append(str(f.target_id))
        plan.applied.append(f)
    return True


def _overlaps(start: float, end: float, spans: Sequence[tuple[float, float]]) -> bool:
    """More than half of either stretch shared with a rejected span: the same marker again."""
    for a, b in spans:
        shared = min(end, b) - max(start, a)
        if (a, b) == (start, end) or (shared > 0 and shared >= 0.5 * min(end - start, b - a)):
            return True
    return False


def _plan_markers(plan: Plan, scene: SceneState, f: Finding, tid: str | None,
                  wanted: set[str], rejected_spans: Sequence[tuple[float, float]] = ()) -> None:
    for seg in f.segments:
        if _overlaps(seg.start, seg.end, rejected_spans):
            continue                  # the user deleted this marker or marked it Incorrect
        existing = None
        if tid is not None:
            existing = next((m for m in scene.markers
                             if m.same_span(tid, seg.start, seg.end)), None)
        if existing is not None:
            wanted.add(existing.id)   # ours: keep it; the user's: leave it, never duplicate
            continue
        plan.create_markers.append(MarkerSpec(f.name, f.aliases, f.name,
                                              round(seg.start, 3), round(seg.end, 3)))
