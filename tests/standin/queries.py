"""The find* queries: which records match a Stash filter, in which order.

Each entity has a table of criterion handlers keyed by the GraphQL filter
field name.  A field that is not in the table raises ``Unsupported`` so a
plugin test never passes because a criterion was silently dropped.
"""
from __future__ import annotations

from collections.abc import Callable

from .filters import (
    StashError,
    Unsupported,
    combine,
    matches_q,
    multi_criterion,
    number_criterion,
    sort_and_page,
    string_criterion,
)
from .state import StashState

Handler = Callable[[StashState, dict, object], bool]


def _s(key):
    return lambda st, r, c: string_criterion([r.get(key)], c)


def _n(getter):
    return lambda st, r, c: number_criterion(getter(st, r), c)


def _b(key):
    return lambda st, r, c: bool(r.get(key)) == c


def _missing(checks: dict[str, Callable[[StashState, dict], bool]]) -> Handler:
    def handler(st, r, value):
        if value not in checks:
            raise Unsupported(f"FakeStash: is_missing '{value}' not supported")
        return checks[value](st, r)
    return handler


def _related(ids_of: Callable[[StashState, dict], list[str]], table: str, matcher_name: str) -> Handler:
    """``*_filter`` sub-filters: match when ANY related record matches the sub-filter."""
    def handler(st, r, sub):
        matcher = MATCHERS[matcher_name]
        records = getattr(st, table)
        return any(matcher(st, records[i], sub) for i in ids_of(st, r) if i in records)
    return handler


def _scene_count(st: StashState, tag_id: str) -> int:
    return sum(tag_id in s["tag_ids"] for s in st.scenes.values())


def _climb(st: StashState, tag: dict, crit: dict, down: bool) -> bool:
    """TagFilterType parents/children: relatives up to depth+1 levels (-1 = all)."""
    depth = crit.get("depth") or 0
    levels = -1 if depth < 0 else depth + 1
    walk = st.tag_descendants if down else st.tag_ancestors
    return multi_criterion(walk(tag["id"], levels), {**crit, "depth": 0})


def _file(r):
    return r["_file"]


SCENE: dict[str, Handler] = {
    "id": _n(lambda st, r: int(r["id"])),
    "title": _s("title"), "code": _s("code"), "details": _s("details"), "director": _s("director"),
    "oshash": lambda st, r, c: string_criterion([r["_oshash"]], c),
    "checksum": lambda st, r, c: string_criterion([r["_checksum"]], c),
    "phash": lambda st, r, c: string_criterion([r.get("_phash")], c),
    "path": lambda st, r, c: string_criterion([_file(r)["path"]], c),
    "url": lambda st, r, c: string_criterion(r["urls"], c),
    "video_codec": lambda st, r, c: string_criterion([_file(r)["video_codec"]], c),
    "audio_codec": lambda st, r, c: string_criterion([_file(r)["audio_codec"]], c),
    "organized": _b("organized"), "interactive": _b("interactive"),
    "rating100": _n(lambda st, r: r["rating100"]),
    "o_counter": _n(lambda st, r: r["o_counter"]),
    "play_count": _n(lambda st, r: r["play_count"]),
    "resume_time": _n(lambda st, r: r["resume_time"]),
    "play_duration": _n(lambda st, r: r["play_duration"]),
    "duration": _n(lambda st, r: _file(r)["duration"]),
    "framerate": _n(lambda st, r: _file(r)["frame_rate"]),
    "bitrate": _n(lambda st, r: _file(r)["bit_rate"]),
    "file_count": _n(lambda st, r: 1),
    "tag_count": _n(lambda st, r: len(r["tag_ids"])),
    "performer_count": _n(lambda st, r: len(r["performer_ids"])),
    "tags": lambda st, r, c: multi_criterion(r["tag_ids"], c, st.expand_tag),
    "studios": lambda st, r, c: multi_criterion([r["studio_id"]] if r["studio_id"] else [],
                                                c, st.expand_studio),
    "performers": lambda st, r, c: multi_criterion(r["performer_ids"], c),
    "galleries": lambda st, r, c: multi_criterion(r["gallery_ids"], c),
    "has_markers": lambda st, r, c: any(m["scene_id"] == r["id"] for m in
                                        st.scene_markers.values()) == (c == "true"),
    "is_missing": _missing({
        "title": lambda st, r: not (r["title"] or "").strip(),
        "details": lambda st, r: not (r["details"] or "").strip(),
        "url": lambda st, r: not r["urls"], "date": lambda st, r: not r["date"],
        "studio": lambda st, r: not r["studio_id"],
        "performers": lambda st, r: not r["performer_ids"],
        "tags": lambda st, r: not r["tag_ids"],
        "galleries": lambda st, r: not r["gallery_ids"],
        "stash_id": lambda st, r: not r["stash_ids"],
        "cover": lambda st, r: r.get("_screenshot") is None,
    }),
    "tags_filter": _related(lambda st, r: r["tag_ids"], "tags", "tag"),
    "performers_filter": _related(lambda st, r: r["performer_ids"], "performers", "performer"),
    "studios_filter": _related(lambda st, r: [r["studio_id"]] if r["studio_id"] else [],
                               "studios", "studio"),
}

