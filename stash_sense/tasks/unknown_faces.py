"""Unknown faces the user can name: the task that groups them and the page's light operations.

    task {"mode": "cluster_faces"}                       -> groups faces that matched nobody
    op   {"mode": "face_groups"[, "scene_id": "12"]}     -> open groups, crops and scenes
    op   {"mode": "name_face_group", "group_id": 3, "performer_id": "7"}
    op   {"mode": "name_face_group", "group_id": 3, "new_performer": "Jane Doe"}
    op   {"mode": "ignore_face_group", "group_id": 3}

Naming adds the performer to every scene of the group through the one Writer (ownership ledger:
the scene's undo takes it back) and puts the group's faces into the gallery (source 'group') so
the analyzer recognises that person from then on. A performer is only created when the request
says so (`new_performer`, from the user's click). Operations import neither torch nor
scikit-learn (light modes in app.py); only the clustering task imports scikit-learn.
"""
from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from .. import log
from ..errors import SettingsError
from ..findings import Finding
from ..kinds import Kind
from ..models import faces as face_models
from ..store.faces import FaceGroup, FaceStore, GroupStatus

if TYPE_CHECKING:
    from ..context import Context

CROPS_SHOWN = 8             # face crops per group in the list


def current_model_id(settings) -> str:
    """The embedding network the faces analyzer would use now (nothing loaded or converted)."""
    return face_models.expected_model_id(settings.faceWeights, settings.model_dir)


# ---- task -------------------------------------------------------------------------------------
def cluster_faces(ctx: Context) -> dict[str, Any]:
    from ..faces.groups import MIN_SIZE, groups_of  # noqa: PLC0415 - scikit-learn
    from ..faces.match import rule_for  # noqa: PLC0415 - numpy
    model_id = current_model_id(ctx.settings)
    faces = FaceStore(ctx.store)
    unknown = faces.unknown_faces(model_id)
    groups = groups_of(unknown, rule_for(model_id).threshold, MIN_SIZE)
    ids = faces.replace_open_groups(model_id, groups)
    grouped = sum(len(g) for g in groups)
    log.info(f"unknown faces ({model_id}): {len(unknown)} faces, {len(groups)} group(s) of at "
             f"least {MIN_SIZE}, {len(unknown) - grouped} faces in no group")
    ctx.progress.set(1.0)
    return {"model": model_id, "faces": len(unknown), "groups": len(groups),
            "grouped_faces": grouped, "group_ids": ids}


# ---- operations (light) -----------------------------------------------------------------------
def face_groups(ctx: Context) -> dict[str, Any]:
    faces = FaceStore(ctx.store)
    model_id = current_model_id(ctx.settings)
    sid = ctx.args.get("scene_id")
    out = []
    for g in faces.groups(model_id, GroupStatus.OPEN.value, str(sid) if sid else None):
        crops = [(f, f.crop) for f in faces.group_faces(g.group_id, embeddings=False)
                 if f.crop][:CROPS_SHOWN]
        out.append({"group_id": g.group_id, "size": g.size, "scene_ids": list(g.scene_ids),
                    "faces": [{"scene_id": f.scene_id, "time": f.time,
                               "crop": "data:image/jpeg;base64,"
                                       + base64.b64encode(crop).decode("ascii")}
                              for f, crop in crops]})
    return {"model": model_id, "groups": out}


def name_face_group(ctx: Context) -> dict[str, Any]:
    from ..store.ledger import Ledger  # noqa: PLC0415
    from ..tagging.apply import Writer  # noqa: PLC0415
    from ..tagging.plan import Plan  # noqa: PLC0415
    from ..tagging.reconcile import check_database, reconcile  # noqa: PLC0415
    from ..tagging.state import SceneState  # noqa: PLC0415
    from ..tagging.tags import TagResolver  # noqa: PLC0415
    faces, group = _open_group(ctx)
    api, args = ctx.api, ctx.args
    ledger = Ledger(ctx.store)
    check_database(api, ledger, ctx.store.path)     # another Stash database: stop before writing
    new_name = (args.get("new_performer") or "").strip()
    if new_name:
        performer = api.create_performer(new_name)          # the user asked for it by name
        log.info(f"created performer {performer['name']} ({performer['id']}) for face group "
                 f"{group.group_id}")
    else:
        pid = str(args.get("performer_id") or "").strip()
        if not pid:
            raise SettingsError("name_face_group needs performer_id or new_performer")
        found = api.find_performer(pid)
        if found is None:
            raise SettingsError(f"performer {pid} does not exist in Stash")
        performer = found
    pid = str(performer["id"])
    writer = Writer(api, ctx.store, TagResolver(api, ctx.settings.parentTag, ledger), ledger)
    added = []
    for sid in group.scene_ids:
        scene = api.find_scene(sid)
        if scene is None:
            continue                                          # deleted since: nothing to do
        if pid in {str(p["id"]) for p in scene.get("performers") or []}:
            continue                                          # already on the scene
        state = SceneState.from_stash(scene)
        reconcile(ledger, state)                              # what a killed run left half-done
        finding = Finding(Kind.PERFORMER, performer["name"], "faces", "performers", 1.0,
                          target_id=pid, detail={"face_group": group.group_id})
        writer.apply(Plan(scene_id=str(sid), add_performer_ids=[pid], applied=[finding]),
                     state, sync_suggestions=False)
        added.append(str(sid))
    learned = faces.group_to_gallery(group.group_id, pid)
    faces.set_group_status(group.group_id, GroupStatus.NAMED, pid)
    faces.set_names([(pid, performer["name"])])
    log.info(f"face group {group.group_id} is {performer['name']}: added to {len(added)} "
             f"scene(s), {learned} faces into the gallery")
    return {"group_id": group.group_id, "performer_id": pid, "name": performer["name"],
            "created": bool(new_name), "scenes_added": added, "gallery_faces": learned}


def ignore_face_group(ctx: Context) -> dict[str, Any]:
    faces, group = _open_group(ctx)
    faces.set_group_status(group.group_id, GroupStatus.IGNORED)
    return {"group_id": group.group_id, "status": GroupStatus.IGNORED.value}


def _open_group(ctx: Context) -> tuple[FaceStore, FaceGroup]:
    try:
        gid = int(str(ctx.args.get("group_id")).strip())
    except (TypeError, ValueError):
        raise SettingsError("group_id must be a face group's number") from None
    faces = FaceStore(ctx.store)
    group = faces.group(gid)
    if group is None:
        raise SettingsError(f"face group {gid} does not exist (run 'Group unknown faces' again)")
    if group.status is not GroupStatus.OPEN:
        raise SettingsError(f"face group {gid} was already {group.status}")
    return faces, group
