"""Per-frame scores over time -> segments and a scene-level decision. Pure functions.

Each frame stands for the stretch [time, time + span) (a sprite tile for its VTT cue, ~duration/81).
Frames at or above the threshold are hits; hits whose gap (start of the next minus end of the
previous) is within `gap` seconds join one segment, so a tag seen at 0:10 and again at 0:50 with a
40 s tolerance is one continuous segment. All tolerances are seconds, never frame counts, because
the sprite step differs per scene.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..findings import Segment
from ..settings import Settings, parse_duration


@dataclass(frozen=True)
class TimeRule:
    threshold: float          # per-frame score needed for a hit
    gap: float                # seconds of tolerated gap between hits inside one segment
    min_segment: float        # segments shorter than this (seconds) are dropped
    required: float           # seconds of detected time needed for the scene-level tag


@dataclass(frozen=True)
class TagResult:
    detected: float                  # seconds covered by hits
    confidence: float                # mean score of the hits
    segments: tuple[Segment, ...]    # after gap merging and the minimum length
    passed: bool                     # scene-level decision


def merge_cells(cells: Iterable[tuple[float, float, float]], gap: float) -> list[Segment]:
    """(start, end, score) cells -> segments: cells whose gap (start of the next minus end of the
    merged run so far) is within `gap` seconds join one segment scored by the mean of its cells.
    The one merge rule of both readings of a frame's time (here and timeline.py)."""
    segments: list[Segment] = []
    run: tuple[float, float, list[float]] | None = None
    for start, end, score in sorted(cells):
        if run is not None and start - run[1] <= gap + 1e-9:
            run = (run[0], max(run[1], end), run[2] + [score])
            continue
        if run is not None:
            segments.append(Segment(run[0], run[1], sum(run[2]) / len(run[2])))
        run = (start, end, [score])
    if run is not None:
        segments.append(Segment(run[0], run[1], sum(run[2]) / len(run[2])))
    return segments


def find_segments(points: Iterable[tuple[float, float, float]], threshold: float, gap: float,
                  min_segment: float) -> list[Segment]:
    """points: (time, span, score). Returns merged segments at least `min_segment` long."""
    hits = [(t, t + max(span, 0.0), score) for t, span, score in points if score >= threshold]
    return [s for s in merge_cells(hits, gap) if s.length + 1e-9 >= min_segment]


def aggregate_tag(points: Sequence[tuple[float, float, float]], rule: TimeRule) -> TagResult:
    hits = [(t, span, score) for t, span, score in points if score >= rule.threshold]
    detected = sum(span for _, span, _ in hits)
    confidence = sum(score for _, _, score in hits) / len(hits) if hits else 0.0
    segments = tuple(find_segments(points, rule.threshold, rule.gap, rule.min_segment))
    passed = bool(hits) and detected + 1e-9 >= rule.required
    return TagResult(detected, confidence, segments, passed)


def rule_from_settings(settings: Settings, threshold: float, scene_duration: float) -> TimeRule:
    """The settings' time rule for one tag; a `threshold` setting overrides the vocabulary's."""
    return TimeRule(threshold=settings.threshold or threshold, gap=settings.gapSeconds,
                    min_segment=settings.minSegmentSeconds,
                    required=parse_duration(settings.requiredDuration, scene_duration,
                                            key="requiredDuration"))
