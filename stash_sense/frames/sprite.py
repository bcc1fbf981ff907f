"""Sprite-sheet frames: Stash's 9x9 grid of 160 px tiles, each timed by its VTT cue."""
from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from ..errors import FramesUnavailable
from ..stash.client import StashClient
from .types import Frame, FrameSource, SceneMedia
from .vtt import Cue, parse_vtt

_NO_SPRITE = "no sprite: run Tasks > Generate > Sprites for this scene, then tag it again"


def decode_sprite(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # force a full decode: a truncated JPEG fails here, not later
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, ImportError) as exc:
        raise FramesUnavailable("the sprite image is corrupt "
                                f"({type(exc).__name__}): regenerate sprites "
                                "(Tasks > Generate > Sprites, overwrite)") from None
    return image.convert("RGB")


def slice_tiles(sheet: Image.Image, cues: list[Cue], scene_id: str) -> list[Frame]:
    frames: list[Frame] = []
    for index, cue in enumerate(cues):
        if cue.x + cue.w > sheet.width or cue.y + cue.h > sheet.height or cue.w <= 0 or cue.h <= 0:
            raise FramesUnavailable(
                f"the sprite VTT points outside the sprite image (cue {index + 1}): "
                "regenerate sprites (Tasks > Generate > Sprites, overwrite)")
        tile = sheet.crop((cue.x, cue.y, cue.x + cue.w, cue.y + cue.h))
        frames.append(Frame(scene_id=scene_id, index=index, time=cue.start,
                            span=max(cue.end - cue.start, 0.0), image=tile, source="sprite"))
    return frames


class SpriteSource(FrameSource):
    """Fetches the sprite and VTT through the URLs Stash's GraphQL gives, with the session's auth."""

    name = "sprite"

    def __init__(self, client: StashClient):
        self.client = client

    def _get(self, url: str | None, what: str) -> bytes:
        if not url:
            raise FramesUnavailable(_NO_SPRITE)
        response = self.client.fetch(url)
        if response.status_code == 404:
            raise FramesUnavailable(_NO_SPRITE)
        if response.status_code != 200:
            raise FramesUnavailable(f"Stash answered HTTP {response.status_code} for the {what}")
        return response.content

    def frames(self, scene: SceneMedia) -> list[Frame]:
        vtt_text = self._get(scene.vtt_url, "sprite VTT").decode("utf-8", errors="replace")
        sheet = decode_sprite(self._get(scene.sprite_url, "sprite image"))
        return slice_tiles(sheet, parse_vtt(vtt_text), scene.id)
