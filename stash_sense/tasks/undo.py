"""Task `undo`: take back what Stash Sense wrote — on one scene (args.scene_id) or on every scene.

It goes through the one writer and its ledger like any other write, so an Undo stopped half-way
leaves nothing the next run would mistake for the user's rejections: removals are recorded
`removing` before they are sent. Only what the ledger records as the plugin's, still there and
still the same item (tagging/reconcile.py), is removed: its tags and markers, a studio it set (while
the scene still has it), performers it added; then the Tagged/Review workflow tags. A marker the
user edited is theirs and stays. Suggestions and feedback are kept.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import log
from ..store.ledger import Ledger
from ..tagging.apply import Writer
from ..tagging.plan import plan_undo
from ..tagging.reconcile import check_database, reconcile
from ..tagging.state import Owned, SceneState
from ..tagging.tags import TagResolver
from ..tagging.workflow import WorkflowTags

if TYPE_CHECKING:
    from ..context import Context


def undo(ctx: Context) -> dict:
    api, store, settings = ctx.api, ctx.store, ctx.settings
    ledger = Ledger(store)
    check_database(api, ledger, store.path)      # another database: stop before any change
    scene_id = str(ctx.args.get("scene_id") or "").strip()
    scene_ids = [scene_id] if scene_id else ledger.scene_ids()
    resolver = TagResolver(api, settings.parentTag, ledger)
    writer = Writer(api, store, resolver, ledger)
    workflow = WorkflowTags(resolver, settings)
    counts = {"scenes": 0, "tags": 0, "markers": 0, "studios": 0, "performers": 0}
    for index, sid in enumerate(scene_ids):
        scene = api.find_scene(sid)
        if scene is None:
            ledger.forget_scene(sid)             # deleted in Stash: nothing left to take back
            continue
        state = SceneState.from_stash(scene)
        reconcile(ledger, state)
        plan = plan_undo(state, Owned.from_rows(ledger.rows(sid)))
        writer.apply(plan, state, sync_suggestions=False)
        store.suggestions.drop_applied(sid)
        present = [role for role in ("tagged", "review")
                   if resolver.find(settings.workflow_tags[role]) in state.tag_ids]
        if present:
            if not workflow.ids:
                workflow.refresh()
            workflow.undo(writer, sid, present)
        counts["scenes"] += 1
        counts["tags"] += len(plan.remove_tag_ids)
        counts["markers"] += len(plan.delete_marker_ids)
        counts["studios"] += int(bool(plan.clear_studio_id))
        counts["performers"] += len(plan.remove_performer_ids)
        ctx.progress.set((index + 1) / len(scene_ids))
    log.info(f"Stash Sense undo: {counts}")
    return counts
