"""Objects seen in the scene (furniture, vehicles, ...) -> tags, with ultralytics YOLO.

Source: sprite tiles. They cover the whole scene evenly (81 frames), so an object's presence can be
aggregated over time exactly like the CLIP tags; the <= 8 full-resolution frames would sample it
too sparsely for segments and markers, and cost ~50x the pixels to decode.

Input size: a 160x90 tile letterboxed at imgsz=640 is 640x384 (3.9 GFLOP for yolo11n); at 320 it
is 320x192 (1.0 GFLOP). Upscaling adds no detail, but YOLO finds objects poorly below ~20-30 px:
at 2x, the smallest box the default `min_area` (1 % of the frame, ~12x12 px on a tile) accepts
becomes ~24 px, inside the range COCO-trained detectors handle. So the input is the frame's long
side times UPSCALE, rounded to the stride and capped at 640; README "Benchmark" has the numbers.

Raw signals: per frame and COCO class, the best confidence and the top boxes (normalised xyxy,
confidence, area fraction) — for every class the model saw, mapped or not, so editing the
vocabulary's `objects:` mapping, `min_confidence` or `min_area` recomputes from the store.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..aggregate import aggregate_tag, rule_from_settings
from ..findings import Finding, Signal
from ..frames.types import Frame, SceneMedia
from ..kinds import Kind
from ..models.device import batch_size_for, import_torch
from ..models.yolo import YOLO, preserve_threads
from .base import Analyzer

UPSCALE = 2.0        # input size = frame long side x 2 (a 160 px tile -> 320)
MAX_INPUT = 640      # YOLO's training size: never go above it
STRIDE = 32
TOP_BOXES = 3        # boxes kept per class and frame
CONF_FLOOR = 0.25    # detections below this are not stored (unless the vocabulary asks lower)


def input_size(width: int, height: int, upscale: float = UPSCALE) -> int:
    side = max(width, height) * upscale
    return int(min(MAX_INPUT, max(STRIDE, -(-side // STRIDE) * STRIDE)))


def frame_detections(result, names: dict[int, str]) -> list[Signal]:
    """One ultralytics Results -> one Signal per class (best confidence; top boxes in data).
    `time`/`span` are filled in by the caller."""
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return []
    xyxy = boxes.xyxyn.float().cpu().tolist()
    confs = boxes.conf.float().cpu().tolist()
    classes = boxes.cls.int().cpu().tolist()
    by_class: dict[str, list[list[float]]] = defaultdict(list)
    for (x1, y1, x2, y2), conf, cls in zip(xyxy, confs, classes):
        area = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        by_class[names.get(cls, str(cls))].append(
            [round(x1, 4), round(y1, 4), round(x2, 4), round(y2, 4), round(conf, 4), round(area, 4)])
    signals = []
    for name, found in by_class.items():
        found.sort(key=lambda b: b[4], reverse=True)
        signals.append(Signal(0.0, 0.0, name, found[0][4],
                              {"n": len(found), "boxes": found[:TOP_BOXES]}))
    return signals


class ObjectsAnalyzer(Analyzer):
    name = "objects"
    source = "sprite"

    def _load(self) -> None:
        self.torch = import_torch()
        settings, device = self.ctx.settings, self.ctx.device
        loaded = YOLO.load(settings, device)
        self.weights, self.model = loaded.weights, loaded.model
        if self.weights.kind == "random":
            self.model.model.names = coco_names()   # a yaml build has numbered classes
        self.names = dict(self.model.names)
        self.precision = half_precision_args() if device == "cuda" else {}
        self.batch_size = batch_size_for(settings, device)
        self.upscale = float(self.ctx.extra.get("yolo_upscale", UPSCALE))
        self.fixed_imgsz = int(self.ctx.extra.get("yolo_imgsz", 0))
        wanted = [oc.min_confidence for oc in self.ctx.vocabulary.objects.values()]
        if settings.threshold:
            wanted.append(settings.threshold)
        self.conf = min([CONF_FLOOR] + wanted)
        self._model_id = f"{self.weights.model_id}/in{self.upscale:g}x"
        self._check_mapping()

    def _check_mapping(self) -> None:
        from .. import log  # noqa: PLC0415
        known = set(self.names.values())
        unknown = sorted(c for c in self.ctx.vocabulary.objects if c not in known)
        if unknown:
            log.warning(f"vocabulary objects: {', '.join(repr(u) for u in unknown)} are not classes "
                        f"of {self.weights.name} and will never be found; its classes include "
                        f"{', '.join(sorted(known)[:12])} ...")

    @property
    def model_id(self) -> str:
        return self._model_id

    def imgsz(self, frame: Frame) -> int:
        return self.fixed_imgsz or input_size(frame.image.width, frame.image.height, self.upscale)

    def analyze(self, frames: Sequence[Frame]) -> list[list[Signal]]:
        out: list[list[Signal]] = [[] for _ in frames]
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, frame in enumerate(frames):      # same size -> one rectangular batch
            groups[frame.image.size].append(i)
        for indices in groups.values():
            imgsz = self.imgsz(frames[indices[0]])
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                for i, result in zip(chunk, self._predict([frames[i].image for i in chunk], imgsz)):
                    f = frames[i]
                    out[i] = [Signal(f.time, f.span, s.key, s.score, s.data)
                              for s in frame_detections(result, self.names)]
        return out

    def _predict(self, images: list, imgsz: int) -> list:
        with preserve_threads(), self.torch.inference_mode():
            return self.model.predict(images, imgsz=imgsz, conf=self.conf, device=self.ctx.device,
                                      batch=len(images), verbose=False, **self.precision)

    def findings(self, scene: SceneMedia, signals: Sequence[Signal]) -> list[Finding]:
        return object_findings(self.ctx.settings, self.ctx.vocabulary, scene, signals)


def half_precision_args() -> dict[str, Any]:
    """fp16 on CUDA: ultralytics 8.4 spells it quantize=16 (half=True is deprecated), 8.3 half=True."""
    from ultralytics.cfg import DEFAULT_CFG_DICT  # noqa: PLC0415
    return {"quantize": 16} if "quantize" in DEFAULT_CFG_DICT else {"half": True}


def coco_names() -> dict[int, str]:
    from ultralytics.utils import ROOT, YAML  # noqa: PLC0415
    return dict(YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"])


def _frame_score(signal: Signal, min_conf: float, min_area: float) -> float:
    """Best confidence among this class's boxes that are confident and large enough."""
    boxes = (signal.data or {}).get("boxes")
    if not boxes:   # stored without boxes: the class score, valid only when no area is asked
        return signal.score if signal.score >= min_conf and min_area <= 0 else 0.0
    return max((b[4] for b in boxes if b[4] >= min_conf and b[5] >= min_area), default=0.0)


