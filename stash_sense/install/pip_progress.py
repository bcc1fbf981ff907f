"""pip's output -> a fraction for Stash's job bar, and which lines are worth Stash's log.

pip does not say up front how many packages it will fetch, and `--progress-bar` bars are not
lines. What it does print, one line each: "Collecting X" per package it resolves, "Downloading
X.whl (N MB)" per file it fetches, "Installing collected packages: a, b, ..." once everything is
downloaded, "Successfully installed ..." at the end. So the bar advances with every package
collected (approaching, never reaching, the install phase), jumps at the install phase, and is
full only when pip says it succeeded. Honest about what it knows; never moves backwards.
"""
from __future__ import annotations

COLLECT_SHARE = 0.8          # of a pip step, up to "Installing collected packages"
COLLECT_HALF = 6             # packages collected at which half of COLLECT_SHARE is shown
INFO_PREFIXES = ("Collecting", "Downloading", "Installing collected packages", "Successfully",
                 "ERROR", "WARNING", "Looking in indexes")


class PipProgress:
    def __init__(self) -> None:
        self.collected = 0
        self.fraction = 0.0

    def feed(self, line: str) -> float:
        text = line.strip()
        if text.startswith("Collecting "):
            self.collected += 1
            value = COLLECT_SHARE * self.collected / (self.collected + COLLECT_HALF)
        elif text.startswith("Installing collected packages"):
            value = COLLECT_SHARE
        elif text.startswith("Successfully installed"):
            value = 1.0
        else:
            value = self.fraction
        self.fraction = max(self.fraction, value)
        return self.fraction


def worth_logging(line: str) -> bool:
    """Lines shown at info level; the rest (already-satisfied, metadata noise) go to debug."""
    return line.strip().startswith(INFO_PREFIXES)
