"""GraphQL resolvers binding Stash's SDL to the in-memory state.

Resolvers are stateless: everything comes from ``info.context`` (a
:class:`RequestContext`), so one executable schema is built per process and
shared by every FakeStash.  Three layers:

* ``default_resolver`` — reads the field from the record dict; when a NON-NULL
  field has no value it returns a plausible default of the right type (never
  ``None``, which graphql-core would turn into a confusing error), lists
  default to ``[]``;
* per-type resolvers for relations and computed fields (``Scene.paths``...);
* root Query resolvers here, Mutation resolvers in :mod:`mutations`; a root
  field without one raises "not implemented" rather than returning fake data.
"""
from __future__ import annotations

import copy
import os
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
)

from . import queries
from .filters import StashError, Unsupported
from .schema import load_schema

if TYPE_CHECKING:
    from .server import RequestContext

EPOCH = "1970-01-01T00:00:00Z"
_SCALAR_DEFAULTS = {"String": "", "ID": "0", "Int": 0, "Float": 0.0, "Boolean": False,
                    "Time": EPOCH, "Timestamp": EPOCH, "Int64": 0, "Map": {}, "Any": {},
                    "BoolMap": {}, "PluginConfigMap": {}}
_MISSING = object()


# ------------------------------------------------------------------ defaults
def default_for(gtype, schema: GraphQLSchema):
    """A valid value for a non-null field the stand-in has no data for."""
    if isinstance(gtype, GraphQLNonNull):
        gtype = gtype.of_type
    if isinstance(gtype, GraphQLList):
        return []
    if isinstance(gtype, GraphQLEnumType):
        return next(iter(gtype.values.values())).value
    if isinstance(gtype, GraphQLScalarType):
        return copy.copy(_SCALAR_DEFAULTS.get(gtype.name, ""))
    if isinstance(gtype, (GraphQLInterfaceType, GraphQLUnionType)):
        return {"__typename": schema.get_possible_types(gtype)[0].name}
    return {}                                     # object: its fields default in turn


def default_resolver(source, info, **_args):
    value = source.get(info.field_name, _MISSING) if isinstance(source, dict) \
        else getattr(source, info.field_name, _MISSING)
    if value is _MISSING or value is None:
        rtype = info.return_type
        inner = rtype.of_type if isinstance(rtype, GraphQLNonNull) else rtype
        if isinstance(rtype, GraphQLNonNull) or isinstance(inner, GraphQLList):
            return default_for(rtype, info.schema)
        return None
    return value


# ------------------------------------------------------------------ helpers
def _ctx(info) -> RequestContext:
    return info.context


def _st(info):
    return info.context.stash


def _unix(ts: str) -> int:
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())


def _int_id(value) -> int:
    """Stash parses IDs with strconv.Atoi; a non-numeric id is an error, not 'not found'."""
    try:
        return int(str(value))
    except ValueError:
        raise StashError(f'strconv.Atoi: parsing "{value}": invalid syntax') from None


def _by_name(records):
    return sorted(records, key=lambda r: ((r.get("sort_name") or r["name"]).lower(), int(r["id"])))


def _get(table: dict, id_):
    return table.get(str(_int_id(id_))) if id_ is not None else None


# ------------------------------------------------------------------ types
def scene_files(scene, info):
    f, st = scene["_file"], _st(info)
    prints = [{"type": "oshash", "value": scene["_oshash"]}, {"type": "md5", "value": scene["_checksum"]}]
    if scene.get("_phash"):
        prints.append({"type": "phash", "value": scene["_phash"]})
    folder = {"id": f["parent_folder_id"], "path": os.path.dirname(f["path"]),
              "mod_time": f["mod_time"], "created_at": f["created_at"], "updated_at": f["updated_at"]}
    with st.lock:
        return [{**f, "__typename": "VideoFile", "fingerprints": prints, "parent_folder": folder}]


def file_fingerprint(file, info, type):  # noqa: A002 - GraphQL argument name
    return next((p["value"] for p in file["fingerprints"] if p["type"] == type), None)


def scene_paths(scene, info):
    """internal/api/resolver_model_scene.go Paths (+ urlbuilders/scene.go)."""
    base, st = _ctx(info).base_url, _st(info)
    sid, h = scene["id"], st.scene_hash(scene)
    stream = f"{base}/scene/{sid}/stream"
    if st.api_key:
        stream += f"?apikey={st.api_key}"
    return {"screenshot": f"{base}/scene/{sid}/screenshot?t={_unix(scene['updated_at'])}",
            "preview": f"{base}/scene/{sid}/preview", "stream": stream,
            "webp": f"{base}/scene/{sid}/webp", "vtt": f"{base}/scene/{h}_thumbs.vtt",
            "sprite": f"{base}/scene/{h}_sprite.jpg", "funscript": f"{base}/scene/{sid}/funscript",
            "interactive_heatmap": f"{base}/scene/{sid}/interactive_heatmap",
            "caption": f"{base}/scene/{sid}/caption"}


def scene_streams(scene, info):
    return [{"url": scene_paths(scene, info)["stream"], "mime_type": "video/mp4",
             "label": "Direct stream"}]


