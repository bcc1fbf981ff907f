"""How good is a tag of the plugin on *this* library: precision and recall against the user's tags.

Which scenes count, and why: a scene the user tagged with the tag is a positive; a scene they
marked organized without it is a negative (they looked at it and decided). Any other scene is
unknown — most libraries are tagged incompletely, and counting every untagged scene as a negative
would call a correct tag wrong. The plugin's score for a scene is its finding's confidence (0 when
it found nothing), recomputed from stored results with the current settings.

The threshold for a target precision is the lowest confidence at which the findings above it are
at least that precise: setting the tag's apply threshold there (or the global applyThreshold, if
one tag matters) makes what is written that good on this library, at the recall shown.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class TagQuality:
    name: str                  # the plugin's tag name
    user_tag: str              # the user's tag it matched (name or alias)
    evaluated: int             # scenes with a known answer
    positives: int             # of them, carrying the user's tag
    found: int                 # of them, where the plugin finds the tag now
    precision: float | None
    recall: float | None
    threshold: float | None    # lowest confidence reaching the target precision (None: never)
    precision_at: float | None
    recall_at: float | None
    note: str = ""

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def tag_quality(name: str, user_tag: str, scores: Mapping[str, float], truth: set[str],
                evaluated: set[str], target: float) -> TagQuality:
    ids = sorted(evaluated)
    s = np.array([scores.get(i, 0.0) for i in ids], float)
    t = np.array([i in truth for i in ids], bool)
    found = s > 0
    tp, fp, pos = int((found & t).sum()), int((found & ~t).sum()), int(t.sum())
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / pos if pos else None
    threshold = p_at = r_at = None
    note = ""
    if found.any():
        order = np.argsort(-s[found], kind="stable")
        fs, ft = s[found][order], t[found][order]
        ctp, cfp = np.cumsum(ft), np.cumsum(~ft)
        last = np.r_[fs[1:] != fs[:-1], True]
        prec = ctp / (ctp + cfp)
        ok = np.nonzero(last & (prec >= target) & (ctp > 0))[0]
        if len(ok):
            k = ok[-1]
            threshold, p_at, r_at = float(fs[k]), float(prec[k]), float(ctp[k] / max(pos, 1))
        else:
            note = f"no confidence threshold reaches precision {target:.2f} on this library"
    elif pos:
        note = "the plugin finds it on none of the scenes you tagged"
    return TagQuality(name, user_tag, len(ids), pos, int(found.sum()), precision, recall,
                      threshold, p_at, r_at, note)
