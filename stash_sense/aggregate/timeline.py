"""Time ranges for things seen in individual video frames (a performer's face, a studio's
watermark): each frame stands for the stretch *centred* on its time, clipped to the scene.

Why centred: a video frame is a sample at `time`; the frames around it are a `span` apart, so the
thing was most likely on screen from half a span before to half a span after. Starting the range
at `time` shifts every range by half a span and lets the last one run past the scene's end.
Neighbouring stretches (within `gap` seconds) become one range whose score is the mean of its own
frames — not the scene-wide average — so a weak stretch and a strong one stay distinguishable.
Pure; shared by the faces and OCR (studio) findings.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..findings import Segment
from .segments import merge_cells


def centred_segments(points: Iterable[tuple[float, float, float]], duration: float | None,
                     gap: float = 0.5) -> list[Segment]:
    """points: (frame time, span, score) -> sorted, merged segments inside [0, duration]."""
    end_of_scene = duration if duration and duration > 0 else None
    cells: list[tuple[float, float, float]] = []
    for t, span, score in points:
        half = max(span, 0.0) / 2
        start, end = max(0.0, t - half), t + half
        if end_of_scene is not None:
            end = min(end, end_of_scene)
            start = min(start, end)
        cells.append((start, end, float(score)))
    return merge_cells(cells, gap)
