"""The scene tab's operations (runPluginOperation: fast — no model, standard library HTTP: light
modes in app.py) and the feedback report task.

    {"mode": "status", "scene_id": "12"}                           -> the scene's status payload
    {"mode": "accept" | "reject", "scene_id": "12", "suggestion_id": 7}
    {"mode": "accept_category" | "reject_category", "scene_id": "12", "category": "location"}

Each decision returns the status payload after the change. Accepting applies exactly that finding
through the batch's Writer (tag and its markers, studio, performer), recording ownership so undo
and a later reject take back exactly that. Rejecting takes back what the plugin added for it (if
anything) and records the rejection: it is never suggested again for that scene, and it counts
against the tag in the feedback. When the last open suggestion is decided, the Review workflow tag
leaves the scene. Analysis itself is a task: the tab queues "Tag one scene" (mode tag_scene).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import TAG_SCENE_TASK, log
from ..errors import SettingsError, StashSenseError
from ..feedback import describe, feedback_key, raised_thresholds, report, rule_text
from ..kinds import Kind
from ..store.ledger import Ledger
from ..store.review import ReviewMemory
from ..store.scene_status import ProcessingState
from ..store.suggestions import UNDECIDED, Suggestion, SuggestionStatus
from ..tagging.apply import Writer
from ..tagging.plan import Plan, plan_accept, plan_reject
from ..tagging.reconcile import check_database, reconcile
from ..tagging.state import Owned, SceneState
from ..tagging.tags import TagResolver

if TYPE_CHECKING:
    from ..context import Context


class ReviewConflict(StashSenseError):
    """The decision cannot be carried out as asked (e.g. the scene already has another studio)."""


# ---- operations -------------------------------------------------------------------------------
def status(ctx: Context) -> dict[str, Any]:
    return status_payload(ctx, _scene_id(ctx))


def accept(ctx: Context) -> dict[str, Any]:
    sid = _scene_id(ctx)
    return _decide(ctx, sid, [_suggestion(ctx, sid)], SuggestionStatus.ACCEPTED, strict=True)


def reject(ctx: Context) -> dict[str, Any]:
    sid = _scene_id(ctx)
    return _decide(ctx, sid, [_suggestion(ctx, sid)], SuggestionStatus.REJECTED, strict=True)


def accept_category(ctx: Context) -> dict[str, Any]:
    sid = _scene_id(ctx)
    return _decide(ctx, sid, _category(ctx, sid), SuggestionStatus.ACCEPTED, strict=False)


def reject_category(ctx: Context) -> dict[str, Any]:
    sid = _scene_id(ctx)
    return _decide(ctx, sid, _category(ctx, sid), SuggestionStatus.REJECTED, strict=False)


def feedback_report(ctx: Context) -> dict[str, Any]:
    """Task "Feedback report": per-key counts and the thresholds learnFromRejections raised."""
    store, learn = ctx.store, ctx.settings.learnFromRejections
    rows = report(store.feedback.all(), store.suggestions.names(), learn)
    log.info(f"Stash Sense feedback: {len(rows)} tag(s) with decisions; rule: {rule_text()}")
    if not learn:
        log.info("learnFromRejections is off: no threshold is raised")
    for line in describe(rows):
        log.info(line)
    ctx.progress.set(1.0)
    return {"learn_from_rejections": learn, "rule": rule_text(),
            "tags": [r.as_dict() for r in rows],
            "raised": {feedback_key(r.kind, r.key): r.threshold_raised_to
                       for r in rows if r.threshold_raised_to is not None}}


# ---- the payload the tab renders --------------------------------------------------------------
def status_payload(ctx: Context, sid: str, notes: Sequence[str] = ()) -> dict[str, Any]:
    store, settings = ctx.store, ctx.settings
    st = store.scene_status.get(sid)
    rows = store.suggestions.of_scene(sid)
    raised = raised_thresholds(store.feedback.all()) if settings.learnFromRejections else {}
    counts = store.feedback.of((r.kind, r.key) for r in rows)
    return {
        "scene_id": sid,
        "state": st.state if st else ProcessingState.NEVER,
        "reason": st.reason if st else None,
        "analyzed_at": int(st.updated_at) if st else None,
        "models": list(st.models) if st else [],
        "review_mode": settings.reviewMode,
        "learn_from_rejections": settings.learnFromRejections,
        "task_name": TAG_SCENE_TASK,
        "open_count": sum(1 for r in rows if r.status == SuggestionStatus.OPEN),
        "suggestions": [_suggestion_dict(r, raised) for r in rows],
        "feedback": {feedback_key(k, key): {"accepted": a, "rejected": r}
                     for (k, key), (a, r) in sorted(counts.items())},
        "notes": list(notes),
    }


def _suggestion_dict(row: Suggestion, raised: dict[str, float]) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "name": row.name,
            "category": row.category, "analyzer": row.analyzer,
            "confidence": round(row.confidence, 4),
            "segments": [s.as_dict() for s in row.segments], "status": row.status,
            "target_id": row.stash_id, "markers": row.markers,
            "threshold_raised_to": raised.get(feedback_key(row.kind, row.key))}


# ---- decisions ----------------------------------------------------------------------------------
def _decide(ctx: Context, sid: str, rows: list[Suggestion], status: SuggestionStatus,
            strict: bool) -> dict[str, Any]:
    """Accept or reject `rows`. A rejection is recorded before anything is removed, so a
    request cancelled half-way (the browser closed, the process killed) still counts and the
    next run finishes the removal; an acceptance is recorded once it is written."""
    api, store, settings = ctx.api, ctx.store, ctx.settings
    rows = [r for r in rows if r.status != status]
    notes: list[str] = []
    if rows:
        scene = api.find_scene(sid)
        if scene is None:
            raise SettingsError(f"scene {sid} does not exist in Stash")
        ledger = Ledger(store)
        check_database(api, ledger, store.path)
        state = SceneState.from_stash(scene)
        reconcile(ledger, state)
        writer = Writer(api, store, TagResolver(api, settings.parentTag, ledger), ledger)
        if status == SuggestionStatus.ACCEPTED:
            decided = _accept(writer, state, rows, ctx, notes, strict)
            for row in decided:
                store.suggestions.record_decision(row.id, status)
        else:
            owned = Owned.from_rows(ledger.rows(sid))
            for row in rows:
                with store.tx():
                    store.suggestions.record_decision(row.id, status)
                    if row.kind == Kind.TAG:
                        for tid, detail in owned.tags.items():
                            if str(detail.get("name") or "").lower() == row.key:
                                ledger.reject_object(sid, Kind.TAG, tid)
            _reject(writer, state, rows, owned)
            decided = rows
        log.info(f"scene {sid}: {status} " + ", ".join(f"{r.kind} {r.name!r}" for r in decided))
        if not store.suggestions.of_scene(sid, SuggestionStatus.OPEN):
            _drop_review_tag(writer, scene, settings.reviewTag)
    return status_payload(ctx, sid, notes)


def _accept(writer: Writer, state: SceneState, rows: list[Suggestion], ctx: Context,
            notes: list[str], strict: bool) -> list[Suggestion]:
    findings = [r.finding() for r in rows]
    known = writer.resolver.known([(f.name, f.aliases) for f in findings if f.kind == "tag"])
    plan = plan_accept(state, findings, ctx.settings, known,
                       ReviewMemory(ctx.store).rejected_spans(state.id))
    if plan.notes and strict:
        raise ReviewConflict(f"scene {state.id}: {plan.notes[0]}")
    notes.extend(plan.notes)
    for f in findings:                           # changed their mind: the object is welcome again
        tid = known.get(f.name.lower()) if f.kind == "tag" else None
        if tid:
            writer.ledger.unreject_object(state.id, Kind.TAG, tid)
    writer.apply(plan, state, sync_suggestions=False)
    applied = {(f.kind, f.key) for f in plan.applied}
    return [r for r, f in zip(rows, findings) if (f.kind, f.key) in applied]


def _reject(writer: Writer, state: SceneState, rows: list[Suggestion], owned: Owned) -> None:
    plan = Plan(scene_id=state.id)
    for row in rows:
        part = plan_reject(state, row.kind, row.key, owned)
        plan.remove_tag_ids += [t for t in part.remove_tag_ids if t not in plan.remove_tag_ids]
        plan.delete_marker_ids += part.delete_marker_ids
        plan.release += part.release
        plan.clear_studio_id = plan.clear_studio_id or part.clear_studio_id
        plan.remove_performer_ids += part.remove_performer_ids
    if plan.changes_stash or plan.release:
        writer.apply(plan, state, sync_suggestions=False)


def _drop_review_tag(writer: Writer, scene: dict, review_name: str) -> None:
    tag = next((t for t in scene.get("tags") or []
                if str(t["name"]).lower() == review_name.lower()), None)
    if tag is not None:
        writer.workflow(str(scene["id"]), [], [str(tag["id"])])


# ---- arguments ----------------------------------------------------------------------------------
def _scene_id(ctx: Context) -> str:
    sid = str(ctx.args.get("scene_id") or "").strip()
    if not sid:
        raise SettingsError(f"mode {ctx.args.get('mode')!r} needs args.scene_id (the scene's id)")
    return sid


def _suggestion(ctx: Context, sid: str) -> Suggestion:
    raw = ctx.args.get("suggestion_id")
    try:
        number = int(str(raw).strip())
    except (TypeError, ValueError):
        raise SettingsError(f"suggestion_id must be a suggestion's number, got {raw!r}") from None
    row = ctx.store.suggestions.get(number)
    if row is None:
        raise SettingsError(f"suggestion {number} does not exist (scene {sid}); "
                            "reload the Stash Sense tab")
    if str(row.scene_id) != sid:
        raise SettingsError(f"suggestion {number} belongs to scene {row.scene_id}, "
                            f"not to scene {sid}")
    return row


def _category(ctx: Context, sid: str) -> list[Suggestion]:
    category = str(ctx.args.get("category") or "").strip()
    if not category:
        raise SettingsError(f"mode {ctx.args.get('mode')!r} needs args.category")
    rows = [r for r in ctx.store.suggestions.of_scene(sid) if r.category == category]
    if not rows:
        known = sorted({r.category for r in ctx.store.suggestions.of_scene(sid)})
        raise SettingsError(f"scene {sid} has no suggestion in category {category!r}; its "
                            f"categories: {', '.join(known) or 'none'}")
    return [r for r in rows if r.status in UNDECIDED]
