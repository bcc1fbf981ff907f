"""Task `cleanup` ("Clean up Stash Sense data"): make the store true of this Stash database again.
It only forgets; it removes nothing from Stash.

- Scenes deleted in Stash, or whose id now names another scene (its created_at differs from the
  one recorded: a restored or new database), are forgotten: ownership, suggestions, signals,
  status, faces and embeddings kept for them.
- Every ownership record of the remaining scenes is checked for identity (tagging/reconcile.py); one
  whose id now names another item is forgotten, the item left alone.
- Tags the plugin created that are gone, or are other tags now, leave the store's fingerprint, so
  a store that belonged to another database is bound to this one afterwards (tasks stop with
  "another Stash database" until this has run).
- Performers deleted in Stash: their faces (gallery and scene faces) are forgotten.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import log
from ..store.faces import FaceStore
from ..store.ledger import Ledger, State
from ..tagging.reconcile import reconcile
from ..tagging.state import SceneState

if TYPE_CHECKING:
    from ..context import Context

PAGE = 500
# Kept per performer by the faces store, which forgets them its own way (FaceStore.forget_faces).
FACE_TABLES = {"face_gallery", "face_sources", "face_performers", "scene_faces", "face_groups"}


def cleanup(ctx: Context) -> dict[str, Any]:
    api, store = ctx.api, ctx.store
    ledger = Ledger(store)
    forgotten = {"scenes": 0, "owned": 0, "created_tags": 0, "performers": 0}

    scene_ids = sorted(store.scene_ids_with_data(), key=lambda i: (len(i), i))
    existing: dict[str, str] = {}
    for start in range(0, len(scene_ids), PAGE):
        existing.update(api.scene_created_at(scene_ids[start:start + PAGE]))
    ctx.progress.set(0.2)
    recorded = _recorded_scene_identities(store, ledger)
    gone_scenes = []
    for sid in scene_ids:
        identity = existing.get(sid)
        if identity is None or any(r and r != identity for r in recorded.get(sid, ())):
            forgotten["owned"] += len(ledger.rows(sid))
            store.forget_scene(sid)
            gone_scenes.append(sid)
            forgotten["scenes"] += 1
            log.info(f"scene {sid}: {'deleted in Stash' if identity is None else 'another scene now'}"
                     "; what Stash Sense kept about it is forgotten")
    FaceStore(store).forget_faces(scene_ids=gone_scenes)   # gallery faces learned from them
    ctx.progress.set(0.4)

    remaining = ledger.scene_ids()
    for index, sid in enumerate(remaining):
        scene = api.find_scene(sid)
        if scene is None:
            continue
        before = len([r for r in ledger.rows(sid) if r.state != State.RELEASED])
        reconcile(ledger, SceneState.from_stash(scene))
        forgotten["owned"] += before - len([r for r in ledger.rows(sid)
                                            if r.state != State.RELEASED])
        ctx.progress.set(0.4 + 0.4 * (index + 1) / max(len(remaining), 1))

    created = ledger.created_tags()
    found = {}
    for start in range(0, len(created), PAGE):
        found.update(api.tags_by_ids([t for t, _, _ in created[start:start + PAGE]]))
    stale = [tid for tid, _, at in created if (found.get(tid) or {}).get("created_at") != at]
    ledger.forget_created_tags(stale)
    forgotten["created_tags"] = len(stale)

    forgotten["performers"] = _forget_deleted_performers(api, store)
    ctx.progress.set(1.0)
    log.info(f"Stash Sense clean up: forgot {forgotten}")
    return {"forgotten": forgotten, "scenes_checked": len(scene_ids)}


def _recorded_scene_identities(store, ledger: Ledger) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in ledger.all_rows():
        if row.identity.get("scene"):
            out.setdefault(row.scene_id, set()).add(row.identity["scene"])
    for sid, created in store.scene_status.scene_identities().items():
        out.setdefault(sid, set()).add(created)
    return out


def _forget_deleted_performers(api, store) -> int:
    """Performers deleted in Stash: whatever any table keeps per performer."""
    tables = {name for (name,) in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    keyed = [t for t in tables if "performer_id" in
             {r[1] for r in store.db.execute(f"PRAGMA table_info({t})")}]
    ids: set[str] = set()
    for table in keyed:
        ids |= {str(r[0]) for r in store.db.execute(
            f"SELECT DISTINCT performer_id FROM {table} WHERE performer_id IS NOT NULL")}
    if not ids:
        return 0
    existing: set[str] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), PAGE):
        existing |= api.performer_ids_existing(ordered[start:start + PAGE])
    gone = ids - existing
    with store.tx():
        # faces: their gallery and name go, faces that matched them become unknown again
        FaceStore(store).forget_faces(performer_ids=sorted(gone))
        for table in set(keyed) - FACE_TABLES:
            store.db.executemany(f"DELETE FROM {table} WHERE performer_id=?",
                                 [(p,) for p in gone])
    return len(gone)
