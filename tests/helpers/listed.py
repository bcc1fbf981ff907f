"""A scripted analyzer whose findings are listed in the environment, for review workflow tests.

STASH_SENSE_TEST_FINDINGS='[{"kind": "studio", "name": "Acme", "target_id": "1",
"confidence": 0.9}, ...]' — every sprite frame carries the listed items as signals (with their data),
and `findings` turns the stored signals back into exactly those findings: studios and performers
the colour analyzer cannot produce, through the same pipeline, store and writer as real ones.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence

from stash_sense.analyzers.base import Analyzer
from stash_sense.findings import Finding, Segment, Signal


class ListedAnalyzer(Analyzer):
    name = "listed"
    source = "sprite"
    uses_torch = False

    def _load(self) -> None:
        self.items = json.loads(os.environ.get("STASH_SENSE_TEST_FINDINGS", "[]"))

    @property
    def model_id(self) -> str:
        return "scripted:listed/1"

    def analyze(self, frames) -> list[list[Signal]]:
        return [[Signal(f.time, f.span, f"{i['kind']}:{i['name']}", float(i["confidence"]), dict(i))
                 for i in self.items] for f in frames]

    def findings(self, scene, signals: Sequence[Signal]) -> list[Finding]:
        seen: dict[str, Signal] = {}
        for s in signals:
            seen.setdefault(s.key, s)
        out = []
        for s in seen.values():
            d = s.data or {}
            out.append(Finding(kind=d["kind"], name=d["name"], analyzer="listed",
                               category=d.get("category", d["kind"]), confidence=s.score,
                               segments=(Segment(0.0, scene.duration, s.score),),
                               target_id=d.get("target_id")))
        return out
