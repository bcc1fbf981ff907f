"""Near-identical consecutive sprite tiles: which tiles need the encoder, which reuse a neighbour.

Why: a static shot (an interview, a title card, a fixed camera, a black stretch) fills several
consecutive tiles of Stash's 81-tile sprite with practically the same picture, and CLIP would spend
the same ~25 ms on each for the same answer. A cheap perceptual difference decides: each tile is
reduced to a 16x9 grid of 10x10-pixel block means (RGB, 0..1), and the difference of two tiles is
the LARGEST block difference in any channel — so a change confined to a small region (someone walking into a
corner) still counts in full, while JPEG noise, which averages out inside a block, does not.

A tile is compared with the last tile that was actually encoded (the anchor), not merely with its
predecessor, so a slow pan or fade cannot creep past the threshold one small step at a time. Only
tiles of the same scene and frame source, adjacent in the batch, are ever paired.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ..kinds import FrameKind
from .types import Frame

GRID = (16, 9)          # blocks across x down: 10x10 px on Stash's 160x90 tiles
DEFAULT_THRESHOLD = 0.02  # tileSkipThreshold: ~5 grey levels in the most-changed block


def signature(image: Image.Image) -> np.ndarray:
    """Block means of the tile, float32 [9, 16, 3] in 0..1 (a box filter: every pixel counts)."""
    small = image.convert("RGB").resize(GRID, Image.Resampling.BOX)
    return np.asarray(small, np.float32) / 255.0


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference of any block in any colour channel: 0 = the same picture, 1 = black
    against white. A colour shift counts as much as a brightness change."""
    return float(np.abs(a - b).max())


def reuse_plan(frames: Sequence[Frame], threshold: float) -> list[int]:
    """For each frame, the index of the frame whose embedding it takes: itself when it must be
    encoded, the anchor (an earlier, encoded tile of the same run) when near-identical to it.
    threshold <= 0 turns skipping off."""
    plan = list(range(len(frames)))
    if threshold <= 0 or len(frames) < 2:
        return plan
    anchor, anchor_sig = -1, None
    for i, frame in enumerate(frames):
        sig = signature(frame.image)
        if (anchor_sig is not None and _adjacent(frames[i - 1], frame)
                and difference(anchor_sig, sig) <= threshold):
            plan[i] = anchor
            continue
        anchor, anchor_sig = i, sig
    return plan


def _adjacent(a: Frame, b: Frame) -> bool:
    """b is the sprite tile right after a in the same scene (a run never spans two scenes)."""
    return (a.scene_id == b.scene_id and a.source == b.source == FrameKind.SPRITE
            and b.index == a.index + 1)


def skipped(plan: Sequence[int]) -> int:
    return sum(1 for i, source in enumerate(plan) if source != i)
