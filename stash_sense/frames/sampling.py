"""Which times of a scene the full-resolution frames are taken at.

Studios put a title card in the first seconds and a watermark over the rest, sometimes only over
part of it. The studio matcher needs the same studio in two frames (one frame can misread; a
watermark persists), so a title card is only caught when two frames fall inside it. Cards are
often only 2-4 s long: the opening is therefore sampled densely, at TITLE_TIMES (0.7 s and 1.7 s
both fall inside any card of 2 s or more that starts within half a second of the start; 2.7 s
catches one that starts after a short fade-in), and the remaining frames are spread evenly at the
middle of equal slices, which keeps them off black first and last frames.

Only scenes of INTRO_MIN_DURATION or more get the opening frames: in a shorter clip the evenly
spread frames already sit close together.
"""
from __future__ import annotations

TITLE_TIMES = (0.7, 1.7, 2.7)   # s: inside a 2-4 s title card at the start
INTRO_MIN_DURATION = 30.0       # s


def title_times(duration: float, count: int) -> list[float]:
    """The opening frames a scene of `duration` s with `count` frames gets (maybe none)."""
    if count < 4 or duration < INTRO_MIN_DURATION:
        return []                   # too few frames to spare, or the spread ones are close
    return list(TITLE_TIMES[:2] if count == 4 else TITLE_TIMES)


def frame_times(duration: float, count: int) -> list[float]:
    """Sorted times (s): dense in the opening when the scene is long enough, the rest evenly
    spread."""
    if count <= 0 or duration <= 0:
        return []
    intro = title_times(duration, count)
    rest = count - len(intro)
    spread = [(i + 0.5) / rest * duration for i in range(rest)]
    return sorted(round(t, 3) for t in intro + spread)


def is_title_time(time: float) -> bool:
    """Whether a frame was taken for a title card (one of TITLE_TIMES): its text is large, so
    OCR reads the whole frame only and skips the full-resolution edge strips."""
    return any(abs(time - t) < 1e-6 for t in TITLE_TIMES)
