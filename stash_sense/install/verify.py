"""`python -m stash_sense.install.verify`, run inside the dependency environment by the install
task: import the libraries each analyzer needs (really import them — this is the one place where
loading torch is the point) and print one JSON object {name: {"ok", "error", "versions"}}.

`NEEDS` is also what "Check setup" reads, without importing anything (importlib.util.find_spec
and importlib.metadata), so the two never disagree about what an analyzer needs.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import sys
import traceback
from typing import Any

# import name -> distribution name, per part of the plugin
NEEDS: dict[str, dict[str, str]] = {
    "core": {"numpy": "numpy", "PIL": "pillow", "yaml": "pyyaml", "rapidfuzz": "rapidfuzz",
             "tqdm": "tqdm"},
    "clip": {"torch": "torch", "torchvision": "torchvision", "open_clip": "open_clip_torch"},
    "objects": {"torch": "torch", "ultralytics": "ultralytics"},
    "ocr": {"onnxruntime": "onnxruntime", "rapidocr_onnxruntime": "rapidocr-onnxruntime"},
    "faces": {"torch": "torch", "requests": "requests", "facenet_pytorch": "facenet-pytorch"},
}
ANALYZER_MODULES = {"clip": "stash_sense.analyzers.clip", "objects": "stash_sense.analyzers.objects",
                    "ocr": "stash_sense.analyzers.ocr", "faces": "stash_sense.analyzers.faces"}


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def check(part: str) -> dict:
    result: dict[str, Any] = {"ok": True, "error": "", "versions": {}}
    try:
        for module, dist in NEEDS[part].items():
            if module == "ultralytics":
                import tempfile  # noqa: PLC0415

                from stash_sense.models.yolo import import_ultralytics  # noqa: PLC0415
                import_ultralytics(os.path.join(tempfile.gettempdir(), "stash_sense-verify"))
            else:
                importlib.import_module(module)
            result["versions"][dist] = version_of(dist)
        if part in ANALYZER_MODULES:
            importlib.import_module(ANALYZER_MODULES[part])
    except BaseException as exc:  # noqa: BLE001 - an import can fail in many ways; report each
        result["ok"] = False
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["trace"] = traceback.format_exc(limit=3)
    return result


def main() -> int:
    real_stdout = sys.stdout
    sys.stdout = sys.stderr                       # library banners must not spoil the JSON
    report = {part: check(part) for part in NEEDS}
    real_stdout.write(json.dumps(report) + "\n")
    real_stdout.flush()
    return 0 if all(r["ok"] for r in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
