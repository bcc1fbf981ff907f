"""Sprite-sheet frames: Stash's 9x9 grid of 160 px tiles, each timed by its VTT cue.

The limits below are far above anything Stash makes (a sprite is 9 x 160 px wide and a few hundred
KB; its VTT 81 cues, about 6 KB) and far below what would hurt: a file beyond them is damaged or
crafted, and fails its scene with a reason (issue #8, case 7).
"""
from __future__ import annotations

from PIL import Image

from .. import log
from ..errors import FramesUnavailable
from ..kinds import FrameKind
from ..stash.client import StashClient
from .decode import decode_image
from .download import download
from .types import Frame, FrameSource, SceneMedia
from .vtt import STASH_CUES, Cue, missing_cues, parse_vtt

_NO_SPRITE = "no sprite: run Tasks > Generate > Sprites for this scene, then tag it again"
REGENERATE = "regenerate sprites (Tasks > Generate > Sprites, overwrite)"
MAX_SPRITE_PIXELS = 50_000_000     # 1440 px wide: a 1:20 portrait video still fits
MAX_SPRITE_BYTES = 32 * 2**20
MAX_VTT_BYTES = 2**20


def decode_sprite(data: bytes) -> Image.Image:
    return decode_image(data, "sprite image", REGENERATE, max_pixels=MAX_SPRITE_PIXELS)


def slice_tiles(sheet: Image.Image, cues: list[Cue], scene_id: str) -> list[Frame]:
    frames: list[Frame] = []
    for index, cue in enumerate(cues):
        if cue.x + cue.w > sheet.width or cue.y + cue.h > sheet.height or cue.w <= 0 or cue.h <= 0:
            raise FramesUnavailable(
                f"the sprite VTT points outside the sprite image (cue {index + 1}): {REGENERATE}")
        tile = sheet.crop((cue.x, cue.y, cue.x + cue.w, cue.y + cue.h))
        frames.append(Frame(scene_id=scene_id, index=index, time=cue.start,
                            span=max(cue.end - cue.start, 0.0), image=tile,
                            source=FrameKind.SPRITE))
    return frames


class SpriteSource(FrameSource):
    """Fetches the sprite and VTT through the URLs Stash's GraphQL gives, with the session's auth."""

    name = FrameKind.SPRITE

    def __init__(self, client: StashClient, deadline: float | None = None):
        self.client = client
        self.deadline = deadline      # None: download's default (STASH_SENSE_FETCH_TIMEOUT)

    def _get(self, url: str | None, what: str, max_bytes: int) -> bytes:
        if not url:
            raise FramesUnavailable(_NO_SPRITE)
        return download(self.client, url, what, max_bytes=max_bytes, deadline=self.deadline,
                        not_found=_NO_SPRITE, fix=REGENERATE)

    def frames(self, scene: SceneMedia) -> list[Frame]:
        vtt_text = self._get(scene.vtt_url, "sprite VTT", MAX_VTT_BYTES).decode(
            "utf-8", errors="replace")
        cues = parse_vtt(vtt_text)
        sheet = decode_sprite(self._get(scene.sprite_url, "sprite image", MAX_SPRITE_BYTES))
        frames = slice_tiles(sheet, cues, scene.id)
        missing = missing_cues(cues)
        if missing:      # issue #8 case 11: tag from the tiles that have a time, but say so
            log.warning(f"{scene.label}: the sprite VTT is missing {missing} of its {STASH_CUES} "
                        "cues (Stash's sprite generator was interrupted?); the scene is tagged "
                        "from the other tiles. Regenerate sprites for this scene (Tasks > "
                        "Generate > Sprites, overwrite) and tag it again for full coverage")
        return frames
