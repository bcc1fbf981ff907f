"""Sprite-tile thumbnails for results: the scene's sprite URL plus the tile's xywh from its VTT.

Why not a data URL of the cropped tile: the browser already holds Stash's session and caches the
sprite sheet (one image for all of a scene's moments); a data URL would make the operation decode
JPEGs (Pillow) and send ~6 KB per moment through runPluginOperation. Why not leave the VTT to the
UI: the operation answer then carries everything needed to draw the result (tests can check the
exact tile), and the VTT is a few KB read from Stash's local HTTP server.

Standard library only (runs in the light operation process).
"""
from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from ..errors import StashSenseError
from ..frames.vtt import Cue, parse_vtt
from ..stash.client import StashClient

if TYPE_CHECKING:
    from ..stash.transport import Timeout

TIMEOUT: Timeout = (10.0, 10.0)


class SpriteTiles:
    """Fetches and parses each scene's VTT once; `thumbnail(scene, time)` -> the tile dict."""

    def __init__(self, client: StashClient):
        self.client = client
        self._cues: dict[str, list[Cue] | None] = {}

    def thumbnail(self, scene: dict[str, Any], time: float) -> dict[str, Any] | None:
        paths = scene.get("paths") or {}
        vtt_url = paths.get("vtt")
        if not vtt_url:
            return None
        cues = self._cues_of(str(scene["id"]), vtt_url)
        if not cues:
            return None
        starts = [c.start for c in cues]
        cue = cues[max(0, bisect.bisect_right(starts, time + 0.01) - 1)]
        return {"url": urljoin(vtt_url, cue.image) if cue.image else paths.get("sprite"),
                "x": cue.x, "y": cue.y, "w": cue.w, "h": cue.h, "time": round(float(time), 2)}

    def _cues_of(self, scene_id: str, url: str) -> list[Cue] | None:
        if scene_id not in self._cues:
            try:
                self._cues[scene_id] = parse_vtt(self._get(url).decode("utf-8", "replace"))
            except (StashSenseError, OSError):
                self._cues[scene_id] = None      # no sprites yet: the UI shows a placeholder
        return self._cues[scene_id]

    def _get(self, url: str) -> bytes:
        with self.client.open_stream(url, TIMEOUT) as response:
            if response.status != 200:
                raise OSError(f"HTTP {response.status}")
            return response.read()
