"""A strict parser for the sprite VTT Stash writes (`<hash>_thumbs.vtt`). Pure, no I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import FramesUnavailable

# Numbers are bounded in length: a damaged file with a 5000-digit number must read as "broken",
# not make int() raise (Python refuses to convert more than 4300 digits).
_TIME = r"(\d{1,6}):(\d{2}):(\d{2})[.,](\d{3})"
_CUE = re.compile(rf"^{_TIME}\s+-->\s+{_TIME}")
_XYWH = re.compile(r"^([^#]*)#xywh=(\d{1,7}),(\d{1,7}),(\d{1,7}),(\d{1,7})$", re.IGNORECASE)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    image: str
    x: int
    y: int
    w: int
    h: int


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000.0


def parse_vtt(text: str) -> list[Cue]:
    """Return the cues in order. Raises FramesUnavailable for anything that is not a sprite VTT."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    if not lines or not lines[0].startswith("WEBVTT"):
        raise FramesUnavailable("the sprite VTT is broken (no WEBVTT header): "
                                "regenerate sprites (Tasks > Generate > Sprites, overwrite)")
    cues: list[Cue] = []
    i = 1
    while i < len(lines):
        match = _CUE.match(lines[i])
        if not match:
            i += 1
            continue
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        target = lines[i + 1] if i + 1 < len(lines) else ""
        xywh = _XYWH.match(target)
        if not xywh or end < start:
            raise FramesUnavailable(f"the sprite VTT is broken near line {i + 1}: regenerate "
                                    "sprites (Tasks > Generate > Sprites, overwrite)")
        image, x, y, w, h = xywh.groups()
        cues.append(Cue(start, end, image, int(x), int(y), int(w), int(h)))
        i += 2
    if not cues:
        raise FramesUnavailable("the sprite VTT has no cues: regenerate sprites "
                                "(Tasks > Generate > Sprites, overwrite)")
    return cues


STASH_CUES = 81          # Stash's sprite is always a 9x9 grid, one cue per tile, back to back
_TOLERANCE = 0.0015      # s; Stash writes cue i's end and cue i+1's start from the same number


def missing_cues(cues: list[Cue]) -> int:
    """How many cues a sprite VTT lacks (Stash's sprite generator interrupted, a damaged file).

    Stash writes 81 back-to-back cues starting at 0: a hole in time, a late first cue, or fewer
    than 81 cues means tiles without a time. Counted from the holes (in cue lengths) and from the
    count, whichever says more. Never an error: the tiles that have cues are still good."""
    if not cues:
        return STASH_CUES
    lengths = sorted(c.end - c.start for c in cues)
    step = lengths[len(lengths) // 2] or 1.0
    holes = [cues[0].start] + [b.start - a.end for a, b in zip(cues, cues[1:])]
    from_holes = sum(max(1, round(h / step)) for h in holes if h > _TOLERANCE)
    return max(from_holes, STASH_CUES - len(cues))
