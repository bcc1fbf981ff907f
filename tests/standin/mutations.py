"""Mutation resolvers: writes with Stash's semantics, hooks, plugin tasks/operations.

Every write goes through :class:`state.StashState` (which owns the rules and
error messages); this module adds what depends on the request: firing the
``*.Post`` hooks per affected record (Stash runs them synchronously before the
mutation returns) and handing plugin tasks/operations to the pluggable
callbacks with the request lock released (the plugin calls back into us).
"""
from __future__ import annotations

import copy
import secrets

from .filters import StashError, Unsupported
from .resolvers import _ctx, _st
from .state import _apply_bulk


def _hooked(hook_type, action, *, fields=True):
    """Run a write then fire the matching ``*.Post`` hook per affected record (like Stash)."""
    def resolve(_, info, **kwargs):
        result = action(_st(info), **kwargs)
        records = result if isinstance(result, list) else [result]
        raw = kwargs.get("input", kwargs)
        for n, rec in enumerate(records):
            sent = raw[n] if isinstance(raw, list) else raw
            _ctx(info).fire_hook(hook_type, rec["id"], raw,
                                 list(sent) if fields and isinstance(sent, dict) else None)
        return result
    return resolve


def _destroy(hook_type, action, id_of):
    def resolve(_, info, **kwargs):
        ids = id_of(kwargs)
        action(_st(info), ids)
        for i in ids:
            _ctx(info).fire_hook(hook_type, i, kwargs.get("input", ids), None)
        return True
    return resolve


def _legacy_args(args):
    """Deprecated runPluginTask ``args: [PluginArgInput]`` -> map (resolver_mutation_plugin.go)."""
    def value(v):
        if v is None:
            return None
        for key in ("str", "i", "b", "f"):
            if v.get(key) is not None:
                return v[key]
        if v.get("o") is not None:
            return _legacy_args(v["o"])
        if v.get("a") is not None:
            return [value(x) for x in v["a"]]
        return None
    return {a["key"]: value(a.get("value")) for a in args or []}


def run_plugin_task(_, info, plugin_id, task_name=None, description=None, args=None,
                    args_map=None):
    ctx, st = _ctx(info), _st(info)
    task_args = dict(args_map) if args_map is not None else _legacy_args(args)
    job = st.add_job(f"Running plugin task: {description or task_name or plugin_id}",
                     plugin_id=plugin_id, task_name=task_name, args=task_args,
                     _visited=list(ctx.visited))
    if st.on_run_plugin_task is not None:
        with ctx.unlocked():
            st.on_run_plugin_task(job, ctx.cookie)
    return job["id"]


def run_plugin_operation(_, info, plugin_id, args=None):
    """Synchronous; the plugin's ``error`` becomes a GraphQL error (Stash semantics)."""
    ctx, st = _ctx(info), _st(info)
    st.operations.append({"plugin_id": plugin_id, "args": copy.deepcopy(args)})
    if st.on_run_plugin_operation is None:
        raise Unsupported("FakeStash: runPluginOperation called but no on_run_plugin_operation "
                          "is attached (see runner.attach_plugin)")
    with ctx.unlocked():
        try:
            return st.on_run_plugin_operation(dict(args or {}), ctx.cookie)
        except StashError:
            raise
        except Exception as exc:  # the plugin's error string, as Stash reports it
            raise StashError(str(exc)) from exc


def stop_job(_, info, job_id):
    st = _st(info)
    job = st.jobs.get(str(job_id))
    if job is None:
        return True
    if job["status"] == "READY":
        st.set_job(job["id"], status="CANCELLED")
    elif job["status"] == "RUNNING":
        st.set_job(job["id"], status="STOPPING")
        stopper = job.get("_stop")
        if stopper:
            stopper()
    return True


def metadata_generate(_, info, input):  # noqa: A002
    """Recorded and 'finished' at once; a plugin must never wait on it inside a task anyway."""
    st = _st(info)
    job = st.add_job("Generating content", generate_input=copy.deepcopy(input))
    st.set_job(job["id"], status="FINISHED", progress=1.0)
    return job["id"]


def configure_ui(_, info, input=None, partial=None):  # noqa: A002
    st = _st(info)
    with st.lock:
        if input is not None:
            st.ui_config = copy.deepcopy(input)
        if partial is not None:
            st.ui_config.update(copy.deepcopy(partial))
        return copy.deepcopy(st.ui_config)


def generate_api_key(_, info, input):  # noqa: A002
    st = _st(info)
    key = "" if input.get("clear") else "sk-" + secrets.token_hex(16)
    st.set_general_config(apiKey=key)
    return key