def _image_path(kind: str, rec: dict, info) -> str:
    url = f"{_ctx(info).base_url}/{kind}/{rec['id']}/image?t={_unix(rec['updated_at'])}"
    return url if rec.get("_image") is not None else url + "&default=true"


def _scene_markers(st, scene_id):
    return sorted((m for m in st.scene_markers.values() if m["scene_id"] == scene_id),
                  key=lambda m: (m["seconds"], int(m["id"])))


def _tag_scene_count(tag, info, depth=None):
    st = _st(info)
    ids = st.expand_tag(tag["id"], depth or 0)
    return sum(bool(ids & set(s["tag_ids"])) for s in st.scenes.values())


def _tag_marker_count(tag, info, depth=None):
    st = _st(info)
    ids = st.expand_tag(tag["id"], depth or 0)
    return sum(bool(ids & {m["primary_tag_id"], *m["tag_ids"]}) for m in st.scene_markers.values())


def _marker_url(marker, info, what):
    return f"{_ctx(info).base_url}/scene/{marker['scene_id']}/scene_marker/{marker['id']}/{what}"


def _first_url(rec, info):
    return (rec.get("urls") or [None])[0]


TYPE_RESOLVERS = {
    "Scene": {
        "tags": lambda s, i: _by_name(_st(i).tags[t] for t in s["tag_ids"] if t in _st(i).tags),
        "performers": lambda s, i: _by_name(_st(i).performers[p] for p in s["performer_ids"]
                                            if p in _st(i).performers),
        "studio": lambda s, i: _st(i).studios.get(s["studio_id"]) if s["studio_id"] else None,
        "scene_markers": lambda s, i: _scene_markers(_st(i), s["id"]),
        "files": scene_files, "paths": scene_paths, "sceneStreams": scene_streams,
        "url": _first_url,
    },
    "VideoFile": {"fingerprint": file_fingerprint},
    "Tag": {
        "parents": lambda t, i: _by_name(_st(i).tags[p] for p in t["parent_ids"] if p in _st(i).tags),
        "children": lambda t, i: _by_name(_st(i).tags[c] for c in _st(i).tag_children(t["id"])),
        "parent_count": lambda t, i: len(t["parent_ids"]),
        "child_count": lambda t, i: len(_st(i).tag_children(t["id"])),
        "scene_count": _tag_scene_count, "scene_marker_count": _tag_marker_count,
        "performer_count": lambda t, i, depth=None: sum(
            t["id"] in p["tag_ids"] for p in _st(i).performers.values()),
        "studio_count": lambda t, i, depth=None: sum(
            t["id"] in s["tag_ids"] for s in _st(i).studios.values()),
        "image_path": lambda t, i: _image_path("tag", t, i),
    },
    "SceneMarker": {
        "scene": lambda m, i: _st(i).scenes[m["scene_id"]],
        "primary_tag": lambda m, i: _st(i).tags[m["primary_tag_id"]],
        "tags": lambda m, i: _by_name(_st(i).tags[t] for t in m["tag_ids"] if t in _st(i).tags),
        "stream": lambda m, i: _marker_url(m, i, "stream"),
        "preview": lambda m, i: _marker_url(m, i, "preview"),
        "screenshot": lambda m, i: _marker_url(m, i, "screenshot"),
    },
    "Studio": {
        "parent_studio": lambda s, i: _st(i).studios.get(s["parent_id"]) if s["parent_id"] else None,
        "child_studios": lambda s, i: _by_name(c for c in _st(i).studios.values()
                                               if c["parent_id"] == s["id"]),
        "tags": lambda s, i: _by_name(_st(i).tags[t] for t in s["tag_ids"] if t in _st(i).tags),
        "scene_count": lambda s, i, depth=None: sum(
            sc["studio_id"] in _st(i).expand_studio(s["id"], depth or 0)
            for sc in _st(i).scenes.values()),
        "image_path": lambda s, i: _image_path("studio", s, i), "url": _first_url,
    },
    "Performer": {
        "tags": lambda p, i: _by_name(_st(i).tags[t] for t in p["tag_ids"] if t in _st(i).tags),
        "scenes": lambda p, i: [s for s in _st(i).scenes.values() if p["id"] in s["performer_ids"]],
        "scene_count": lambda p, i: sum(p["id"] in s["performer_ids"] for s in _st(i).scenes.values()),
        "image_path": lambda p, i: _image_path("performer", p, i), "url": _first_url,
    },
    "ConfigResult": {"plugins": lambda c, i, include=None: _st(i).plugins_config(include)},
}


# ------------------------------------------------------------------ queries
def _result(kind, table_name, list_key, flt, ff, ids):
    def run(info):
        st = _st(info)
        count, page = queries.find(st, kind, getattr(st, table_name), flt, ff, ids)
        return {"count": count, list_key: page}
    return run


def find_scenes(_, info, scene_filter=None, scene_ids=None, ids=None, filter=None):  # noqa: A002
    st = _st(info)
    wanted = ids if ids is not None else scene_ids
    count, page = queries.find(st, "scene", st.scenes, scene_filter, filter, wanted)
    everything = queries.find(st, "scene", st.scenes, scene_filter, {"per_page": -1}, wanted)[1]
    return {"count": count, "scenes": page,
            "duration": sum(s["_file"]["duration"] for s in everything),
            "filesize": float(sum(s["_file"]["size"] for s in everything))}


