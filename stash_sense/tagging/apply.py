"""The only writer: applies a Plan to Stash and records ownership so a SIGKILL is harmless.

Each change is bracketed by store records: `pending` before an addition, `committed` after it,
`removing` before a removal, gone after it. `reconcile` runs before planning and settles whatever a
killed run left half-done by looking at the scene as Stash has it now:
- pending tag/performer/studio that is on the scene -> committed (we added it), else dropped;
- pending marker that matches a marker on the scene (same tag and times) -> committed as that id;
- removing -> committed again if still there (the plan decides anew), else dropped.
So a rerun continues where the last one died and never duplicates a tag or marker.
"""
from __future__ import annotations

import json

from .. import log
from ..store import Store
from ..store.review import ReviewMemory
from .plan import Plan
from .state import SceneState
from .tags import TagResolver


def reconcile(store: Store, scene: SceneState, resolver: TagResolver | None = None) -> None:
    for row in store.owned(scene.id):
        kind, ref, state = row["kind"], row["ref"], row["state"]
        if state == "committed":
            continue
        detail = json.loads(row["detail"] or "{}")
        if kind == "marker" and ref.startswith("pending:"):
            match = next((m for m in scene.markers if detail.get("tag_id") and
                          m.same_span(detail["tag_id"], detail["seconds"], detail["end_seconds"])),
                         None)
            store.drop_owned(scene.id, kind, [ref])
            if match is not None:
                store.set_owned(scene.id, "marker", [match.id], "committed", detail)
            continue
        present = {"tag": ref in scene.tag_ids, "performer": ref in scene.performer_ids,
                   "studio": scene.studio_id == ref, "marker": scene.marker(ref) is not None}[kind]
        if present:
            store.set_owned(scene.id, kind, [ref], "committed")
        else:
            store.drop_owned(scene.id, kind, [ref])


class Writer:
    def __init__(self, api, store: Store, resolver: TagResolver, dry_run: bool = False):
        self.api = api
        self.store = store
        self.resolver = resolver
        self.dry_run = dry_run

    def apply(self, plan: Plan, sync_suggestions: bool = True) -> None:
        """Write the plan. With sync_suggestions (a full run) the scene's suggestions become what
        the plan applied ('applied') and suggested ('open'); a partial plan (one accepted or
        rejected suggestion from the scene tab) leaves the other suggestions alone."""
        sid, store, api = plan.scene_id, self.store, self.api
        if self.dry_run:
            log.info(f"[dry run] scene {sid}: {plan.summary()}")
            return
        by_name = {f.name.lower(): f for f in plan.applied if f.kind == "tag"}
        by_target = {(f.kind, str(f.target_id)): f for f in plan.applied if f.kind != "tag"}

        def detail_for(name: str) -> dict:
            f = by_name.get(name.lower())
            return {"name": name, "category": f.category if f else "",
                    "analyzer": f.analyzer if f else ""}

        def target_detail(kind: str, ref: str) -> dict:
            f = by_target.get((kind, str(ref)))
            return {"name": f.name, "category": f.category, "analyzer": f.analyzer} if f else {}

        # tags
        add_ids = []
        for name, aliases in plan.add_tags:
            tid = self.resolver.ensure(name, aliases)
            store.set_owned(sid, "tag", [tid], "pending", detail_for(name))
            add_ids.append(tid)
        api.update_scene_tags([sid], add_ids, "ADD")
        store.set_owned(sid, "tag", add_ids, "committed")
        if plan.remove_tag_ids:
            store.set_owned(sid, "tag", plan.remove_tag_ids, "removing")
            api.update_scene_tags([sid], plan.remove_tag_ids, "REMOVE")
            store.drop_owned(sid, "tag", plan.remove_tag_ids)
        # markers
        if plan.delete_marker_ids:
            store.set_owned(sid, "marker", plan.delete_marker_ids, "removing")
            api.destroy_markers(plan.delete_marker_ids)
            store.drop_owned(sid, "marker", plan.delete_marker_ids)
        for spec in plan.create_markers:
            tid = self.resolver.ensure(spec.tag_name, spec.tag_aliases)
            detail = {**detail_for(spec.tag_name), "tag_id": tid, "seconds": spec.seconds,
                      "end_seconds": spec.end_seconds}
            store.set_owned(sid, "marker", [spec.ref], "pending", detail)
            marker_id = api.create_marker(sid, spec.title, spec.seconds, spec.end_seconds, tid, [])
            store.set_owned(sid, "marker", [marker_id], "committed", detail)
            store.drop_owned(sid, "marker", [spec.ref])
        # studio and performers
        if plan.set_studio_id:
            store.set_owned(sid, "studio", [plan.set_studio_id], "pending",
                            target_detail("studio", plan.set_studio_id))
            api.set_scene_studio(sid, plan.set_studio_id)
            store.set_owned(sid, "studio", [plan.set_studio_id], "committed")
        if plan.clear_studio_id:
            store.set_owned(sid, "studio", [plan.clear_studio_id], "removing")
            api.set_scene_studio(sid, None)
            store.drop_owned(sid, "studio", [plan.clear_studio_id])
        for pid in plan.add_performer_ids:
            store.set_owned(sid, "performer", [pid], "pending", target_detail("performer", pid))
        if plan.add_performer_ids:
            api.update_scene_performers(sid, plan.add_performer_ids, "ADD")
            store.set_owned(sid, "performer", plan.add_performer_ids, "committed")
        if plan.remove_performer_ids:
            store.set_owned(sid, "performer", plan.remove_performer_ids, "removing")
            api.update_scene_performers(sid, plan.remove_performer_ids, "REMOVE")
            store.drop_owned(sid, "performer", plan.remove_performer_ids)
        # what the user undid: stop owning it, remember it as a rejection
        for kind, ref, detail in plan.forget:
            store.drop_owned(sid, kind, [ref])
            name = detail.get("name") or ref
            if kind == "marker":
                # one wrong stretch: that marker never comes back; the tag itself may stay
                if detail.get("seconds") is not None:
                    ReviewMemory(store).reject_span(sid, name.lower(), detail["seconds"],
                                                    detail.get("end_seconds"))
                store.count_feedback("tag", name.lower(), rejected=1)
            elif kind == "tag":
                store.record_rejection(sid, "tag", name.lower(), name, detail.get("category", ""),
                                       detail.get("analyzer", ""))
            else:
                store.record_rejection(sid, kind, ref, name, detail.get("category", kind),
                                       detail.get("analyzer", ""))
        if sync_suggestions:
            store.sync_suggestions(sid, plan.applied, plan.suggestions, owned_keys(store, sid))


def owned_keys(store: Store, scene_id: str) -> set[tuple[str, str]]:
    """(kind, key) of every tag, studio and performer the plugin owns on the scene now."""
    keys = set()
    for row in store.owned(scene_id):
        if row["kind"] == "tag":
            name = json.loads(row["detail"] or "{}").get("name")
            if name:
                keys.add(("tag", name.lower()))
        elif row["kind"] in ("studio", "performer"):
            keys.add((row["kind"], row["ref"]))
    return keys