TAG: dict[str, Handler] = {
    "name": _s("name"), "sort_name": _s("sort_name"), "description": _s("description"),
    "aliases": lambda st, r, c: string_criterion(r["aliases"], c),
    "favorite": _b("favorite"), "ignore_auto_tag": _b("ignore_auto_tag"),
    "parents": lambda st, r, c: _climb(st, r, c, down=False),
    "children": lambda st, r, c: _climb(st, r, c, down=True),
    "parent_count": _n(lambda st, r: len(r["parent_ids"])),
    "child_count": _n(lambda st, r: len(st.tag_children(r["id"]))),
    "scene_count": _n(lambda st, r: _scene_count(st, r["id"])),
    "marker_count": _n(lambda st, r: sum(r["id"] == m["primary_tag_id"] or r["id"] in m["tag_ids"]
                                         for m in st.scene_markers.values())),
    "is_missing": _missing({"image": lambda st, r: r.get("_image") is None,
                            "aliases": lambda st, r: not r["aliases"],
                            "description": lambda st, r: not (r["description"] or "")}),
}

STUDIO: dict[str, Handler] = {
    "name": _s("name"), "details": _s("details"),
    "aliases": lambda st, r, c: string_criterion(r["aliases"], c),
    "url": lambda st, r, c: string_criterion(r["urls"], c),
    "favorite": _b("favorite"), "ignore_auto_tag": _b("ignore_auto_tag"),
    "rating100": _n(lambda st, r: r["rating100"]),
    "parents": lambda st, r, c: multi_criterion([r["parent_id"]] if r["parent_id"] else [], c),
    "tags": lambda st, r, c: multi_criterion(r["tag_ids"], c, st.expand_tag),
    "tag_count": _n(lambda st, r: len(r["tag_ids"])),
    "scene_count": _n(lambda st, r: sum(s["studio_id"] == r["id"] for s in st.scenes.values())),
    "child_count": _n(lambda st, r: sum(s["parent_id"] == r["id"] for s in st.studios.values())),
    "is_missing": _missing({"image": lambda st, r: r.get("_image") is None,
                            "details": lambda st, r: not (r["details"] or "")}),
}


def _gender(st, r, c):
    if c.get("value_list"):
        ok = r.get("gender") in c["value_list"]
        return ok if c["modifier"] in ("INCLUDES", "EQUALS") else not ok
    mod = c["modifier"]
    if mod == "IS_NULL":
        return r.get("gender") is None
    if mod == "NOT_NULL":
        return r.get("gender") is not None
    return (r.get("gender") == c.get("value")) == (mod == "EQUALS")


PERFORMER: dict[str, Handler] = {
    "name": _s("name"), "disambiguation": _s("disambiguation"), "details": _s("details"),
    "aliases": lambda st, r, c: string_criterion(r["alias_list"], c),
    "url": lambda st, r, c: string_criterion(r["urls"], c),
    "gender": _gender, "filter_favorites": _b("favorite"), "ignore_auto_tag": _b("ignore_auto_tag"),
    "rating100": _n(lambda st, r: r["rating100"]),
    "tags": lambda st, r, c: multi_criterion(r["tag_ids"], c, st.expand_tag),
    "tag_count": _n(lambda st, r: len(r["tag_ids"])),
    "scene_count": _n(lambda st, r: sum(r["id"] in s["performer_ids"] for s in st.scenes.values())),
    "is_missing": _missing({"image": lambda st, r: r.get("_image") is None}),
}


def _marker_scene(st: StashState, m: dict) -> dict:
    return st.scenes[m["scene_id"]]


MARKER: dict[str, Handler] = {
    "scenes": lambda st, r, c: multi_criterion([r["scene_id"]], c),
    "tags": lambda st, r, c: multi_criterion([r["primary_tag_id"], *r["tag_ids"]], c, st.expand_tag),
    "scene_tags": lambda st, r, c: multi_criterion(_marker_scene(st, r)["tag_ids"], c, st.expand_tag),
    "performers": lambda st, r, c: multi_criterion(_marker_scene(st, r)["performer_ids"], c),
    "duration": _n(lambda st, r: None if r["end_seconds"] is None else r["end_seconds"] - r["seconds"]),
    "scene_filter": lambda st, r, c: matches(st, "scene", _marker_scene(st, r), c),
}