def _finder(kind, table_name, list_key, filter_arg):
    def resolve(_, info, filter=None, ids=None, performer_ids=None, **kw):  # noqa: A002
        wanted = ids if ids is not None else performer_ids
        return _result(kind, table_name, list_key, kw.get(filter_arg), filter, wanted)(info)
    return resolve


def configuration(_, info):
    st = _st(info)
    with st.lock:
        return {"general": copy.deepcopy(st.general), "interface": {}, "dlna": {}, "scraping": {},
                "defaults": {}, "ui": copy.deepcopy(st.ui_config)}


def system_status(_, info):
    st = _st(info)
    return {"databaseSchema": 75, "databasePath": st.general["databasePath"],
            "configPath": st.general["configFilePath"], "appSchema": 75, "status": "OK",
            "os": "linux", "workingDir": os.getcwd(), "homeDir": os.path.expanduser("~"),
            "ffmpegPath": st.general["ffmpegPath"] or None,
            "ffprobePath": st.general["ffprobePath"] or None}


def find_scene(_, info, id=None, checksum=None):  # noqa: A002
    st = _st(info)
    if id is not None:
        return _get(st.scenes, id)
    return next((s for s in st.scenes.values() if s["_checksum"] == checksum), None)


def find_scene_by_hash(_, info, input):  # noqa: A002
    return next((s for s in _st(info).scenes.values()
                 if (input.get("oshash") and s["_oshash"] == input["oshash"])
                 or (input.get("checksum") and s["_checksum"] == input["checksum"])), None)


def scene_marker_tags(_, info, scene_id):
    st, groups = _st(info), {}
    for m in _scene_markers(st, str(_int_id(scene_id))):
        groups.setdefault(m["primary_tag_id"], []).append(m)
    return [{"tag": st.tags[t], "scene_markers": ms} for t, ms in groups.items()]


QUERY = {
    "version": lambda _, i: dict(_st(i).version_info),
    "systemStatus": system_status,
    "configuration": configuration,
    "findScene": find_scene,
    "findSceneByHash": find_scene_by_hash,
    "findScenes": find_scenes,
    "findTag": lambda _, i, id: _get(_st(i).tags, id),  # noqa: A002
    "findTags": _finder("tag", "tags", "tags", "tag_filter"),
    "findStudio": lambda _, i, id: _get(_st(i).studios, id),  # noqa: A002
    "findStudios": _finder("studio", "studios", "studios", "studio_filter"),
    "findPerformer": lambda _, i, id: _get(_st(i).performers, id),  # noqa: A002
    "findPerformers": _finder("performer", "performers", "performers", "performer_filter"),
    "findSceneMarkers": _finder("marker", "scene_markers", "scene_markers", "scene_marker_filter"),
    "sceneMarkerTags": scene_marker_tags,
    "findJob": lambda _, i, input: _st(i).jobs.get(str(input["id"])),  # noqa: A002
    "jobQueue": lambda _, i: [j for j in _st(i).jobs.values()
                              if j["status"] in ("READY", "RUNNING", "STOPPING")],
    "plugins": lambda _, i: list(_st(i).plugins),
    "pluginTasks": lambda _, i: [t for p in _st(i).plugins for t in p["tasks"]],
    "allScenes": lambda _, i: list(_st(i).scenes.values()),
    "allTags": lambda _, i: list(_st(i).tags.values()),
    "allStudios": lambda _, i: list(_st(i).studios.values()),
    "allPerformers": lambda _, i: list(_st(i).performers.values()),
    "allSceneMarkers": lambda _, i: list(_st(i).scene_markers.values()),
    "logs": lambda _, i: [],
}


# ------------------------------------------------------------------ binding
def _root(type_name, field_name, fn):
    """Root wrapper: fault injection, id parsing errors and 'not implemented'."""
    def resolve(source, info, **kwargs):
        ctx = _ctx(info)
        op_name = info.operation.name.value if info.operation.name else None
        ctx.stash.take_fault(op_name, field_name)
        if fn is None:
            raise Unsupported(f"FakeStash: {type_name}.{field_name} is not implemented")
        return fn(source, info, **kwargs)
    return resolve


@cache
def executable_schema(schema_dir: str | None = None) -> GraphQLSchema:
    """Build once per process: SDL + resolvers (resolvers are stateless)."""
    from .mutations import MUTATION  # mutations.py imports helpers from this module
    schema = load_schema(schema_dir)
    for root_name, table in (("Query", QUERY), ("Mutation", MUTATION)):
        root = schema.type_map[root_name]
        for name, field in root.fields.items():
            field.resolve = _root(root_name, name, table.get(name))
    for type_name, fields in TYPE_RESOLVERS.items():
        gtype = schema.type_map[type_name]
        assert isinstance(gtype, GraphQLObjectType), type_name
        for name, fn in fields.items():
            gtype.fields[name].resolve = fn
    return schema
