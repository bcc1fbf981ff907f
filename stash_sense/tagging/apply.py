"""The only writer: every change Stash Sense makes to a scene goes through here — tagging, the
workflow tags, Undo, the scene tab's decisions, the hooks — and through the ledger
(store/ledger.py), so a SIGKILL at any point is harmless and nothing the user made is claimed.

Around each mutation: the rows are recorded `pending` (with the full detail of what is asked)
before, and `committed` only for what Stash's answer confirms — with the identity Stash reports
(created_at of the scene and the item). A failed request drops its pending rows at once. Removals
go `removing` before and disappear after. A write Stash refuses because an id went stale (a tag or
performer deleted while the batch ran) is asked again once with fresh ids. What a killed process
left half-done is settled by tagging/reconcile.py before the next plan.

The studio is set only when the scene still has none at the moment of writing (re-read right
before), and cleared only while it is still the one the plugin set.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import log
from ..errors import SceneError, StashRequestError
from ..store import Store
from ..store.ledger import Kind, Ledger, State
from ..store.review import ReviewMemory
from .plan import Plan
from .state import SceneState
from .tags import TagResolver

STALE_ID_WORDS = ("foreign key", "not found", "does not exist")


def stale_id(exc: StashRequestError) -> bool:
    """Stash refused the write because an id it was given no longer exists."""
    text = str(exc).lower()
    return any(w in text for w in STALE_ID_WORDS)


def _confirmed(answer: Sequence[dict[str, Any]], scene_id: str, field: str) -> dict[str, str]:
    """id -> created_at of the items Stash says the scene has after the mutation."""
    for scene in answer:
        if str(scene.get("id")) == str(scene_id):
            items = scene.get(field)
            if isinstance(items, dict):
                items = [items]
            return {str(i["id"]): str(i.get("created_at") or "") for i in items or []}
    return {}


class Writer:
    def __init__(self, api, store: Store, resolver: TagResolver, ledger: Ledger | None = None):
        self.api = api
        self.store = store
        self.ledger = ledger or resolver.ledger or Ledger(store)
        self.resolver = resolver
        if resolver.ledger is None:
            resolver.ledger = self.ledger

    # -- a plan -----------------------------------------------------------------------------------
    def apply(self, plan: Plan, scene: SceneState, sync_suggestions: bool = True) -> None:
        """Write the plan for `scene` (the state the plan was made from). With sync_suggestions
        (a full run) the scene's suggestions become what the plan applied ('applied') and
        suggested ('open'); a partial plan (one decision from the scene tab) leaves them alone."""
        self._release(plan, scene)
        self._forget(plan)
        self._add_tags(plan, scene)
        self._remove(plan.scene_id, Kind.TAG, plan.remove_tag_ids,
                     lambda ids: self.api.update_scene_tags([plan.scene_id], ids, "REMOVE"))
        self._delete_markers(plan)
        for spec in plan.create_markers:
            self._create_marker(plan, spec, scene)
        if plan.set_studio_id:
            self._set_studio(plan, scene)
        if plan.clear_studio_id:
            self._clear_studio(plan)
        if plan.add_performer_ids:
            self._add_performers(plan, scene)
        self._remove(plan.scene_id, Kind.PERFORMER, plan.remove_performer_ids,
                     lambda ids: self.api.update_scene_performers(plan.scene_id, ids, "REMOVE"))
        if sync_suggestions:
            self.store.suggestions.sync(plan.scene_id, plan.applied, plan.suggestions,
                                        owned_keys(self.ledger, plan.scene_id))

    # -- workflow tags (not owned: they say where the scene is in the workflow) ------------------
    def workflow(self, scene_id: str, add: Sequence[str], remove: Sequence[str],
                 refresh: Callable[[], tuple[list[str], list[str]]] | None = None) -> None:
        """Add and remove workflow tags. `refresh` re-resolves their ids when one was deleted."""
        for attempt in (1, 2):
            try:
                self.api.update_scene_tags([scene_id], list(add), "ADD")
                self.api.update_scene_tags([scene_id], list(remove), "REMOVE")
                return
            except StashRequestError as exc:
                if attempt == 2 or refresh is None or not stale_id(exc):
                    raise
                self.resolver.refresh()
                add, remove = refresh()

    # -- parts --------------------------------------------------------------------------------------
    def _release(self, plan: Plan, scene: SceneState) -> None:
        for kind, ref, detail in plan.release:
            self.ledger.put(plan.scene_id, Kind(kind), [ref], State.RELEASED, detail, mine=False)
            if kind == Kind.MARKER:
                log.info(f"scene {plan.scene_id}: marker {ref} ({detail.get('name')}): you edited "
                         "it, so it is yours now; Stash Sense will not remove or repeat it")
            else:
                target = detail.get("merged_into")
                if target:
                    self.ledger.map_tag(str(detail.get("name") or ""), str(target))
                log.info(f"scene {plan.scene_id}: tag {detail.get('name')!r} was merged into tag "
                         f"{target}; that tag is yours and stays")
        for kind, ref in plan.drop:
            self.ledger.drop(plan.scene_id, Kind(kind), [ref])

    def _forget(self, plan: Plan) -> None:
        """What the user undid: remember it as a rejection first, then stop owning it."""
        sid, store = plan.scene_id, self.store
        for kind, ref, detail in plan.forget:
            name = detail.get("name") or ref
            with store.tx():
                if kind == Kind.MARKER:
                    # one wrong stretch: that marker never comes back; the tag itself may stay
                    if detail.get("seconds") is not None:
                        ReviewMemory(store).reject_span(sid, name.lower(), detail["seconds"],
                                                        detail.get("end_seconds"))
                    store.feedback.count(Kind.TAG, name.lower(), rejected=1)
                elif kind == Kind.TAG:
                    self.ledger.reject_object(sid, Kind.TAG, ref)
                    store.suggestions.record_rejection(
                        sid, Kind.TAG, name.lower(), name, detail.get("category", ""),
                        detail.get("analyzer", ""))
                else:
                    store.suggestions.record_rejection(
                        sid, Kind(kind), ref, name, detail.get("category", kind),
                        detail.get("analyzer", ""))
                self.ledger.drop(sid, Kind(kind), [ref])

    def _detail(self, plan: Plan, name: str) -> dict[str, Any]:
        f = next((f for f in plan.applied if f.kind == Kind.TAG and f.name.lower() == name.lower()),
                 None)
        return {"name": name, "category": f.category if f else "",
                "analyzer": f.analyzer if f else ""}

    def _add_tags(self, plan: Plan, scene: SceneState) -> None:
        if not plan.add_tags:
            return
        sid = plan.scene_id
        for attempt in (1, 2):
            wanted: dict[str, dict] = {}
            for name, aliases in plan.add_tags:
                tid = self.resolver.ensure(name, aliases)
                wanted.setdefault(tid, self._detail(plan, name))
            for tid, detail in wanted.items():
                self.ledger.put(sid, Kind.TAG, [tid], State.PENDING, detail)
            try:
                answer = self.api.update_scene_tags([sid], list(wanted), "ADD")
            except StashRequestError as exc:
                self.ledger.drop(sid, Kind.TAG, list(wanted))
                if attempt == 1 and stale_id(exc):
                    log.info(f"scene {sid}: a tag was deleted in Stash meanwhile; asking again")
                    self.resolver.refresh()
                    continue
                raise
            confirmed = _confirmed(answer, sid, "tags")
            for tid, detail in wanted.items():
                if tid in confirmed:
                    self.ledger.put(sid, Kind.TAG, [tid], State.COMMITTED, detail,
                                    {"scene": scene.created_at, "target": confirmed[tid]})
                    self.ledger.map_tag(detail["name"], tid)
                else:
                    self.ledger.drop(sid, Kind.TAG, [tid])
            return

    def _remove(self, sid: str, kind: Kind, refs: Sequence[str],
                mutate: Callable[[list[str]], Any]) -> None:
        if not refs:
            return
        self.ledger.put(sid, kind, refs, State.REMOVING)
        try:
            mutate(list(refs))
        except StashRequestError:
            self.ledger.put(sid, kind, refs, State.COMMITTED, mine=False)
            raise
        self.ledger.drop(sid, kind, refs)

    def _delete_markers(self, plan: Plan) -> None:
        ids = list(plan.delete_marker_ids)
        if not ids:
            return
        sid = plan.scene_id
        self.ledger.put(sid, Kind.MARKER, ids, State.REMOVING)
        try:
            self.api.destroy_markers(ids)
        except StashRequestError as exc:
            if not stale_id(exc):
                self.ledger.put(sid, Kind.MARKER, ids, State.COMMITTED, mine=False)
                raise
            # removed meanwhile (a scene-tab decision while the batch ran): delete the rest
            scene = self.api.find_scene(sid) or {}
            still = {str(m["id"]) for m in scene.get("scene_markers") or []}
            self.api.destroy_markers([m for m in ids if m in still])
        self.ledger.drop(sid, Kind.MARKER, ids)

    def _create_marker(self, plan: Plan, spec, scene: SceneState) -> None:
        sid = plan.scene_id
        for attempt in (1, 2):
            tid = self.resolver.ensure(spec.tag_name, spec.tag_aliases)
            detail = {**self._detail(plan, spec.tag_name), "tag_id": tid, "title": spec.title,
                      "seconds": spec.seconds, "end_seconds": spec.end_seconds, "tag_ids": []}
            self.ledger.put(sid, Kind.MARKER, [spec.ref], State.PENDING, detail)
            try:
                made = self.api.create_marker(sid, spec.title, spec.seconds, spec.end_seconds,
                                              tid, [])
            except StashRequestError as exc:
                self.ledger.drop(sid, Kind.MARKER, [spec.ref])
                if attempt == 1 and stale_id(exc):
                    self.resolver.refresh()
                    continue
                raise
            self.ledger.replace(sid, Kind.MARKER, spec.ref, str(made["id"]), State.COMMITTED,
                                detail, {"scene": scene.created_at,
                                         "target": str(made.get("created_at") or "")})
            return

    def _target_detail(self, plan: Plan, kind: Kind, ref: str) -> dict[str, Any]:
        f = next((f for f in plan.applied if f.kind == kind and str(f.target_id) == str(ref)),
                 None)
        return {"name": f.name, "category": f.category, "analyzer": f.analyzer} if f else {}

    def _set_studio(self, plan: Plan, scene: SceneState) -> None:
        sid, studio = plan.scene_id, str(plan.set_studio_id)
        now = self.api.scene_studio_id(sid)            # the user may have saved one meanwhile
        if now is not None:
            log.info(f"scene {sid}: it has a studio now (saved meanwhile); the plugin's "
                     "studio stays a suggestion")
            moved = [f for f in plan.applied if f.kind == Kind.STUDIO]
            plan.applied[:] = [f for f in plan.applied if f.kind != Kind.STUDIO]
            plan.suggestions.extend(moved)
            return
        self.ledger.put(sid, Kind.STUDIO, [studio], State.PENDING,
                        self._target_detail(plan, Kind.STUDIO, studio))
        try:
            answer = self.api.set_scene_studio(sid, studio)
        except StashRequestError:
            self.ledger.drop(sid, Kind.STUDIO, [studio])
            raise
        confirmed = _confirmed(answer, sid, "studio")
        if studio in confirmed:
            self.ledger.put(sid, Kind.STUDIO, [studio], State.COMMITTED,
                            identity={"scene": scene.created_at, "target": confirmed[studio]})
        else:
            self.ledger.drop(sid, Kind.STUDIO, [studio])

    def _clear_studio(self, plan: Plan) -> None:
        sid, studio = plan.scene_id, str(plan.clear_studio_id)
        if self.api.scene_studio_id(sid) != studio:     # changed meanwhile: not ours any more
            self.ledger.drop(sid, Kind.STUDIO, [studio])
            return
        self._remove(sid, Kind.STUDIO, [studio], lambda _ids: self.api.set_scene_studio(sid, None))

    def _add_performers(self, plan: Plan, scene: SceneState) -> None:
        sid, ids = plan.scene_id, [str(p) for p in plan.add_performer_ids]
        for attempt in (1, 2):
            for pid in ids:
                self.ledger.put(sid, Kind.PERFORMER, [pid], State.PENDING,
                                self._target_detail(plan, Kind.PERFORMER, pid))
            try:
                answer = self.api.update_scene_performers(sid, ids, "ADD")
            except StashRequestError as exc:
                self.ledger.drop(sid, Kind.PERFORMER, ids)
                if attempt == 1 and stale_id(exc):
                    existing = self.api.performer_ids_existing(ids)
                    gone = [p for p in ids if p not in existing]
                    log.info(f"scene {sid}: performer(s) {', '.join(gone)} no longer exist; "
                             "the others are added")
                    ids = [p for p in ids if p in existing]
                    if ids:
                        continue
                    return
                raise
            confirmed = _confirmed(answer, sid, "performers")
            for pid in ids:
                if pid in confirmed:
                    self.ledger.put(sid, Kind.PERFORMER, [pid], State.COMMITTED,
                                    identity={"scene": scene.created_at, "target": confirmed[pid]})
                else:
                    self.ledger.drop(sid, Kind.PERFORMER, [pid])
            return


def owned_keys(ledger: Ledger, scene_id: str) -> set[tuple[str, str]]:
    """(kind, key) of every tag, studio and performer the plugin owns on the scene now."""
    keys: set[tuple[str, str]] = set()
    for row in ledger.rows(scene_id):
        if row.state != State.COMMITTED:
            continue
        if row.kind == Kind.TAG and row.key:
            keys.add((Kind.TAG, row.key))
        elif row.kind in (Kind.STUDIO, Kind.PERFORMER):
            keys.add((row.kind.value, row.ref))
    return keys


__all__ = ["Writer", "owned_keys", "SceneError"]
