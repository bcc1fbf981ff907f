"""Scripted analyzers for workflow tests: deterministic, no model, same interface as the real ones.

`ColorAnalyzer` scores each sprite tile by how red / blue / green it is, so a test paints a scene's
sprite red between 100 s and 300 s (tests/standin/media.synthetic_sprite) and expects a `Red` tag
with a marker over that stretch. `SlowColorAnalyzer` sleeps per frame so a test can SIGKILL the
plugin in the middle of a batch.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np

from stash_sense.aggregate import aggregate_tag, rule_from_settings
from stash_sense.analyzers.base import Analyzer
from stash_sense.findings import Finding, Signal

COLORS = {"Red": 0, "Green": 1, "Blue": 2}


class ColorAnalyzer(Analyzer):
    name = "color"
    source = "sprite"
    uses_torch = False

    def _load(self) -> None:
        pass

    @property
    def model_id(self) -> str:
        return "scripted:color/1"

    def analyze(self, frames) -> list[list[Signal]]:
        out = []
        for frame in frames:
            rgb = np.asarray(frame.image.convert("RGB"), dtype=np.float32).mean(axis=(0, 1)) / 255.0
            total = float(rgb.sum()) or 1.0
            out.append([Signal(frame.time, frame.span, name, float(rgb[i]) / total)
                        for name, i in COLORS.items()])
        return out

    def findings(self, scene, signals: Sequence[Signal]) -> list[Finding]:
        found = []
        for name in COLORS:
            points = [(s.time, s.span, s.score) for s in signals if s.key == name]
            result = aggregate_tag(points, rule_from_settings(self.ctx.settings, 0.6, scene.duration))
            if result.passed:
                found.append(Finding(kind="tag", name=name, analyzer="color", category="colour",
                                     confidence=result.confidence, segments=result.segments,
                                     markers=True))
        return found


class SlowColorAnalyzer(ColorAnalyzer):
    """Sleeps STASH_SENSE_TEST_DELAY seconds per frame (default 0.01)."""

    def analyze(self, frames):
        time.sleep(float(os.environ.get("STASH_SENSE_TEST_DELAY", "0.01")) * len(frames))
        return super().analyze(frames)