def object_findings(settings, vocab, scene: SceneMedia, signals: Sequence[Signal]) -> list[Finding]:
    """Pure: per frame, a tag's score is the best qualifying box of any COCO class mapped to it;
    frames are then aggregated over time with the same rule as the CLIP tags."""
    classes_by_tag: dict[str, list[Any]] = defaultdict(list)
    for oc in vocab.objects.values():
        classes_by_tag[oc.tag].append(oc)
    by_class: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        by_class[s.key].append(s)
    duration = scene.duration or max((s.time + s.span for s in signals), default=0.0)
    found = []
    for tag, mapped in classes_by_tag.items():
        points: dict[float, tuple[float, float, float]] = {}
        seen: list[str] = []
        for oc in mapped:
            min_conf = settings.threshold or oc.min_confidence
            for s in by_class.get(oc.coco, []):
                score = _frame_score(s, min_conf, oc.min_area)
                if score <= 0:
                    continue
                if oc.coco not in seen:
                    seen.append(oc.coco)
                if score > points.get(s.time, (0.0, 0.0, 0.0))[2]:
                    points[s.time] = (s.time, s.span, score)
        if not points:
            continue
        threshold = min(oc.min_confidence for oc in mapped)
        result = aggregate_tag(list(points.values()), rule_from_settings(settings, threshold, duration))
        if result.passed:
            aliases = tuple(dict.fromkeys(a for oc in mapped for a in oc.aliases))
            found.append(Finding(kind=Kind.TAG, name=tag, analyzer="objects", category="objects",
                                 confidence=result.confidence, segments=result.segments,
                                 aliases=aliases, markers=True,
                                 detail={"detected_seconds": round(result.detected, 2),
                                         "frames": len(points), "classes": seen}))
    return found