HANDLERS = {"scene": SCENE, "tag": TAG, "studio": STUDIO, "performer": PERFORMER, "marker": MARKER}


def matches(st: StashState, kind: str, rec: dict, flt: dict | None) -> bool:
    """Evaluate a *FilterType (criteria AND'ed, then one AND/OR/NOT sub-filter)."""
    if not flt:
        return True
    handlers = HANDLERS[kind]
    own, has_own = True, False
    for key, crit in flt.items():
        if key in ("AND", "OR", "NOT") or crit is None:
            continue
        if key not in handlers:
            raise Unsupported(f"FakeStash: {kind} filter field '{key}' not supported")
        has_own = True
        own = handlers[key](st, rec, crit) and own
    subs = {op: matches(st, kind, rec, flt[op]) if flt.get(op) is not None else None
            for op in ("AND", "OR", "NOT")}
    if subs["OR"] is not None and not has_own and subs["AND"] is None and subs["NOT"] is None:
        return subs["OR"]
    return combine(own, subs)


MATCHERS = {k: (lambda st, r, f, _k=k: matches(st, _k, r, f)) for k in HANDLERS}

# ------------------------------------------------------------------ sorting

def _lower(v):
    return (v or "").lower()


SORTS = {
    "scene": {
        "id": lambda r: int(r["id"]), "created_at": lambda r: r["created_at"],
        "updated_at": lambda r: r["updated_at"], "date": lambda r: r["date"],
        "title": lambda r: _lower(r["title"] or r["_file"]["basename"]),
        "rating": lambda r: r["rating100"], "rating100": lambda r: r["rating100"],
        "duration": lambda r: r["_file"]["duration"], "path": lambda r: r["_file"]["path"],
        "filesize": lambda r: r["_file"]["size"], "organized": lambda r: r["organized"],
        "o_counter": lambda r: r["o_counter"], "play_count": lambda r: r["play_count"],
        "tag_count": lambda r: len(r["tag_ids"]), "performer_count": lambda r: len(r["performer_ids"]),
        "code": lambda r: r["code"], "framerate": lambda r: r["_file"]["frame_rate"],
        "bitrate": lambda r: r["_file"]["bit_rate"], "last_played_at": lambda r: r["last_played_at"],
    },
    "tag": {"id": lambda r: int(r["id"]), "name": lambda r: _lower(r["sort_name"] or r["name"]),
            "created_at": lambda r: r["created_at"], "updated_at": lambda r: r["updated_at"]},
    "studio": {"id": lambda r: int(r["id"]), "name": lambda r: _lower(r["name"]),
               "created_at": lambda r: r["created_at"], "updated_at": lambda r: r["updated_at"],
               "rating": lambda r: r["rating100"]},
    "performer": {"id": lambda r: int(r["id"]), "name": lambda r: _lower(r["name"]),
                  "created_at": lambda r: r["created_at"], "updated_at": lambda r: r["updated_at"],
                  "rating": lambda r: r["rating100"]},
    "marker": {"id": lambda r: int(r["id"]), "title": lambda r: _lower(r["title"]),
               "seconds": lambda r: r["seconds"], "created_at": lambda r: r["created_at"],
               "updated_at": lambda r: r["updated_at"], "scene_id": lambda r: int(r["scene_id"])},
}
DEFAULT_SORT = {"scene": "title", "tag": "name", "studio": "name", "performer": "name",
                "marker": "title"}


def _q_columns(st: StashState, kind: str, r: dict) -> list:
    if kind == "scene":
        markers = [m["title"] for m in st.scene_markers.values() if m["scene_id"] == r["id"]]
        return [r["title"], r["details"], r["code"], r["_file"]["path"], r["_oshash"],
                r["_checksum"], *markers]
    if kind == "tag":
        return [r["name"], *r["aliases"]]
    if kind == "studio":
        return [r["name"], *r["aliases"]]
    if kind == "performer":
        return [r["name"], r["disambiguation"], *r["alias_list"]]
    return [r["title"], st.scenes[r["scene_id"]]["title"]]


def find(st: StashState, kind: str, table: dict, flt: dict | None, ff: dict | None,
         ids=None) -> tuple[int, list[dict]]:
    """Filter + q + ids restriction, then FindFilterType sort/paging -> (count, page)."""
    with st.lock:
        q = (ff or {}).get("q")
        wanted = None if ids is None else {str(i) for i in ids}
        hits = [r for r in table.values()
                if (wanted is None or r["id"] in wanted)
                and matches_q(_q_columns(st, kind, r), q) and matches(st, kind, r, flt)]
        return sort_and_page(hits, ff, DEFAULT_SORT[kind], SORTS[kind])


__all__ = ["find", "matches", "StashError", "Unsupported"]
