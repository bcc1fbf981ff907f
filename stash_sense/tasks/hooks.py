"""Hooks (mode "hook"): Stash runs them synchronously inside the triggering mutation or scan, so
they load no model, make at most a few small requests and return.

- Scene.Create.Post: with the setting autoTagNew on, the new scene gets the TagMe workflow tag.
  Sprites do not exist yet at that moment (Stash generates them after the hook), so nothing is
  analyzed now: the "Tag TagMe scenes" batch picks the scene up later.
- Scene.Update.Post: when the user adds TagMe to a scene, a "Tag one scene" task is queued.
- Tag.Merge.Post: the user merged tags; the ledger notes where each source went, so a finding
  the plugin wrote as a tag that was merged away follows it to the merge target (no new tag
  beside it, no rejection). No Stash request is made.

Loop guard. Every scene update Stash Sense makes carries clientMutationId "stash_sense"
(stash/api.py) and Stash hands that input to the hook, so the plugin's own updates — the TagMe the
create hook adds, the tags and workflow tags a task writes — are recognised and ignored at once.
Stash's own guard would only stop after 10 rounds. A scene already queued (and not analyzed since)
is not queued again, so saving a scene twice does not run it twice.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import PLUGIN_ID, TAG_SCENE_TASK, log
from ..stash import CLIENT_MUTATION_ID

if TYPE_CHECKING:
    from ..context import Context

ACTIVE_JOB = ("READY", "RUNNING")


def precheck(args: dict[str, Any]) -> dict[str, Any] | None:
    """Answer from the hook's input alone when no Stash request is needed: the plugin's own
    update (every tag a task writes fires this hook), an update that added no tags, a hook we do
    not handle. It runs before anything connects to Stash (app.py's mode table names it as the
    hook's precheck), so these — by far the most frequent hook runs — cost little more than
    starting Python."""
    context = args.get("hookContext") or {}
    kind = str(context.get("type") or "")
    scene_id = str(context.get("id") or "")
    if not scene_id:
        return _result(kind, scene_id, "ignored", "the hook carries no object id")
    if kind == "Scene.Update.Post":
        if own_update(context, scene_id):
            return _result(kind, scene_id, "ignored", "Stash Sense's own update")
        if tags_set_or_added(context, scene_id) is None:
            return _result(kind, scene_id, "ignored", "no tags were added")
        return None
    if kind in ("Scene.Create.Post", "Tag.Merge.Post"):
        return None
    return _result(kind, scene_id, "ignored", f"Stash Sense does not handle {kind or 'this hook'}")


def hook(ctx: Context) -> dict[str, Any]:
    """Mode "hook" (a light mode: stdlib HTTP, no model code)."""
    quick = precheck(ctx.args)
    if quick is not None:
        return quick
    context = ctx.args.get("hookContext") or {}
    scene_id = str(context["id"])
    if context.get("type") == "Scene.Create.Post":
        return scene_created(ctx, scene_id)
    if context.get("type") == "Tag.Merge.Post":
        return tags_merged(ctx, context)
    return scene_updated(ctx, scene_id, context)


def own_update(context: dict[str, Any], scene_id: str) -> bool:
    """True when the update came from Stash Sense itself (its clientMutationId is in the input)."""
    entry = _input_for(context, scene_id)
    return isinstance(entry, dict) and \
        str(entry.get("clientMutationId") or "").startswith(CLIENT_MUTATION_ID)


def tags_set_or_added(context: dict[str, Any], scene_id: str) -> tuple[str, list[str]] | None:
    """("SET" | "ADD", tag ids) when the update put tags on the scene, else None.

    sceneUpdate / scenesUpdate send `tag_ids` as the full list (the scene's tags after the save);
    bulkSceneUpdate sends {"ids": [...], "mode": "ADD" | "SET" | "REMOVE"}."""
    entry = _input_for(context, scene_id)
    if not isinstance(entry, dict):
        return None
    tags = entry.get("tag_ids")
    if isinstance(tags, list):
        return "SET", [str(t) for t in tags]
    if isinstance(tags, dict) and str(tags.get("mode") or "").upper() in ("ADD", "SET"):
        return str(tags["mode"]).upper(), [str(t) for t in tags.get("ids") or []]
    return None


def scene_created(ctx: Context, scene_id: str) -> dict[str, Any]:
    from ..store.review import ReviewMemory  # noqa: PLC0415
    from ..tagging.tags import TagResolver  # noqa: PLC0415
    kind = "Scene.Create.Post"
    settings = ctx.settings
    if not settings.autoTagNew:
        return _result(kind, scene_id, "ignored", "autoTagNew is off")
    from ..store.ledger import Ledger  # noqa: PLC0415
    from ..tagging.apply import Writer  # noqa: PLC0415
    ledger = Ledger(ctx.store)
    resolver = TagResolver(ctx.api, settings.parentTag, ledger)
    tagme = resolver.ensure(settings.tagMeTag, under_parent=False)
    Writer(ctx.api, ctx.store, resolver, ledger).workflow(scene_id, [tagme], [])  # own update
    ReviewMemory(ctx.store).mark_queued(scene_id, None)          # waiting for the batch
    log.info(f"scene {scene_id}: new scene marked {settings.tagMeTag}; the batch task tags it "
             "once its sprite exists")
    return _result(kind, scene_id, "marked", f"added {settings.tagMeTag}")


def scene_updated(ctx: Context, scene_id: str, context: dict[str, Any]) -> dict[str, Any]:
    from ..store.review import ReviewMemory  # noqa: PLC0415
    from ..tagging.tags import TagResolver  # noqa: PLC0415
    kind = "Scene.Update.Post"
    mode, tag_ids = tags_set_or_added(context, scene_id) or ("", [])
    settings = ctx.settings
    tagme = TagResolver(ctx.api, settings.parentTag).find(settings.tagMeTag)
    if tagme is None or tagme not in tag_ids:
        return _result(kind, scene_id, "ignored", f"{settings.tagMeTag} was not added")
    memory = ReviewMemory(ctx.store)
    pending = memory.queued(scene_id)
    if pending is not None:
        if pending.job_id is None and mode == "SET":
            # a new scene marked by the create hook: saving it must not analyze it before its
            # sprite exists; the batch task will
            return _result(kind, scene_id, "ignored", "waiting for the TagMe batch")
        if pending.job_id is not None:
            job = ctx.api.find_job(pending.job_id)
            if job is not None and job.get("status") in ACTIVE_JOB:
                return _result(kind, scene_id, "ignored",
                               f"already queued as job {pending.job_id}")
    job_id = ctx.api.run_plugin_task(PLUGIN_ID, TAG_SCENE_TASK,
                                     {"mode": "tag_scene", "scene_id": scene_id})
    memory.mark_queued(scene_id, job_id)
    log.info(f"scene {scene_id}: {settings.tagMeTag} added; analysis queued as job {job_id}")
    return {**_result(kind, scene_id, "queued", f"{settings.tagMeTag} added"), "job_id": job_id}


def tags_merged(ctx: Context, context: dict[str, Any]) -> dict[str, Any]:
    from ..store.ledger import Ledger  # noqa: PLC0415
    data = context.get("input") or {}
    destination = str(data.get("destination") or context.get("id") or "")
    sources = [str(s) for s in data.get("source") or [] if str(s) != destination]
    if not destination or not sources:
        return _result("Tag.Merge.Post", destination, "ignored", "no source tags in the input")
    Ledger(ctx.store).record_merge(sources, destination)
    log.info(f"tags {', '.join(sources)} merged into {destination}: Stash Sense follows them")
    return {"hook": "Tag.Merge.Post", "tag_id": destination, "action": "recorded",
            "reason": f"{len(sources)} tag(s) merged"}


def _input_for(context: dict[str, Any], scene_id: str) -> Any:
    """The mutation input for this scene (scenesUpdate hands every scene the whole list)."""
    data = context.get("input")
    if isinstance(data, list):
        return next((e for e in data if isinstance(e, dict) and str(e.get("id")) == scene_id),
                    None)
    return data


def _result(kind: str, scene_id: str, action: str, reason: str) -> dict[str, Any]:
    if action == "ignored":
        log.debug(f"hook {kind} scene {scene_id or '?'}: ignored ({reason})")
    return {"hook": kind, "scene_id": scene_id or None, "action": action, "reason": reason}
