"""List, download and verify the catalog's weights: shared by `python -m stash_sense models` and the
Tasks-page task "Download and verify models" (mode `models`)."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import log
from ..errors import EnvironmentProblem
from .download import human_size
from .weights import Weight


@dataclass
class Outcome:
    weight: Weight
    ok: bool
    message: str
    seconds: float = 0.0


def describe(w: Weight) -> str:
    state = ("random weights" if w.random else "bundled" if w.bundled and w.present
             else "present" if w.present else "MISSING")
    size = f", {human_size(w.size)}" if w.present and not w.random else ""
    where = f" at {w.found or w.path}" if (w.found or w.path) else ""
    return f"{w.analyzer}: {w.name} — {state}{size}{where} (from {w.source})"


def download_missing(weights: Sequence[Weight],
                     progress: Callable[[float], None] | None = None) -> list[Outcome]:
    """Fetch every weight that is not present; one failure does not stop the others."""
    todo = [w for w in weights if not w.present]
    outcomes = []
    for i, w in enumerate(todo):
        def step(fraction: float, i: int = i) -> None:
            if progress:
                progress((i + min(max(fraction, 0.0), 1.0)) / len(todo))
        started = time.perf_counter()
        try:
            w.download(step)
            outcomes.append(Outcome(w, True, f"downloaded to {w.found or w.path}",
                                    time.perf_counter() - started))
        except EnvironmentProblem as exc:
            log.error(str(exc))
            outcomes.append(Outcome(w, False, str(exc), time.perf_counter() - started))
        step(1.0)
    return outcomes


def verify(weights: Sequence[Weight],
           progress: Callable[[float], None] | None = None) -> list[Outcome]:
    """Load each weight through its analyzer's code; missing ones fail with where to put them."""
    outcomes = []
    for i, w in enumerate(weights):
        started = time.perf_counter()
        if not w.present:
            outcomes.append(Outcome(w, False, f"missing: run `python -m stash_sense models "
                                    f"download`, or place {w.source} at {w.path}"))
        else:
            try:
                w.verify()
                outcomes.append(Outcome(w, True, "loads", time.perf_counter() - started))
            except EnvironmentProblem as exc:
                outcomes.append(Outcome(w, False, str(exc), time.perf_counter() - started))
        if progress:
            progress((i + 1) / len(weights))
    return outcomes