def set_plugins_enabled(_, info, enabledMap):  # noqa: N803 - GraphQL argument name
    for p in _st(info).plugins:
        if p["id"] in enabledMap:
            p["enabled"] = bool(enabledMap[p["id"]])
    return True


def _bulk_markers(st, input):  # noqa: A002
    out = []
    for mid in input.get("ids") or []:
        m = st.scene_markers.get(str(mid))
        if m is None:
            raise StashError(f"scene marker with id {mid} not found")
        data = {"id": mid, **{k: input[k] for k in ("title", "primary_tag_id") if k in input}}
        if input.get("tag_ids") is not None:
            data["tag_ids"] = _apply_bulk(m["tag_ids"], input["tag_ids"])
        out.append(st.update_marker(data))
    return out


def _create_performer(st, input):  # noqa: A002 - Stash's argument name
    """performerCreate: a name is required and, with the disambiguation, unique (Stash rules)."""
    from .state import StashError
    name = (input.get("name") or "").strip()
    if not name:
        raise StashError("performer name must not be blank")
    disambiguation = input.get("disambiguation") or None
    for p in st.performers.values():
        if p["name"].lower() == name.lower() and (p.get("disambiguation") or None) == disambiguation:
            raise StashError(f"performer with name '{name}' already exists")
    return st.performers[st.add_performer(name, input.get("alias_list") or [],
                                          disambiguation=disambiguation)]


MUTATION = {
    "tagCreate": _hooked("Tag.Create.Post", lambda st, input: st.create_tag(input), fields=False),
    "tagUpdate": _hooked("Tag.Update.Post", lambda st, input: st.update_tag(input)),
    "bulkTagUpdate": _hooked("Tag.Update.Post", lambda st, input: st.bulk_update_tags(input)),
    "tagDestroy": _destroy("Tag.Destroy.Post", lambda st, ids: [st.destroy_tag(i) for i in ids],
                           lambda kw: [kw["input"]["id"]]),
    "tagsDestroy": _destroy("Tag.Destroy.Post", lambda st, ids: [st.destroy_tag(i) for i in ids],
                            lambda kw: kw["ids"]),
    "tagsMerge": _hooked("Tag.Merge.Post",
                         lambda st, input: st.merge_tags(input["source"], input["destination"]),
                         fields=False),
    "performerCreate": _hooked("Performer.Create.Post", _create_performer, fields=False),
    "sceneUpdate": _hooked("Scene.Update.Post", lambda st, input: st.update_scene(input)),
    "scenesUpdate": _hooked("Scene.Update.Post",
                            lambda st, input: [st.update_scene(i) for i in input]),
    "bulkSceneUpdate": _hooked("Scene.Update.Post",
                               lambda st, input: st.bulk_update_scenes(input)),
    "sceneDestroy": _destroy("Scene.Destroy.Post",
                             lambda st, ids: [st.destroy_scene(i) for i in ids],
                             lambda kw: [kw["input"]["id"]]),
    "scenesDestroy": _destroy("Scene.Destroy.Post",
                              lambda st, ids: [st.destroy_scene(i) for i in ids],
                              lambda kw: kw["input"]["ids"]),
    "sceneMarkerCreate": _hooked("SceneMarker.Create.Post",
                                 lambda st, input: st.create_marker(input), fields=False),
    "sceneMarkerUpdate": _hooked("SceneMarker.Update.Post",
                                 lambda st, input: st.update_marker(input)),
    "bulkSceneMarkerUpdate": _hooked("SceneMarker.Update.Post", _bulk_markers),
    "sceneMarkerDestroy": _destroy("SceneMarker.Destroy.Post",
                                   lambda st, ids: st.destroy_markers(ids), lambda kw: [kw["id"]]),
    "sceneMarkersDestroy": _destroy("SceneMarker.Destroy.Post",
                                    lambda st, ids: st.destroy_markers(ids), lambda kw: kw["ids"]),
    "configurePlugin": lambda _, i, plugin_id, input: _st(i).configure_plugin(plugin_id, input),
    "configureUI": configure_ui,
    "runPluginTask": run_plugin_task,
    "runPluginOperation": run_plugin_operation,
    "stopJob": stop_job,
    "stopAllJobs": lambda _, i: all(stop_job(_, i, j) for j in list(_st(i).jobs)),
    "metadataGenerate": metadata_generate,
    "generateAPIKey": generate_api_key,
    "setPluginsEnabled": set_plugins_enabled,
    "reloadPlugins": lambda _, i: True,
}
