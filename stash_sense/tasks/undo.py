"""Task `undo`: take back what Stash Sense wrote — on one scene (args.scene_id) or on every scene.

Only what the store records as ours is touched, and only while it is still there: our tags and
markers are removed, a studio we set is cleared if the scene still has it, performers we added are
removed, and the Tagged/Review workflow tags go. Suggestions and feedback are kept.
"""
from __future__ import annotations

from .. import log
from ..tagging.apply import reconcile
from ..tagging.state import Owned, SceneState
from ..tagging.tags import TagResolver


def undo(ctx) -> dict:
    api, store, settings = ctx.api, ctx.store, ctx.settings
    scene_id = str(ctx.args.get("scene_id") or "").strip()
    scene_ids = [scene_id] if scene_id else store.owned_scene_ids()
    resolver = TagResolver(api, settings.parentTag)
    workflow = [t for t in (resolver.find(settings.taggedTag), resolver.find(settings.reviewTag)) if t]
    counts = {"scenes": 0, "tags": 0, "markers": 0, "studios": 0, "performers": 0}
    for index, sid in enumerate(scene_ids):
        scene = api.find_scene(sid)
        if scene is None:
            store.drop_owned(sid, "tag", [r["ref"] for r in store.owned(sid, "tag")])
            continue
        state = SceneState.from_stash(scene)
        reconcile(store, state)
        owned = Owned.from_rows(store.owned(sid))
        tags = [t for t in owned.tags if t in state.tag_ids]
        markers = [m for m in owned.markers if state.marker(m) is not None]
        api.update_scene_tags([sid], tags + [t for t in workflow if t in state.tag_ids], "REMOVE")
        api.destroy_markers(markers)
        studio = next((s for s in owned.studio if state.studio_id == s), None)
        if studio:
            api.set_scene_studio(sid, None)
        performers = [p for p in owned.performers if p in state.performer_ids]
        api.update_scene_performers(sid, performers, "REMOVE")
        for kind, refs in (("tag", owned.tags), ("marker", owned.markers),
                           ("studio", owned.studio), ("performer", owned.performers)):
            store.drop_owned(sid, kind, list(refs))
        counts["scenes"] += 1
        counts["tags"] += len(tags)
        counts["markers"] += len(markers)
        counts["studios"] += int(bool(studio))
        counts["performers"] += len(performers)
        ctx.progress.set((index + 1) / len(scene_ids))
    log.info(f"Stash Sense undo: {counts}")
    return counts
