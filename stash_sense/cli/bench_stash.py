"""What the benchmark runs against instead of a Stash server: synthetic scenes and an in-memory Stash.

Scenes are made the way Stash makes them: a 9x9 JPEG sprite sheet of 160 px tiles with its WebVTT
(one cue per tile, duration/81 each) and, when ffmpeg exists, a 1080p H.264 clip the video frame
source reads from disk. `MemoryStash` is a transport (stash/transport.py) that answers the
plugin's GraphQL documents from dictionaries and serves the sprites and VTTs, so the real StashAPI,
StashClient and pipeline (prefetch, frame sources, analyzers, store, plan, writer, workflow tags)
run unchanged and "write" is measured without a server. It counts the requests by operation, so a
real Stash's per-request cost can be added by hand. An operation it does not answer fails naming
it rather than returning wrong data.
"""
from __future__ import annotations

import copy
import io
import json
import random
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from ..stash.transport import Timeout

COLS = ROWS = 9
TILE_W, TILE_H = 160, 90


def vtt_time(seconds: float) -> str:
    ms = int(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def sprite_sheet(seed: int, duration: float) -> tuple[bytes, str]:
    """A Stash-like sprite JPEG (81 tiles: rooms of coloured shapes that drift) and its VTT."""
    rng = random.Random(seed)
    sheet = Image.new("RGB", (COLS * TILE_W, ROWS * TILE_H))
    base = [rng.randrange(40, 220) for _ in range(3)]
    shapes = [(rng.randrange(TILE_W), rng.randrange(TILE_H), rng.randrange(10, 60),
               tuple(rng.randrange(256) for _ in range(3))) for _ in range(6)]
    for i in range(COLS * ROWS):
        tile = Image.new("RGB", (TILE_W, TILE_H), tuple((c + 2 * i) % 256 for c in base))
        draw = ImageDraw.Draw(tile)
        for x, y, r, colour in shapes:
            dx = (x + 3 * i) % TILE_W
            draw.ellipse((dx - r, y - r // 2, dx + r, y + r // 2), fill=colour)
        sheet.paste(tile, ((i % COLS) * TILE_W, (i // COLS) * TILE_H))
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=85)
    step = duration / (COLS * ROWS)
    cues = ["WEBVTT", ""]
    for i in range(COLS * ROWS):
        x, y = (i % COLS) * TILE_W, (i // COLS) * TILE_H
        cues += [f"{vtt_time(i * step)} --> {vtt_time((i + 1) * step)}",
                 f"sprite.jpg#xywh={x},{y},{TILE_W},{TILE_H}", ""]
    return buf.getvalue(), "\n".join(cues)


def make_clip(path: str, seconds: float, width: int = 1920, height: int = 1080) -> bool:
    """A 10 fps H.264 clip (keyframe every 10 s) with a corner watermark; False without ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return False
    source = f"testsrc2=s={width}x{height}:r=10:d={seconds:g}"
    mark = "drawtext=text='ACME STUDIOS':fontcolor=white@0.85:fontsize=44:x=w-tw-40:y=h-th-40"
    for filters in (["-vf", mark], []):      # drawtext needs a font; without one, no watermark
        cmd = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", source, *filters, "-c:v", "libx264",
               "-preset", "ultrafast", "-crf", "28", "-g", "100", "-pix_fmt", "yuv420p", path]
        if subprocess.run(cmd, capture_output=True, timeout=600).returncode == 0:
            return True
    return False


class MemoryResponse:
    """An opened file of the in-memory Stash (transport.Response)."""

    def __init__(self, status: int, content: bytes):
        self.status, self.content = status, content
        self.headers = {"Content-Length": str(len(content))}

    def chunks(self, size: int) -> Iterator[bytes]:
        for start in range(0, len(self.content), size):
            yield self.content[start:start + size]

    def read(self) -> bytes:
        return self.content

    def close(self) -> None:
        pass

    def __enter__(self) -> MemoryResponse:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass


Variables = dict[str, Any]


class MemoryStash:
    """A transport to a Stash held in dictionaries: the GraphQL operations the tag pipeline sends
    (by their StashSense* names), and media by URL. Every clone shares the one state."""

    base_url = "http://bench.invalid"

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}               # by URL path
        self.scenes: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, Any]] = {}
        self.markers: dict[str, dict[str, Any]] = {}
        self.studios = [{"id": "1", "name": "Acme Studios", "aliases": ["Acme"],
                         "created_at": "2025-01-01T00:00:00Z"},
                        {"id": "2", "name": "Brightline", "aliases": [],
                         "created_at": "2025-01-01T00:00:00Z"}]
        self.calls: Counter[str] = Counter()
        self._next = 100
        self._clock = 0
        self._operations: dict[str, Callable[[Variables], dict[str, Any]]] = {
            "StashSensePluginConfig": lambda v: {"configuration": {"plugins": {}}},
            "StashSenseGeneralConfig": lambda v: {"configuration": {"general": {
                "ffmpegPath": "", "ffprobePath": "", "generatedPath": "", "configFilePath": ""}}},
            "StashSenseScene": lambda v: {"findScene": self._scene(str(v["id"]))},
            "StashSenseSceneIds": self._scene_ids,
            "StashSenseSceneTags": self._update_tags,
            "StashSenseScenePerformers": lambda v: {
                "bulkSceneUpdate": self._confirm(v["input"]["ids"])},
            "StashSenseSceneStudio": self._set_studio,
            "StashSenseSceneStudioNow": self._studio_now,
            "StashSenseSceneIdentity": lambda v: {"findScenes": {"scenes": [
                {"id": i, "created_at": self.scenes[i]["created_at"]}
                for i in map(str, v["ids"]) if i in self.scenes]}},
            "StashSenseTagsById": lambda v: {"findTags": {"tags": [
                copy.deepcopy(self.tags[t]) for t in map(str, v["ids"]) if t in self.tags]}},
            "StashSensePerformersById": lambda v: {"findPerformers": {"performers": []}},
            "StashSenseMarkerCreate": self._create_marker,
            "StashSenseMarkersDestroy": self._destroy_markers,
            "StashSenseTagsNamed": self._tags_named,
            "StashSenseTagCreate": self._create_tag,
            "StashSenseStudios": lambda v: {
                "findStudios": {"studios": copy.deepcopy(self.studios)}},
            "StashSensePerformers": lambda v: {"findPerformers": {"count": 0, "performers": []}},
            "StashSensePerformerScenes": lambda v: {"findScenes": {"scenes": []}},
        }

    # -- the transport -------------------------------------------------------------------------
    def post_graphql(self, body: bytes) -> tuple[int, bytes]:
        request = json.loads(body)
        found = re.search(r"(?:query|mutation)\s+(\w+)", request["query"])
        name = found.group(1) if found else request["query"][:60]
        answer = self._operations.get(name)
        if answer is None:
            raise NotImplementedError(f"the benchmark's in-memory Stash does not answer {name}; "
                                      "add it to MemoryStash")
        self.calls[name] += 1
        return 200, json.dumps({"data": answer(request.get("variables") or {})}).encode()

    def open(self, url: str, *, headers: Mapping[str, str] | None = None,
             timeout: Timeout | None = None) -> MemoryResponse:
        self.calls["GET media"] += 1
        data = self.files.get(urlsplit(url).path)
        return MemoryResponse(200 if data is not None else 404, data or b"")

    def use_api_key(self, key: str | None) -> None:
        pass

    def clone(self) -> MemoryStash:
        return self

    # -- the library ---------------------------------------------------------------------------
    def now(self) -> str:
        """A distinct, increasing timestamp per write (the ledger keys identity on created_at)."""
        self._clock += 1
        return f"2026-01-01T00:00:{self._clock // 1000:02d}.{self._clock % 1000:03d}Z"

    def new_id(self) -> str:
        self._next += 1
        return str(self._next)

    def add_scene(self, title: str, duration: float, sprite: bytes, vtt: str,
                  video: str | None) -> str:
        sid = self.new_id()
        path = f"/scene/{sid}"
        self.files[f"{path}_sprite.jpg"] = sprite
        self.files[f"{path}_thumbs.vtt"] = vtt.encode()
        self.scenes[sid] = {
            "id": sid, "title": title, "organized": False, "tags": [], "studio": None,
            "created_at": self.now(), "updated_at": self.now(),
            "performers": [], "scene_markers": [],
            "files": [{"path": video or f"/nonexistent/{sid}.mp4", "duration": duration,
                       "width": 1920, "height": 1080, "frame_rate": 10.0}],
            "paths": {"sprite": f"{self.base_url}{path}_sprite.jpg",
                      "vtt": f"{self.base_url}{path}_thumbs.vtt",
                      "stream": None, "screenshot": None}}
        return sid

    # -- the operations ------------------------------------------------------------------------
    def _scene(self, scene_id: str) -> dict[str, Any] | None:
        scene = self.scenes.get(scene_id)
        if scene is None:
            return None
        out = copy.deepcopy(scene)
        out["tags"] = [{"id": t, "name": self.tags[t]["name"],
                        "created_at": self.tags[t]["created_at"]} for t in scene["tags"]]
        studio = self._studio_of(scene)
        out["studio"] = studio and {"id": studio["id"], "name": studio["name"],
                                    "created_at": studio["created_at"]}
        out["scene_markers"] = [copy.deepcopy(self.markers[mid]) for mid in scene["scene_markers"]]
        return out

    def _scene_ids(self, v: Variables) -> dict[str, Any]:
        wanted = set(v["f"]["tags"]["value"])
        ids = [sid for sid, s in self.scenes.items() if wanted & set(s["tags"])]
        page, per_page = v["p"]["page"], v["p"]["per_page"]
        chosen = ids[(page - 1) * per_page:page * per_page]
        return {"findScenes": {"count": len(ids), "scenes": [{"id": sid} for sid in chosen]}}

    def _studio_of(self, scene: dict[str, Any]) -> dict[str, Any] | None:
        wanted = (scene["studio"] or {}).get("id")
        return next((s for s in self.studios if s["id"] == wanted), None) if wanted else None

    def _confirm(self, scene_ids: list[str]) -> list[dict[str, Any]]:
        """What Stash's bulkSceneUpdate answers (CONFIRM_FIELDS), after bumping updated_at."""
        out = []
        for sid in scene_ids:
            scene = self.scenes[sid]
            scene["updated_at"] = self.now()
            studio = self._studio_of(scene)
            out.append({"id": sid, "updated_at": scene["updated_at"],
                        "tags": [{"id": t, "created_at": self.tags[t]["created_at"]}
                                 for t in scene["tags"]],
                        "studio": ({"id": studio["id"], "created_at": studio["created_at"]}
                                   if studio else None),
                        "performers": []})
        return out

    def _update_tags(self, v: Variables) -> dict[str, Any]:
        scene_ids, change = v["input"]["ids"], v["input"]["tag_ids"]
        tag_ids, mode = change["ids"], change["mode"]
        for sid in scene_ids:
            tags = self.scenes[sid]["tags"]
            if mode == "ADD":
                tags.extend(t for t in tag_ids if t not in tags)
            elif mode == "REMOVE":
                tags[:] = [t for t in tags if t not in tag_ids]
            else:
                tags[:] = list(dict.fromkeys(tag_ids))
        return {"bulkSceneUpdate": self._confirm(scene_ids)}

    def _set_studio(self, v: Variables) -> dict[str, Any]:
        [scene_id], studio_id = v["input"]["ids"], v["input"]["studio_id"]
        studio = next((s for s in self.studios if s["id"] == studio_id), None)
        self.scenes[scene_id]["studio"] = \
            {"id": studio["id"], "name": studio["name"]} if studio else None
        return {"bulkSceneUpdate": self._confirm([scene_id])}

    def _studio_now(self, v: Variables) -> dict[str, Any]:
        studio = self.scenes[str(v["id"])]["studio"]
        return {"findScene": {"studio": {"id": studio["id"]} if studio else None}}

    def _create_marker(self, v: Variables) -> dict[str, Any]:
        m = v["input"]
        mid, created = self.new_id(), self.now()
        tag = self.tags[m["primary_tag_id"]]
        self.markers[mid] = {"id": mid, "title": m["title"], "seconds": m["seconds"],
                             "end_seconds": m["end_seconds"], "created_at": created,
                             "primary_tag": {"id": m["primary_tag_id"], "name": tag["name"]},
                             "tags": [{"id": t, "name": self.tags[t]["name"]}
                                      for t in m["tag_ids"]]}
        self.scenes[m["scene_id"]]["scene_markers"].append(mid)
        return {"sceneMarkerCreate": {"id": mid, "created_at": created}}

    def _destroy_markers(self, v: Variables) -> dict[str, Any]:
        for mid in v["ids"]:
            self.markers.pop(mid, None)
            for scene in self.scenes.values():
                if mid in scene["scene_markers"]:
                    scene["scene_markers"].remove(mid)
        return {"sceneMarkersDestroy": True}

    def _tags_named(self, v: Variables) -> dict[str, Any]:
        low = v["f"]["name"]["value"].lower()
        return {"findTags": {"tags": [
            copy.deepcopy(t) for t in self.tags.values()
            if t["name"].lower() == low or low in (a.lower() for a in t["aliases"])]}}

    def _create_tag(self, v: Variables) -> dict[str, Any]:
        tid = self.new_id()
        self.tags[tid] = {"id": tid, "name": v["input"]["name"], "aliases": [],
                          "created_at": self.now(),
                          "parents": [{"id": p} for p in v["input"]["parent_ids"]]}
        return {"tagCreate": copy.deepcopy(self.tags[tid])}
