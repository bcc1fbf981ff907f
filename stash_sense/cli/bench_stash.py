"""What the benchmark runs against instead of a Stash server: synthetic scenes and an in-memory Stash.

Scenes are made the way Stash makes them: a 9x9 JPEG sprite sheet of 160 px tiles with its WebVTT
(one cue per tile, duration/81 each) and, when ffmpeg exists, a 1080p H.264 clip the video frame
source reads from disk. `MemoryStash` is a `StashAPI` whose methods answer from dictionaries, so
the real pipeline (prefetch, frame sources, analyzers, store, plan, writer, workflow tags) runs
unchanged and "write" is measured without a server; it counts the requests the pipeline makes, so
a real Stash's per-request cost can be added by hand. A method it does not implement reaches
`MemoryClient.execute`, which fails naming the GraphQL operation rather than returning wrong data.
"""
from __future__ import annotations

import copy
import io
import random
import re
import shutil
import subprocess
from collections import Counter
from types import SimpleNamespace
from typing import Any

from PIL import Image, ImageDraw

from ..stash.api import StashAPI

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
    """The part of a streamed requests.Response that frames/download.py uses."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content
        self.headers = {"Content-Length": str(len(content))}

    def iter_content(self, size: int):
        for start in range(0, len(self.content), size):
            yield self.content[start:start + size]

    def __enter__(self) -> "MemoryResponse":
        return self

    def __exit__(self, *exc) -> None:
        pass


class MemoryClient:
    """Stands where StashClient stands: media by URL, and state shared by every clone."""

    base_url = "http://bench.invalid"

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
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

    def now(self) -> str:
        """A distinct, increasing timestamp per write (the ledger keys identity on created_at)."""
        self._clock += 1
        return f"2026-01-01T00:00:{self._clock // 1000:02d}.{self._clock % 1000:03d}Z"

    def new_id(self) -> str:
        self._next += 1
        return str(self._next)

    def clone(self) -> "MemoryClient":
        return self

    def fetch(self, url: str):
        self.calls["GET media"] += 1
        data = self.files.get(url)
        return SimpleNamespace(status_code=200 if data is not None else 404, content=data or b"")

    def open_stream(self, url: str, timeout=None, headers=None) -> "MemoryResponse":
        """What frames/download.py reads sprites and VTTs through (StashClient.open_stream)."""
        self.calls["GET media"] += 1
        data = self.files.get(url)
        return MemoryResponse(200 if data is not None else 404, data or b"")

    def local_url(self, url: str) -> str:
        return url

    def execute(self, query: str, variables: dict | None = None) -> dict:
        name = re.search(r"(?:query|mutation)\s+(\w+)", query)
        raise NotImplementedError(f"the benchmark's in-memory Stash does not answer "
                                  f"{name.group(1) if name else query[:60]}; add it to MemoryStash")

    def add_scene(self, title: str, duration: float, sprite: bytes, vtt: str,
                  video: str | None) -> str:
        sid = self.new_id()
        base = f"{self.base_url}/scene/{sid}"
        self.files[f"{base}_sprite.jpg"] = sprite
        self.files[f"{base}_thumbs.vtt"] = vtt.encode()
        self.scenes[sid] = {
            "id": sid, "title": title, "organized": False, "tags": [], "studio": None,
            "created_at": self.now(), "updated_at": self.now(),
            "performers": [], "scene_markers": [],
            "files": [{"path": video or f"/nonexistent/{sid}.mp4", "duration": duration,
                       "width": 1920, "height": 1080, "frame_rate": 10.0}],
            "paths": {"sprite": f"{base}_sprite.jpg", "vtt": f"{base}_thumbs.vtt",
                      "stream": None, "screenshot": None}}
        return sid


class MemoryStash(StashAPI):
    """The StashAPI methods the tag pipeline uses, answered from MemoryClient's dictionaries."""

    def __init__(self, client: MemoryClient):
        super().__init__(client)
        self.m = client

    def _count(self, name: str) -> None:
        self.m.calls[name] += 1

    def plugin_settings(self, plugin_id: str) -> dict[str, Any]:
        self._count("plugin_settings")
        return {}

    def general_config(self) -> dict[str, Any]:
        self._count("general_config")
        return {"ffmpegPath": "", "ffprobePath": "", "generatedPath": "", "configFilePath": ""}

    def find_scene(self, scene_id: str) -> dict[str, Any] | None:
        self._count("find_scene")
        scene = self.m.scenes.get(str(scene_id))
        if scene is None:
            return None
        out = copy.deepcopy(scene)
        out["tags"] = [{"id": t, "name": self.m.tags[t]["name"],
                        "created_at": self.m.tags[t]["created_at"]} for t in scene["tags"]]
        studio = self._studio_of(scene)
        out["studio"] = studio and {"id": studio["id"], "name": studio["name"],
                                    "created_at": studio["created_at"]}
        out["scene_markers"] = [copy.deepcopy(self.m.markers[mid]) for mid in scene["scene_markers"]]
        return out

    def scene_ids_with_tags(self, tag_ids: list[str], per_page: int = 250) -> list[str]:
        self._count("scene_ids_with_tags")
        wanted = set(tag_ids)
        return [sid for sid, s in self.m.scenes.items() if wanted & set(s["tags"])]

    def _studio_of(self, scene: dict[str, Any]) -> dict[str, Any] | None:
        wanted = (scene["studio"] or {}).get("id")
        return next((s for s in self.m.studios if s["id"] == wanted), None) if wanted else None

    def _confirm(self, scene_ids: list[str]) -> list[dict[str, Any]]:
        """What Stash's bulkSceneUpdate answers (CONFIRM_FIELDS), after bumping updated_at."""
        out = []
        for sid in scene_ids:
            scene = self.m.scenes[sid]
            scene["updated_at"] = self.m.now()
            studio = self._studio_of(scene)
            out.append({"id": sid, "updated_at": scene["updated_at"],
                        "tags": [{"id": t, "created_at": self.m.tags[t]["created_at"]}
                                 for t in scene["tags"]],
                        "studio": ({"id": studio["id"], "created_at": studio["created_at"]}
                                   if studio else None),
                        "performers": []})
        return out

    def update_scene_tags(self, scene_ids: list[str], tag_ids: list[str],
                          mode: str) -> list[dict[str, Any]]:
        if not tag_ids:
            return []
        self._count("update_scene_tags")
        for sid in scene_ids:
            tags = self.m.scenes[sid]["tags"]
            if mode == "ADD":
                tags.extend(t for t in tag_ids if t not in tags)
            elif mode == "REMOVE":
                tags[:] = [t for t in tags if t not in tag_ids]
            else:
                tags[:] = list(dict.fromkeys(tag_ids))
        return self._confirm(scene_ids)

    def update_scene_performers(self, scene_id: str, performer_ids: list[str],
                                mode: str) -> list[dict[str, Any]]:
        if not performer_ids:
            return []
        self._count("update_scene_performers")
        return self._confirm([scene_id])

    def set_scene_studio(self, scene_id: str, studio_id: str | None) -> list[dict[str, Any]]:
        self._count("set_scene_studio")
        studio = next((s for s in self.m.studios if s["id"] == studio_id), None)
        self.m.scenes[scene_id]["studio"] = {"id": studio["id"], "name": studio["name"]} if studio else None
        return self._confirm([scene_id])

    def scene_studio_id(self, scene_id: str) -> str | None:
        self._count("scene_studio_id")
        studio = self.m.scenes[str(scene_id)]["studio"]
        return studio["id"] if studio else None

    def scene_created_at(self, scene_ids: list[str]) -> dict[str, str]:
        self._count("scene_created_at")
        return {str(i): self.m.scenes[str(i)]["created_at"] for i in scene_ids
                if str(i) in self.m.scenes}

    def tags_by_ids(self, tag_ids: list[str]) -> dict[str, dict[str, Any]]:
        self._count("tags_by_ids")
        return {str(t): copy.deepcopy(self.m.tags[str(t)]) for t in tag_ids if str(t) in self.m.tags}

    def performer_ids_existing(self, performer_ids: list[str]) -> set[str]:
        self._count("performer_ids_existing")
        return set()

    def create_marker(self, scene_id: str, title: str, seconds: float, end_seconds: float | None,
                      primary_tag_id: str, tag_ids: list[str]) -> dict[str, Any]:
        self._count("create_marker")
        mid = self.m.new_id()
        created = self.m.now()
        tag = self.m.tags[primary_tag_id]
        self.m.markers[mid] = {"id": mid, "title": title, "seconds": seconds,
                               "end_seconds": end_seconds, "created_at": created,
                               "primary_tag": {"id": primary_tag_id, "name": tag["name"]},
                               "tags": [{"id": t, "name": self.m.tags[t]["name"]} for t in tag_ids]}
        self.m.scenes[scene_id]["scene_markers"].append(mid)
        return {"id": mid, "created_at": created}

    def destroy_markers(self, marker_ids: list[str]) -> None:
        if not marker_ids:
            return
        self._count("destroy_markers")
        for mid in marker_ids:
            self.m.markers.pop(mid, None)
            for scene in self.m.scenes.values():
                if mid in scene["scene_markers"]:
                    scene["scene_markers"].remove(mid)

    def tags_named(self, name: str) -> list[dict[str, Any]]:
        self._count("tags_named")
        low = name.lower()
        return [copy.deepcopy(t) for t in self.m.tags.values()
                if t["name"].lower() == low or low in (a.lower() for a in t["aliases"])]

    def create_tag(self, name: str, parent_ids: list[str], ignore_auto_tag: bool = True,
                   description: str = "") -> dict[str, Any]:
        self._count("create_tag")
        tid = self.m.new_id()
        self.m.tags[tid] = {"id": tid, "name": name, "aliases": [], "created_at": self.m.now(),
                            "parents": [{"id": p} for p in parent_ids]}
        return copy.deepcopy(self.m.tags[tid])

    def all_studios(self) -> list[dict[str, Any]]:
        self._count("all_studios")
        return copy.deepcopy(self.m.studios)

    def performers_page(self, page: int, per_page: int) -> tuple[int, list[dict[str, Any]]]:
        self._count("performers_page")
        return 0, []

    def scenes_of_performer(self, performer_id: str, limit: int) -> list[dict[str, Any]]:
        self._count("scenes_of_performer")
        return []
