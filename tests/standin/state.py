"""In-memory Stash data and the write semantics Stash enforces.

Records are plain dicts whose keys mirror the GraphQL field names, so the
generic resolver can serve most fields straight from them; relations are
stored as id lists (``tag_ids``, ``performer_ids``, ``studio_id``...) and
resolved on read.  Keys starting with ``_`` are stand-in internals (sprite
bytes, file info, hashes).  Ids are strings of increasing integers with a
separate counter per type, like Stash's SQLite rowids.

Error messages are copied from Stash's Go code where a plugin might match on
them (tag uniqueness, marker end_seconds, not-found ids).
"""
from __future__ import annotations

import copy
import functools
import hashlib
import os
import tempfile
import threading
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from .filters import StashError, nocase_equal

UTC = timezone.utc


def locked(fn):
    """Serialise access: the HTTP server is threaded and tests seed concurrently."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return fn(self, *args, **kwargs)
    return wrapper


def _dedupe(ids) -> list[str]:
    return list(dict.fromkeys(str(i) for i in ids or ()))


def _apply_bulk(current: list[str], update: dict | None) -> list[str]:
    """BulkUpdateIds / BulkUpdateStrings: SET replaces, ADD appends, REMOVE drops."""
    if update is None:
        return current
    mode = update["mode"]
    given = _dedupe(update.get("ids", update.get("values")) or [])
    if mode == "SET":
        return given
    if mode == "ADD":
        return _dedupe(list(current) + given)
    return [i for i in current if i not in given]


def default_general_config(data_dir: str) -> dict:
    """ConfigGeneralResult values a fresh Stash install reports (paths under data_dir)."""
    j = lambda *p: os.path.join(data_dir, *p)  # noqa: E731
    return {
        "stashes": [{"path": j("library"), "excludeVideo": False, "excludeImage": False}],
        "databasePath": j("stash-go.sqlite"), "backupDirectoryPath": j("backups"),
        "deleteTrashPath": "", "generatedPath": j("generated"), "metadataPath": j("metadata"),
        "configFilePath": j("config.yml"), "scrapersPath": j("scrapers"),
        "pluginsPath": j("plugins"), "cachePath": j("cache"), "blobsPath": j("blobs"),
        "blobsStorage": "FILESYSTEM", "ffmpegPath": "", "ffprobePath": "",
        "calculateMD5": False, "videoFileNamingAlgorithm": "OSHASH", "parallelTasks": 1,
        "previewAudio": True, "previewSegments": 12, "previewSegmentDuration": 0.75,
        "previewExcludeStart": "0", "previewExcludeEnd": "0", "previewPreset": "slow",
        "apiKey": "", "username": "", "password": "", "maxSessionAge": 3600,
        "logFile": None, "logOut": True, "logLevel": "Info", "logAccess": False,
        "logFileMaxSize": 0, "pythonPath": "",
        "videoExtensions": ["m4v", "mp4", "mov", "wmv", "avi", "mpg", "mpeg", "rmvb", "rm",
                            "flv", "asf", "mkv", "webm", "f4v"],
        "imageExtensions": ["png", "jpg", "jpeg", "gif", "webp"],
        "galleryExtensions": ["zip", "cbz"],
    }


class StashState:
    """Data + semantics.  Public methods are thread-safe (re-entrant lock)."""

    def __init__(self, *, api_key: str | None = None, data_dir: str | None = None):
        self.lock = threading.RLock()
        self._counters: dict[str, int] = defaultdict(int)
        self._last_time = datetime.fromtimestamp(0, UTC)
        self.scenes: dict[str, dict] = {}
        self.tags: dict[str, dict] = {}
        self.scene_markers: dict[str, dict] = {}
        self.studios: dict[str, dict] = {}
        self.performers: dict[str, dict] = {}
        self.plugin_config: dict[str, dict] = {}
        self.ui_config: dict = {}
        self.jobs: dict[str, dict] = {}
        # Stash's job manager keeps only its last few ended jobs (pkg/job: the graveyard, 10);
        # findJob answers null for an older one. None keeps every job (the default here).
        self.graveyard_size: int | None = None
        self._graveyard: list[str] = []
        self.plugins: list[dict] = []
        self._own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="fakestash-")
        self.general = default_general_config(self.dir)
        if api_key:
            self.general["apiKey"] = api_key

    # ---------------------------------------------------------------- basics
    def _next_id(self, kind: str) -> str:
        self._counters[kind] += 1
        return str(self._counters[kind])

    def now(self) -> str:
        """RFC3339 UTC with microseconds, strictly increasing so updated_at always moves."""
        t = datetime.now(UTC)
        if t <= self._last_time:
            t = self._last_time + timedelta(microseconds=1)
        self._last_time = t
        return t.isoformat().replace("+00:00", "Z")

    def _get(self, table: dict, id_, what: str) -> dict:
        rec = table.get(str(id_))
        if rec is None:
            raise StashError(f"{what} with id {id_} not found")
        return rec

    def _check_fk(self, table: dict, ids) -> None:
        """Unknown related ids fail like SQLite's foreign keys do in Stash."""
        for i in ids:
            if str(i) not in table:
                raise StashError("FOREIGN KEY constraint failed")

    @property
    def api_key(self) -> str:
        return self.general.get("apiKey") or ""

    def scene_hash(self, scene: dict) -> str:
        """``scene.GetHash(videoFileNamingAlgorithm)`` — names of generated files."""
        if self.general.get("videoFileNamingAlgorithm") == "MD5":
            return scene["_checksum"]
        return scene["_oshash"]

    # ------------------------------------------------------------------ tags
    def _ensure_tag_name_unique(self, tag_id: str | None, name: str) -> None:
        """pkg/tag/update.go EnsureTagNameUnique: `= COLLATE NOCASE` on names, then aliases."""
        for t in self.tags.values():
            if t["id"] != tag_id and nocase_equal(t["name"], name):
                raise StashError(f"tag with name '{name}' already exists")
        for t in self.tags.values():
            if t["id"] != tag_id and any(nocase_equal(a, name) for a in t["aliases"]):
                raise StashError(f"name '{name}' is used as alias for '{t['name']}'")

    def _check_hierarchy(self, tag_id: str, parent_ids, child_ids) -> None:
        for p in parent_ids:
            if p == tag_id or p in self.tag_descendants(tag_id, -1):
                raise StashError(f'Cannot apply tag "{self.tags[p]["name"]}" as a parent of '
                                 f'"{self.tags[tag_id]["name"]}" as it is already a descendant')
        for c in child_ids:
            if c == tag_id or c in self.tag_ancestors(tag_id, -1):
                raise StashError(f'Cannot apply tag "{self.tags[c]["name"]}" as a child of '
                                 f'"{self.tags[tag_id]["name"]}" as it is already an ancestor')

    @locked
    def create_tag(self, data: dict) -> dict:
        name = (data.get("name") or "").strip()
        if not name:
            raise StashError("tag name must not be blank")
        aliases = [a.strip() for a in data.get("aliases") or [] if a.strip()]
        parent_ids, child_ids = _dedupe(data.get("parent_ids")), _dedupe(data.get("child_ids"))
        self._ensure_tag_name_unique(None, name)
        for a in aliases:
            if not nocase_equal(a, name):
                self._ensure_tag_name_unique(None, a)
        self._check_fk(self.tags, parent_ids + child_ids)
        now = self.now()
        tag = {
            "id": self._next_id("tag"), "name": name, "sort_name": data.get("sort_name"),
            "description": data.get("description"), "aliases": _dedupe(aliases),
            "ignore_auto_tag": bool(data.get("ignore_auto_tag")),
            "favorite": bool(data.get("favorite")), "parent_ids": parent_ids,
            "stash_ids": list(data.get("stash_ids") or []), "created_at": now, "updated_at": now,
            "_image": None,
        }
        self.tags[tag["id"]] = tag
        for c in child_ids:
            self.tags[c]["parent_ids"] = _dedupe(self.tags[c]["parent_ids"] + [tag["id"]])
        return tag

    @locked
    def update_tag(self, data: dict) -> dict:
        tag = self._get(self.tags, data["id"], "tag")
        if "name" in data and data["name"] is not None and data["name"] != tag["name"]:
            name = data["name"].strip()
            if not name:
                raise StashError("tag name must not be blank")
            self._ensure_tag_name_unique(tag["id"], name)
            tag["name"] = name
        if "aliases" in data:
            aliases = [a.strip() for a in data["aliases"] or [] if a.strip()]
            for a in aliases:
                if not nocase_equal(a, tag["name"]):
                    self._ensure_tag_name_unique(tag["id"], a)
            tag["aliases"] = _dedupe(aliases)
        for key in ("sort_name", "description", "ignore_auto_tag", "favorite"):
            if key in data:
                tag[key] = data[key]
        if "parent_ids" in data or "child_ids" in data:
            self._set_tag_relations(tag, data.get("parent_ids"), data.get("child_ids"),
                                    "parent_ids" in data, "child_ids" in data)
        tag["updated_at"] = self.now()
        return tag

    def _set_tag_relations(self, tag, parents, children, set_parents, set_children):
        parents, children = _dedupe(parents), _dedupe(children)
        self._check_fk(self.tags, parents + children)
        self._check_hierarchy(tag["id"], parents if set_parents else [],
                              children if set_children else [])
        if set_parents:
            tag["parent_ids"] = parents
        if set_children:
            for t in self.tags.values():
                if tag["id"] in t["parent_ids"] and t["id"] not in children:
                    t["parent_ids"].remove(tag["id"])
                elif t["id"] in children and tag["id"] not in t["parent_ids"]:
                    t["parent_ids"].append(tag["id"])

    @locked
    def bulk_update_tags(self, data: dict) -> list[dict]:
        out = []
        for tid in data.get("ids") or []:
            tag = self._get(self.tags, tid, "tag")
            for key in ("description", "ignore_auto_tag", "favorite"):
                if key in data:
                    tag[key] = data[key]
            if data.get("aliases"):
                tag["aliases"] = _apply_bulk(tag["aliases"], data["aliases"])
            if data.get("parent_ids"):
                self._set_tag_relations(tag, _apply_bulk(tag["parent_ids"], data["parent_ids"]),
                                        None, True, False)
            if data.get("child_ids"):
                current = [t["id"] for t in self.tags.values() if tag["id"] in t["parent_ids"]]
                self._set_tag_relations(tag, None, _apply_bulk(current, data["child_ids"]),
                                        False, True)
            tag["updated_at"] = self.now()
            out.append(tag)
        return out

    @locked
    def destroy_tag(self, tag_id) -> bool:
        tag_id = str(tag_id)
        self._get(self.tags, tag_id, "tag")
        if any(m["primary_tag_id"] == tag_id for m in self.scene_markers.values()):
            raise StashError("cannot delete tag used as a primary tag in scene markers")
        del self.tags[tag_id]
        for rec in [*self.tags.values(), *self.scenes.values(), *self.scene_markers.values(),
                    *self.studios.values(), *self.performers.values()]:
            for key in ("parent_ids", "tag_ids"):
                if tag_id in rec.get(key, ()):
                    rec[key].remove(tag_id)
        return True

    @locked
    def merge_tags(self, source, destination) -> dict:
        """tagsMerge (pkg/sqlite/tag.go Merge): every reference to a source tag — scenes, marker
        primary tags and marker tags, performers, studios, child tags — moves to the destination,
        parents are united, then the sources are deleted. Stash adds no alias."""
        dest = self._get(self.tags, destination, "tag")
        sources = [str(s) for s in source if str(s) != dest["id"]]
        for s in sources:
            self._get(self.tags, s, "tag")
        for rec in [*self.scenes.values(), *self.scene_markers.values(),
                    *self.studios.values(), *self.performers.values()]:
            if any(s in rec.get("tag_ids", ()) for s in sources):
                rec["tag_ids"] = _dedupe([dest["id"] if t in sources else t
                                          for t in rec["tag_ids"]])
                rec["updated_at"] = self.now()
        for m in self.scene_markers.values():
            if m["primary_tag_id"] in sources:
                m["primary_tag_id"] = dest["id"]
                m["updated_at"] = self.now()
            m["tag_ids"] = [t for t in m["tag_ids"] if t != m["primary_tag_id"]]
        parents = list(dest["parent_ids"])
        for s in sources:
            parents += [p for p in self.tags[s]["parent_ids"] if p != dest["id"]]
            for t in self.tags.values():
                if s in t["parent_ids"]:
                    moved = [dest["id"] if p == s else p for p in t["parent_ids"]]
                    t["parent_ids"] = _dedupe([p for p in moved if p != t["id"]])
        dest["parent_ids"] = [p for p in _dedupe(parents) if p not in sources]
        for s in sources:
            del self.tags[s]
        dest["updated_at"] = self.now()
        return dest

    def tag_children(self, tag_id: str) -> list[str]:
        return [t["id"] for t in self.tags.values() if tag_id in t["parent_ids"]]

    def tag_descendants(self, tag_id: str, depth: int) -> set[str]:
        """Descendants up to depth levels (-1 = unlimited), excluding tag_id itself."""
        return self._walk(tag_id, depth, self.tag_children)

    def tag_ancestors(self, tag_id: str, depth: int) -> set[str]:
        return self._walk(tag_id, depth, lambda i: self.tags[i]["parent_ids"] if i in self.tags else [])

    @staticmethod
    def _walk(start: str, depth: int, step) -> set[str]:
        seen, frontier, level = set(), [start], 0
        while frontier and (depth < 0 or level < depth):
            frontier = [n for f in frontier for n in step(f) if n not in seen and n != start]
            seen.update(frontier)
            level += 1
        return seen

    def expand_tag(self, tag_id: str, depth: int) -> set[str]:
        return {tag_id} | self.tag_descendants(tag_id, depth)

    def expand_studio(self, studio_id: str, depth: int) -> set[str]:
        kids = lambda i: [s["id"] for s in self.studios.values() if s["parent_id"] == i]  # noqa: E731
        return {studio_id} | self._walk(studio_id, depth, kids)

    # ---------------------------------------------------------------- scenes
    _SCENE_SCALARS = ("title", "code", "details", "director", "date", "rating100", "organized",
                      "resume_time", "play_duration")

    @locked
    def update_scene(self, data: dict) -> dict:
        """sceneUpdate: only sent keys change; tag_ids/performer_ids REPLACE the lists."""
        scene = self._get(self.scenes, data["id"], "scene")
        for key in self._SCENE_SCALARS:
            if key in data:
                scene[key] = data[key]
        if "urls" in data:
            scene["urls"] = [u.strip() for u in data["urls"] or []]
        elif "url" in data:
            scene["urls"] = [data["url"].strip()] if data["url"] else []
        if "studio_id" in data:
            if data["studio_id"] is not None:
                self._check_fk(self.studios, [data["studio_id"]])
            scene["studio_id"] = data["studio_id"]
        for key, table in (("tag_ids", self.tags), ("performer_ids", self.performers)):
            if key in data:
                ids = _dedupe(data[key])
                self._check_fk(table, ids)
                scene[key] = ids
        if "gallery_ids" in data:
            scene["gallery_ids"] = _dedupe(data["gallery_ids"])
        if "stash_ids" in data:
            scene["stash_ids"] = list(data["stash_ids"] or [])
        if "cover_image" in data:
            scene["_screenshot"] = data["cover_image"]
        scene["updated_at"] = self.now()
        return scene

    @locked
    def bulk_update_scenes(self, data: dict) -> list[dict]:
        """bulkSceneUpdate: BulkUpdateIds {ids, mode: SET|ADD|REMOVE} per relation."""
        out = []
        for sid in data.get("ids") or []:
            scene = self._get(self.scenes, sid, "scene")
            for key in ("title", "code", "details", "director", "date", "rating100", "organized"):
                if key in data:
                    scene[key] = data[key]
            if "studio_id" in data:
                if data["studio_id"] is not None:
                    self._check_fk(self.studios, [data["studio_id"]])
                scene["studio_id"] = data["studio_id"]
            for key, table in (("tag_ids", self.tags), ("performer_ids", self.performers)):
                if data.get(key) is not None:
                    new = _apply_bulk(scene[key], data[key])
                    self._check_fk(table, new)
                    scene[key] = new
            if data.get("gallery_ids") is not None:
                scene["gallery_ids"] = _apply_bulk(scene["gallery_ids"], data["gallery_ids"])
            if data.get("urls") is not None:
                scene["urls"] = _apply_bulk(scene["urls"], data["urls"])
            scene["updated_at"] = self.now()
            out.append(scene)
        return out

    @locked
    def destroy_scene(self, scene_id) -> bool:
        self._get(self.scenes, scene_id, "scene")
        del self.scenes[str(scene_id)]
        for mid in [m["id"] for m in self.scene_markers.values() if m["scene_id"] == str(scene_id)]:
            del self.scene_markers[mid]
        return True

    # --------------------------------------------------------------- markers
    @staticmethod
    def _check_end(seconds: float, end: float | None) -> None:
        if end is not None and end < seconds:
            raise StashError(f"end_seconds ({end:f}) must be greater than or equal to "
                             f"seconds ({seconds:f})")

    @locked
    def create_marker(self, data: dict) -> dict:
        """sceneMarkerCreate: title trimmed, end >= start, primary tag dropped from tag_ids."""
        self._check_end(data["seconds"], data.get("end_seconds"))
        scene_id, primary = str(data["scene_id"]), str(data["primary_tag_id"])
        tag_ids = [t for t in _dedupe(data.get("tag_ids")) if t != primary]
        self._check_fk(self.scenes, [scene_id])
        self._check_fk(self.tags, [primary, *tag_ids])
        now = self.now()
        marker = {
            "id": self._next_id("scene_marker"), "scene_id": scene_id,
            "title": (data.get("title") or "").strip(), "seconds": float(data["seconds"]),
            "end_seconds": data.get("end_seconds"), "primary_tag_id": primary,
            "tag_ids": tag_ids, "created_at": now, "updated_at": now,
        }
        self.scene_markers[marker["id"]] = marker
        return marker

    @locked
    def update_marker(self, data: dict) -> dict:
        marker = self._get(self.scene_markers, data["id"], "scene marker")
        seconds = data["seconds"] if data.get("seconds") is not None else marker["seconds"]
        end = data["end_seconds"] if "end_seconds" in data else marker["end_seconds"]
        if ("seconds" in data or "end_seconds" in data) and end is not None:
            self._check_end(seconds, end)
        if data.get("scene_id") is not None:
            self._check_fk(self.scenes, [data["scene_id"]])
            marker["scene_id"] = str(data["scene_id"])
        if data.get("primary_tag_id") is not None:
            self._check_fk(self.tags, [data["primary_tag_id"]])
            marker["primary_tag_id"] = str(data["primary_tag_id"])
        if data.get("title") is not None:
            marker["title"] = data["title"]
        marker["seconds"], marker["end_seconds"] = float(seconds), end
        if "tag_ids" in data:
            ids = _dedupe(data["tag_ids"])
            self._check_fk(self.tags, ids)
            marker["tag_ids"] = ids
        marker["tag_ids"] = [t for t in marker["tag_ids"] if t != marker["primary_tag_id"]]
        marker["updated_at"] = self.now()
        return marker

    @locked
    def destroy_markers(self, ids) -> bool:
        for mid in ids:
            self._get(self.scene_markers, mid, "scene marker")
        for mid in ids:
            del self.scene_markers[str(mid)]
        return True

    # ---------------------------------------------------------------- config
    @locked
    def configure_plugin(self, plugin_id: str, values: dict) -> dict:
        """configurePlugin OVERWRITES the whole map for that plugin."""
        self.plugin_config[plugin_id] = copy.deepcopy(dict(values or {}))
        return copy.deepcopy(self.plugin_config[plugin_id])

    @locked
    def plugins_config(self, include=None) -> dict:
        ids = include if include is not None else list(self.plugin_config)
        return {i: copy.deepcopy(self.plugin_config[i]) for i in ids if i in self.plugin_config}

    # ------------------------------------------------------------------ jobs
    @locked
    def add_job(self, description: str, **extra) -> dict:
        job = {"id": self._next_id("job"), "status": "READY", "subTasks": [],
               "description": description, "progress": None, "startTime": None,
               "endTime": None, "addTime": self.now(), "error": None, **extra}
        self.jobs[job["id"]] = job
        return job

    @locked
    def set_job(self, job_id: str, **changes) -> dict:
        job = self.jobs[str(job_id)]
        status = changes.get("status")
        if status == "RUNNING" and not job["startTime"]:
            job["startTime"] = self.now()
        if status in ("FINISHED", "FAILED", "CANCELLED") and not job["endTime"]:
            job["endTime"] = self.now()
            self._graveyard.append(job["id"])
        job.update(changes)
        while self.graveyard_size is not None and len(self._graveyard) > self.graveyard_size:
            self.jobs.pop(self._graveyard.pop(0), None)
        return job

    # -------------------------------------------------------- fingerprints
    @staticmethod
    def fake_hashes(seed: str) -> tuple[str, str]:
        """Deterministic (oshash, md5) for a scene without a real file."""
        md5 = hashlib.md5(seed.encode()).hexdigest()
        return md5[:16], md5
