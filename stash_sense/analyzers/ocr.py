"""Studio watermarks and title cards: OCR on full-resolution frames, matched to Stash's studios.

Reading a frame (`read_frame`): watermarks are small and sit along the top or bottom edge (a
corner or the bottom centre); title cards are large and central. One pass over the whole frame,
scaled down to FULL_SIDE (960 px) on its long side, reads the large text cheaply. When that
scaling lost pixels (720p and up; 4K is capped to 1920 by the frame source), the top and bottom
strips (EDGE_H of the height, full width, so nothing along an edge is cut in two) are read again
at full resolution, upscaled to 216 px high when lower. Lines found twice are kept once
(`merge_readings`): the strip's full-resolution reading wins, unless it is cut by the strip's
inner edge or the whole-frame line reaches beyond it, so a reading is never replaced by a part of
itself (issue #10: a 36 %-wide corner crop read "ple Studios" of "Pineapple Studios" and replaced
it). Frames taken for a title card (frames.sampling.TITLE_TIMES) read the whole frame only.
The ONNX Runtime sessions run on one thread (models/ocr.py OCR_THREADS). Figures for these choices
are in the README ("Studio from watermarks"), measured with tools/ocr_accuracy.py.
Every line is stored as raw result (Signal.data: text, confidence, box in frame pixels, region),
so matching can be redone from the store when studios or settings change.

Matching (`findings`, pure): stash_sense.studios — normalise, fuzzy-match names and aliases with
a minimum score (studioMinScore), and require the same studio to be the best match in at least
two frames. The writer sets the studio only on a scene that has none (applyStudio); a scene that
has another one keeps it and the reading becomes a suggestion.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from .. import log
from ..aggregate import find_segments
from ..findings import Finding, Segment, Signal
from ..frames.sampling import is_title_time
from ..frames.types import Frame, SceneMedia
from ..kinds import Kind
from ..models.ocr import OCR, Line, OcrEngine
from ..studios import StudioMatcher
from .base import Analyzer

KEY = "ocr"            # one signal per frame; its data holds every line read
FULL_SIDE = 960        # px: the long side of the whole-frame pass
EDGE_H = 0.2           # the top and bottom strips, as a share of the frame's height
EDGE_MIN_H = 216       # px: lower strips are upscaled to this
EDGE_MAX_UP = 2.5
MIN_CONFIDENCE = 0.5   # lines the recogniser itself doubts are dropped
COMPOSITE_FRAMES = 3   # frames per temporal median (a watermark over noise or a busy picture)
READER_VERSION = "r2"  # bump when read_frame changes what it stores


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    if abs(factor - 1.0) < 1e-3:
        return image
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.BICUBIC if factor > 1 else Image.BILINEAR)


def regions(width: int, height: int) -> list[tuple[str, tuple[int, int, int, int]]]:
    """The edge strips (name, (left, top, right, bottom)) of a frame: full width, so that a
    watermark in a corner or at the bottom centre lies whole inside one."""
    eh = round(height * EDGE_H)
    return [("top", (0, 0, width, eh)), ("bottom", (0, height - eh, width, height))]


def _bounds(box: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a, b) -> float:
    """Intersection over the smaller box."""
    ax0, ay0, ax1, ay1 = _bounds(a)
    bx0, by0, bx1, by1 = _bounds(b)
    iw, ih = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0)) or 1.0
    return iw * ih / smaller


def _lines(found: list[Line], region: str, scale: float, dx: float, dy: float) -> list[dict]:
    out = []
    for text, conf, box in found:
        text = text.strip()
        if not text or conf < MIN_CONFIDENCE:
            continue
        frame_box = [[round(x / scale + dx, 1), round(y / scale + dy, 1)] for x, y in box]
        out.append({"text": text, "conf": round(conf, 4), "box": frame_box, "region": region})
    return out


def _cut_by_crop(line: dict, crop: tuple[int, int, int, int], width: int, height: int) -> bool:
    """Whether a strip's line touches a side of the strip that lies inside the frame: the text
    goes on beyond it, so the line holds only part of it ("ple Studios")."""
    x0, y0, x1, y1 = _bounds(line["box"])
    cx0, cy0, cx1, cy1 = crop
    margin = max(2.0, 0.15 * (y1 - y0))
    return ((cx0 > 0 and x0 - cx0 < margin) or (cx1 < width and cx1 - x1 < margin)
            or (cy0 > 0 and y0 - cy0 < margin) or (cy1 < height and cy1 - y1 < margin))


def _reaches_beyond(outer: dict, inner: dict) -> bool:
    """Whether `outer` spans clearly more than `inner` (more than a third of a line height
    further on some side): then `inner` read only part of the same text."""
    ox0, oy0, ox1, oy1 = _bounds(outer["box"])
    ix0, iy0, ix1, iy1 = _bounds(inner["box"])
    slack = (iy1 - iy0) / 3
    return ix0 - ox0 > slack or ox1 - ix1 > slack


def merge_readings(full: list[dict], corners: list[dict], crops: dict[str, tuple],
                   width: int, height: int) -> list[dict]:
    """One reading per piece of text, never a worse one in place of a better one.

    `corners`: lines read in crops of the frame (the edge strips), at full resolution, so where
    both passes read the same text the crop's reading is kept — unless it is cut by the crop's
    inner edge, or the whole-frame line reaches clearly beyond it: then the crop saw only part of
    the text (issue #10: a cut-off "ple Studios" used to replace "Pineapple Studios")."""
    corners = [c for c in corners
               if not (_cut_by_crop(c, crops[c["region"]], width, height)
                       and any(_overlap(f["box"], c["box"]) > 0.5 for f in full))]
    kept_full, dropped = [], set()
    for line in full:
        twins = [i for i, c in enumerate(corners) if _overlap(line["box"], c["box"]) > 0.5]
        if twins and not any(_reaches_beyond(line, corners[i]) for i in twins):
            continue                      # the crop read the same text at full resolution
        if twins:
            dropped.update(twins)         # the whole line is more than the crop saw
        kept_full.append(line)
    return kept_full + [c for i, c in enumerate(corners) if i not in dropped]


def read_frame(engine: OcrEngine, image: Image.Image, edges: bool = True) -> list[dict[str, Any]]:
    """Every line of text in one frame: [{text, conf, box (frame px), region}]. edges=False
    reads only the whole frame (title-card frames: their text is large)."""
    w, h = image.size
    scale = min(1.0, FULL_SIDE / max(w, h))
    full = _lines(engine.read(_scaled(image, scale)), "full", scale, 0, 0)
    if scale >= 1.0 or not edges:
        return full          # the whole-frame pass saw every pixel, or only large text matters
    corners: list[dict] = []
    crops = dict(regions(w, h))
    for name, (x0, y0, x1, y1) in crops.items():
        up = min(EDGE_MAX_UP, max(1.0, EDGE_MIN_H / max(y1 - y0, 1)))
        crop = _scaled(image.crop((x0, y0, x1, y1)), up)
        corners += _lines(engine.read(crop), name, up, x0, y0)
    return merge_readings(full, corners, crops, w, h)


def _signal(time: float, span: float, lines: list[dict], size, **extra) -> Signal:
    confidence = max((ln["conf"] for ln in lines), default=0.0)
    return Signal(time, span, KEY, confidence, {"lines": lines, "size": list(size), **extra})


def composite_windows(frames: Sequence[Frame]) -> list[tuple[int, list[int]]]:
    """(anchor, window) per temporal composite: COMPOSITE_FRAMES consecutive evenly spread
    frames of one scene (title-card frames left out), the first and the last such run; the
    composite's signal goes with the window's middle frame."""
    by_scene: dict[str, list[int]] = {}
    for i, f in enumerate(frames):
        if not is_title_time(f.time):
            by_scene.setdefault(f.scene_id, []).append(i)
    out = []
    for idx in by_scene.values():
        if len(idx) < COMPOSITE_FRAMES or len({frames[i].image.size for i in idx}) != 1:
            continue
        windows = [idx[:COMPOSITE_FRAMES]]
        if len(idx) > COMPOSITE_FRAMES:
            windows.append(idx[-COMPOSITE_FRAMES:])
        out += [(w[len(w) // 2], w) for w in windows]
    return out


def median_image(images: Sequence[Image.Image]) -> Image.Image:
    """Per-pixel median of three frames: a static overlay (a watermark) stays as it is, while
    what moves under it (noise, a busy picture) is replaced by what two frames agree on, which
    is mostly background smoothed of its detail."""
    a, b, c = (np.asarray(im.convert("RGB")) for im in images[:3])
    low, high = np.minimum(a, b), np.maximum(a, b)
    return Image.fromarray(np.maximum(low, np.minimum(high, c)))


class OcrAnalyzer(Analyzer):
    name = "ocr"
    source = "video"

    def _load(self) -> None:
        settings = self.ctx.settings
        self.engine = OCR.load(settings, self.ctx.device)
        if settings.videoFrames < 2:
            log.warning(f"videoFrames is {settings.videoFrames}: a studio needs to be read in at "
                        "least 2 frames, so none will be found; set videoFrames to 8")

    @property
    def model_id(self) -> str:
        return f"ocr:{self.engine.model_id}/{READER_VERSION}"

    def analyze(self, frames: Sequence[Frame]) -> list[list[Signal]]:
        out = []
        for frame in frames:
            lines = read_frame(self.engine, frame.image, edges=not is_title_time(frame.time))
            out.append([_signal(frame.time, frame.span, lines, frame.image.size)])
        for anchor, window in composite_windows(frames):
            image = median_image([frames[i].image for i in window])
            lines = read_frame(self.engine, image)
            out[anchor].append(_signal(frames[anchor].time, 0.0, lines, image.size,
                                       composite=[frames[i].time for i in window]))
        return out

    def findings(self, scene: SceneMedia, signals: Sequence[Signal]) -> list[Finding]:
        studios = getattr(self.ctx.references, "studios", None) or []
        key = (id(studios), len(studios), self.ctx.settings.studioMinScore)
        if getattr(self, "_matcher_key", None) != key:   # built once per task, not per scene
            self._matcher = StudioMatcher(studios, self.ctx.settings.studioMinScore)
            self._matcher_key = key
        return studio_findings(self._matcher, scene, signals)


def frame_texts(signals: Sequence[Signal]) -> list[tuple[float, float, list[str]]]:
    """(time, span, texts) per frame: each line, plus lines that sit together joined into one
    (a logo set on two lines, a name the detector cut in two)."""
    frames = []
    for s in signals:
        if s.key != KEY or not s.data:
            continue
        lines = s.data.get("lines") or []
        texts = [ln["text"] for ln in lines]
        texts += [" ".join(ln["text"] for ln in group) for group in _groups(lines) if len(group) > 1]
        frames.append((s.time, s.span, texts))
    return frames


def _groups(lines: list[dict]) -> list[list[dict]]:
    """Lines whose boxes nearly touch (gap under one line height), in reading order."""
    boxes = [_bounds(ln["box"]) for ln in lines]
    parent = list(range(len(lines)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            height = max(a[3] - a[1], b[3] - b[1])
            gap_x = max(a[0], b[0]) - min(a[2], b[2])
            gap_y = max(a[1], b[1]) - min(a[3], b[3])
            if gap_x < height and gap_y < 0.6 * height:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(lines)):
        groups.setdefault(root(i), []).append(i)
    return [[lines[i] for i in _reading_order(idx, boxes)] for idx in groups.values()]


def _reading_order(idx: list[int], boxes: list[tuple[float, float, float, float]]) -> list[int]:
    """Rows top to bottom, each left to right. Lines are in one row when their vertical
    middles are within half a line height: a slanted or outlined word ("Harbor" boxed 16 px
    higher than "Blue" beside it) is still on the row of its neighbour."""
    rows: list[list[int]] = []
    for k in sorted(idx, key=lambda k: (boxes[k][1] + boxes[k][3]) / 2):
        mid = (boxes[k][1] + boxes[k][3]) / 2
        row = rows[-1] if rows else None
        if row is not None:
            r = boxes[row[0]]
            height = max(r[3] - r[1], boxes[k][3] - boxes[k][1])
            if abs(mid - (r[1] + r[3]) / 2) < height / 2:
                row.append(k)
                continue
        rows.append([k])
    return [k for row in rows for k in sorted(row, key=lambda k: boxes[k][0])]


def studio_findings(matcher: StudioMatcher, scene: SceneMedia,
                    signals: Sequence[Signal]) -> list[Finding]:
    if not matcher.names:
        return []
    decision = matcher.choose_studio(frame_texts(signals))
    if decision is None:
        return []
    end = scene.duration or None
    cells = [Segment(max(0.0, t - span / 2), min(end, t + span / 2) if end else t + span / 2,
                     m.score / 100.0) for t, span, m in decision.frames]
    # frames read in neighbouring stretches become one range (shown in the tab, sorted)
    segments = tuple(find_segments([(c.start, c.length, c.score) for c in cells],
                                   threshold=0.0, gap=0.5, min_segment=0.0))
    return [Finding(kind=Kind.STUDIO, name=decision.studio, analyzer="ocr", category="studio",
                    confidence=decision.confidence, segments=segments,
                    target_id=decision.studio_id,
                    detail={"read": sorted({m.text for _, _, m in decision.frames}),
                            "frames": len(decision.frames), "score": round(decision.score, 1),
                            "others": decision.others})]
