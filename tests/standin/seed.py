"""Seeding helpers and assertion readers for tests (on top of :class:`StashState`).

Seeding goes through the same code paths as the GraphQL mutations where one
exists (``add_tag`` uses tagCreate's uniqueness rules, ``add_marker`` uses
sceneMarkerCreate's), so a test cannot seed a state Stash would refuse.
Readers return deep copies so assertions never race the server thread.
"""
from __future__ import annotations

import copy
import os
import struct

from .filters import nocase_equal
from .state import StashState, locked


def oshash_of(path: str) -> str:
    """OpenSubtitles hash (what Stash stores as ``oshash``): size + 64 KiB head/tail sums."""
    size = os.path.getsize(path)
    chunk = 64 * 1024
    h = size
    with open(path, "rb") as f:
        for offset in (0, max(0, size - chunk)):
            f.seek(offset)
            buf = f.read(chunk)
            buf += b"\0" * (-len(buf) % 8)
            for (v,) in struct.iter_unpack("<Q", buf):
                h = (h + v) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


class StashData(StashState):
    """StashState plus ``add_*`` seeding helpers and plain-dict readers."""

    # ---------------------------------------------------------------- seeding
    def add_tag(self, name: str, aliases=(), parent_ids=(), ignore_auto_tag: bool = False, *,
                description: str | None = None, favorite: bool = False,
                sort_name: str | None = None) -> str:
        return self.create_tag({"name": name, "aliases": list(aliases),
                                "parent_ids": [str(p) for p in parent_ids],
                                "ignore_auto_tag": ignore_auto_tag, "description": description,
                                "favorite": favorite, "sort_name": sort_name})["id"]

    @locked
    def add_studio(self, name: str, aliases=(), parent_id: str | None = None, *,
                   tag_ids=(), url: str | None = None, details: str | None = None) -> str:
        now = self.now()
        sid = self._next_id("studio")
        self.studios[sid] = {
            "id": sid, "name": name, "aliases": list(aliases), "parent_id": parent_id,
            "urls": [url] if url else [], "details": details, "rating100": None,
            "favorite": False, "ignore_auto_tag": False, "tag_ids": [str(t) for t in tag_ids],
            "stash_ids": [], "created_at": now, "updated_at": now, "_image": None,
        }
        return sid

    @locked
    def add_performer(self, name: str, aliases=(), image: bytes | None = None, *,
                      disambiguation: str | None = None, gender: str | None = None,
                      tag_ids=()) -> str:
        now = self.now()
        pid = self._next_id("performer")
        self.performers[pid] = {
            "id": pid, "name": name, "disambiguation": disambiguation,
            "alias_list": list(aliases), "gender": gender, "urls": [], "favorite": False,
            "ignore_auto_tag": False, "tag_ids": [str(t) for t in tag_ids], "stash_ids": [],
            "rating100": None, "details": None, "custom_fields": {},
            "created_at": now, "updated_at": now, "_image": image,
        }
        return pid

    @locked
    def add_scene(self, title: str = "", duration: float = 600.0, width: int = 1920,
                  height: int = 1080, tag_ids=(), studio_id: str | None = None, performer_ids=(),
                  sprite: bytes | None = None, vtt=None,
                  video_path: str | None = None, oshash: str | None = None, *,
                  checksum: str | None = None, phash: str | None = None,
                  frame_rate: float = 30.0, organized: bool = False, details: str | None = None,
                  date: str | None = None, urls=(), screenshot: bytes | None = None,
                  video_codec: str = "h264", audio_codec: str = "aac",
                  write_generated: bool = True) -> str:
        """A scene with one video file.  Without sprite/vtt the sprite URLs 404, like Stash
        before the Generate task ran.  ``vtt`` is the text, or a callable receiving the sprite
        file name (``<hash>_sprite.jpg``) and returning the text.  With ``write_generated``
        the sprite/VTT are also written to ``<generatedPath>/vtt/<hash>_sprite.jpg`` and
        ``<hash>_thumbs.vtt`` where Stash keeps them."""
        self._check_fk(self.tags, tag_ids)
        self._check_fk(self.performers, performer_ids)
        if studio_id is not None:
            self._check_fk(self.studios, [studio_id])
        sid = self._next_id("scene")
        real_file = video_path is not None and os.path.isfile(video_path)
        fake_os, fake_md5 = self.fake_hashes(f"scene-{sid}-{title}-{video_path}")
        path = video_path or os.path.join(self.general["stashes"][0]["path"], f"scene_{sid}.mp4")
        now = self.now()
        self.scenes[sid] = {
            "id": sid, "title": title, "code": None, "details": details, "director": None,
            "urls": list(urls), "date": date, "rating100": None, "organized": organized,
            "o_counter": 0, "interactive": False, "interactive_speed": None,
            "resume_time": 0.0, "play_duration": 0.0, "play_count": 0, "last_played_at": None,
            "play_history": [], "o_history": [], "created_at": now, "updated_at": now,
            "tag_ids": [str(t) for t in dict.fromkeys(tag_ids)],
            "performer_ids": [str(p) for p in dict.fromkeys(performer_ids)],
            "studio_id": str(studio_id) if studio_id is not None else None,
            "gallery_ids": [], "stash_ids": [],
            "_oshash": oshash or (oshash_of(path) if real_file else fake_os),
            "_checksum": checksum or fake_md5, "_phash": phash,
            "_sprite": sprite, "_vtt": vtt, "_video_path": video_path, "_screenshot": screenshot,
            "_file": {
                "id": self._next_id("file"), "path": path, "basename": os.path.basename(path),
                "parent_folder_id": "1", "zip_file_id": None, "format": "mp4",
                "size": os.path.getsize(path) if real_file else int(duration * 500_000),
                "duration": float(duration), "width": width, "height": height,
                "frame_rate": float(frame_rate), "bit_rate": 4_000_000,
                "video_codec": video_codec, "audio_codec": audio_codec,
                "mod_time": now, "created_at": now, "updated_at": now,
            },
        }
        if callable(vtt):                 # vtt=lambda sprite_name: vtt_text(..., sprite_name)
            self.scenes[sid]["_vtt"] = vtt(self.scene_hash(self.scenes[sid]) + "_sprite.jpg")
        if write_generated:
            self.write_generated_files(sid)
        return sid

    @locked
    def write_generated_files(self, scene_id: str) -> None:
        """Mirror the scene's sprite/VTT into generatedPath/vtt (what the Generate task does)."""
        scene = self.scenes[str(scene_id)]
        vtt_dir = os.path.join(self.general["generatedPath"], "vtt")
        h = self.scene_hash(scene)
        for suffix, data in (("_sprite.jpg", scene["_sprite"]), ("_thumbs.vtt", scene["_vtt"])):
            if data is None:
                continue
            os.makedirs(vtt_dir, exist_ok=True)
            with open(os.path.join(vtt_dir, h + suffix), "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)

    def add_marker(self, scene_id: str, primary_tag_id: str, seconds: float,
                   end_seconds: float | None = None, title: str = "", tag_ids=()) -> str:
        return self.create_marker({"scene_id": scene_id, "primary_tag_id": primary_tag_id,
                                   "seconds": seconds, "end_seconds": end_seconds,
                                   "title": title, "tag_ids": list(tag_ids)})["id"]

    def set_plugin_config(self, plugin_id: str, values: dict) -> None:
        self.configure_plugin(plugin_id, values)

    @locked
    def set_general_config(self, **values) -> None:
        """e.g. ``ffmpegPath=..., generatedPath=..., apiKey=..., pythonPath=...``."""
        self.general.update(values)

    @locked
    def register_plugin(self, plugin_id: str, name: str | None = None, *, tasks=(), hooks=(),
                        settings=(), enabled: bool = True, version: str | None = None,
                        description: str | None = None) -> dict:
        """Make ``plugins``/``pluginTasks`` list a plugin.  tasks: [{name, description}],
        hooks: [{name, description, hooks: [...]}], settings: [{name, display_name, type}]."""
        plugin = {"id": plugin_id, "name": name or plugin_id, "description": description,
                  "url": None, "version": version, "enabled": enabled, "requires": [],
                  "paths": {"javascript": [], "css": []}, "settings": [dict(s) for s in settings]}
        plugin["tasks"] = [{"description": None, **t, "plugin": plugin} for t in tasks]
        plugin["hooks"] = [{"description": None, **h, "plugin": plugin} for h in hooks]
        self.plugins = [p for p in self.plugins if p["id"] != plugin_id] + [plugin]
        return plugin

    # ---------------------------------------------------------------- readers
    @locked
    def scene(self, scene_id) -> dict:
        """Public fields + tag_ids/performer_ids/studio_id + oshash/checksum/path/duration."""
        rec = self.scenes[str(scene_id)]
        out = copy.deepcopy({k: v for k, v in rec.items() if not k.startswith("_")})
        out.update(oshash=rec["_oshash"], checksum=rec["_checksum"], path=rec["_file"]["path"],
                   duration=rec["_file"]["duration"], hash=self.scene_hash(rec))
        return out

    @locked
    def scene_tag_names(self, scene_id) -> list[str]:
        return sorted(self.tags[t]["name"] for t in self.scenes[str(scene_id)]["tag_ids"])

    @locked
    def markers(self, scene_id=None) -> list[dict]:
        """Markers of one scene (or all), ordered by seconds like Scene.scene_markers."""
        ms = [m for m in self.scene_markers.values()
              if scene_id is None or m["scene_id"] == str(scene_id)]
        return copy.deepcopy(sorted(ms, key=lambda m: (m["seconds"], int(m["id"]))))

    @locked
    def tag(self, tag_id) -> dict | None:
        t = self.tags.get(str(tag_id))
        return copy.deepcopy({k: v for k, v in t.items() if not k.startswith("_")}) if t else None

    @locked
    def tag_by_name(self, name: str) -> dict | None:
        """Case-insensitive exact name match (NOCASE, like Stash's FindByName)."""
        for t in self.tags.values():
            if nocase_equal(t["name"], name):
                return self.tag(t["id"])
        return None

    @locked
    def all_tags(self) -> list[dict]:
        return [self.tag(t) for t in self.tags]

    @locked
    def studio(self, studio_id) -> dict | None:
        s = self.studios.get(str(studio_id))
        return copy.deepcopy({k: v for k, v in s.items() if not k.startswith("_")}) if s else None

    @locked
    def performer(self, performer_id) -> dict | None:
        p = self.performers.get(str(performer_id))
        return copy.deepcopy({k: v for k, v in p.items() if not k.startswith("_")}) if p else None

    @locked
    def job(self, job_id) -> dict | None:
        j = self.jobs.get(str(job_id))
        return copy.deepcopy({k: v for k, v in j.items() if not k.startswith("_")}) if j else None

    @locked
    def plugin_settings(self, plugin_id: str) -> dict:
        return copy.deepcopy(self.plugin_config.get(plugin_id, {}))

    @locked
    def hash_of(self, scene_id) -> str:
        return self.scene_hash(self.scenes[str(scene_id)])
