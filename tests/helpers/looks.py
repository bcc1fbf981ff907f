"""A small library of visually distinct generated scenes for find-by-look tests: sprites of
stripes, checks or soft noise, each scene in its own jittered colours. A random-weight tiny CLIP
(tests/fixtures/tiny-clip.json) maps the kinds to different directions, so "similar" has a known
answer: the scenes of the same kind."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from tests.standin.media import synthetic_sprite, vtt_text

TINY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "tiny-clip.json")
KINDS = ("stripes", "checks", "noise")
BASE = {"stripes": (220, 120, 40), "checks": (40, 90, 210), "noise": (60, 170, 80)}


def look(kind: str, rng: np.random.Generator):
    a = np.clip(np.array(BASE[kind]) + rng.integers(-25, 26, 3), 0, 255)
    b = np.clip(255 - a + rng.integers(-25, 26, 3), 0, 255)

    def tile(t: float) -> Image.Image:
        y, x = np.mgrid[0:90, 0:160]
        if kind == "stripes":
            mask = (x // 10) % 2 == 0
        elif kind == "checks":
            mask = ((x // 20) + (y // 20)) % 2 == 0
        else:
            mask = rng.random((90, 160)) < 0.5
        img = np.where(mask[..., None], a, b) + rng.integers(-8, 9, (90, 160, 1))
        return Image.fromarray(np.clip(img, 0, 255).astype("uint8"), "RGB")
    return tile


def add_look_scene(stash, kind: str, n: int, rng, tag_ids, duration: float = 600):
    jpeg, _ = synthetic_sprite(duration, look(kind, rng))
    return stash.add_scene(title=f"{kind} {n}", duration=duration, sprite=jpeg, tag_ids=tag_ids,
                           vtt=lambda name: vtt_text(duration, 160, 90, name))


def build_library(stash, per_kind: int = 4, seed: int = 5) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    tagme = stash.tag_by_name("StashSense_TagMe") or {"id": stash.add_tag("StashSense_TagMe")}
    return {kind: [add_look_scene(stash, kind, n, rng, [tagme["id"]]) for n in range(per_kind)]
            for kind in KINDS}


def clip_settings(**extra) -> dict:
    return {"analyzers": "clip", "clipModel": TINY, "clipPretrained": "none", "batchSize": 81,
            **extra}
