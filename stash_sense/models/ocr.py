"""The OCR family: engines behind one small interface, `read(image) -> [(text, confidence, box)]`.

RapidOCR runs Baidu's PP-OCR detection + recognition models on ONNX Runtime, and its wheels ship
those models: it works offline, on CPU, with nothing to download. Two packages exist:
`rapidocr` 3.x (maintained; PP-OCRv6 small det + rec inside its wheel) and the older
`rapidocr-onnxruntime` 1.4.4 (PP-OCRv4, unchanged since January 2025); both are engines here,
compared on tools/ocr_accuracy.py (README, "Studio from watermarks"). PaddleOCR is the same family on
Baidu's own PaddlePaddle framework: newer models
(PP-OCRv5), GPU support, but a large extra framework to install and models it downloads from its
hubs on first use, so it is optional (setting ocrEngine=paddleocr).

A box is four [x, y] corners in the pixel coordinates of the image given to `read`. Nothing is
downloaded by us: RapidOCR's models are in its wheel, PaddleOCR fetches its own on first use.
"""
from __future__ import annotations

import glob
import os
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from PIL import Image

from ..errors import DependencyMissing, ModelUnavailable
from ..settings import Settings
from .weights import Weight

Box = list[list[float]]
Line = tuple[str, float, Box]


class OcrEngine(ABC):
    name: str = ""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Engine, version and models, stored with the raw results."""

    @abstractmethod
    def read(self, image: Image.Image) -> list[Line]:
        """Every text line found in an RGB image: (text, confidence 0..1, box)."""


def _bgr(image: Image.Image) -> np.ndarray:
    """Both engines follow OpenCV and take arrays as BGR."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def _box(points: Any) -> Box:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in np.asarray(points).reshape(-1, 2)]


# ONNX Runtime threads per session. One: OCR reads a few small images per frame, where a second
# thread mostly spin-waits (measured: 0.11 s CPU per 960x540 detection on 1 thread against 0.18 s
# on 2, at the same wall time on a shared 2-core machine), and the CPU it burns is taken from the
# analyzers that run beside OCR in the pipeline.
OCR_THREADS = 1


class RapidOcrEngine(OcrEngine):
    """PP-OCRv4 (det + rec) on ONNX Runtime, models from the rapidocr-onnxruntime wheel."""

    name = "rapidocr-onnxruntime"

    def __init__(self, threads: int = OCR_THREADS):
        try:
            from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415
        except ImportError:
            raise DependencyMissing("rapidocr-onnxruntime (the OCR engine)",
                                    "python -m pip install rapidocr-onnxruntime") from None
        options: dict[str, Any] = {
            # 'max' never upscales: the analyzer chooses each region's scale itself, so the
            # detector must not blow a small corner crop up to 736 px (4x the work, no gain).
            "det_limit_type": "max",
            # watermarks sit on moving pictures: the angle classifier only costs time there
            "use_cls": False,
            # no letterbox around wide images: the edge strips are 9:1, and padding them to
            # 4:1 would double the detector's work on blank pixels
            "width_height_ratio": -1,
        }
        if threads:
            options["intra_op_num_threads"] = threads
            options["inter_op_num_threads"] = 1
        try:
            self.engine = RapidOCR(**options)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise ModelUnavailable(f"RapidOCR could not load its bundled models "
                                   f"({type(exc).__name__}: {str(exc)[:200]}); reinstall with "
                                   "python -m pip install --force-reinstall rapidocr-onnxruntime"
                                   ) from None
        try:
            from importlib.metadata import version  # noqa: PLC0415
            self._version = version("rapidocr-onnxruntime")
        except Exception:  # noqa: BLE001
            self._version = "?"

    @property
    def model_id(self) -> str:
        return f"rapidocr-onnxruntime {self._version} (PP-OCRv4 det+rec)"

    def read(self, image: Image.Image) -> list[Line]:
        result, _ = self.engine(_bgr(image), use_cls=False)
        return [(str(text), float(score), _box(box)) for box, text, score in (result or [])]


class RapidOcr3Engine(OcrEngine):
    """`rapidocr` 3.x: PP-OCRv6 small det + rec on ONNX Runtime, models inside its wheel.

    Its defaults point at the models in the package folder; when a model file is missing it would
    try to download it, which the constructor turns into a clear error instead of a hang (checked
    offline in tests/test_ocr_engines.py)."""

    name = "rapidocr"

    def __init__(self, threads: int = OCR_THREADS):
        try:
            from rapidocr import RapidOCR  # noqa: PLC0415
        except ImportError:
            raise DependencyMissing("rapidocr (the OCR engine)",
                                    "python -m pip install rapidocr onnxruntime") from None
        params: dict[str, Any] = {
            "Global.log_level": "error",    # not one line per empty frame
            "Global.use_cls": False,         # see RapidOcrEngine
            "Det.limit_type": "max",         # never upscale: the analyzer scales each region
            "Global.width_height_ratio": -1,  # see RapidOcrEngine
        }
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        try:
            self.engine = RapidOCR(params=params)
            # it loads its models on first use; load them now, so that a broken install is
            # found before any scene is read
            for load in ("_load_det_model", "_load_rec_model"):
                getattr(self.engine, load, lambda: None)()
        except Exception as exc:  # noqa: BLE001 - onnxruntime and the downloader raise many types
            raise ModelUnavailable(f"rapidocr could not load its bundled models "
                                   f"({type(exc).__name__}: {str(exc)[:200]}); reinstall with "
                                   "python -m pip install --force-reinstall rapidocr") from None
        try:
            from importlib.metadata import version  # noqa: PLC0415
            self._version = version("rapidocr")
        except Exception:  # noqa: BLE001
            self._version = "?"

    @property
    def model_id(self) -> str:
        return f"rapidocr {self._version} (PP-OCRv6 small det+rec)"

    def read(self, image: Image.Image) -> list[Line]:
        out = self.engine(_bgr(image), use_cls=False)
        boxes, txts, scores = (getattr(out, k, None) for k in ("boxes", "txts", "scores"))
        if boxes is None or txts is None or scores is None:
            return []
        return [(str(t), float(sc), _box(b)) for b, t, sc in zip(boxes, txts, scores)]


class PaddleOcrEngine(OcrEngine):
    """PaddleOCR 3.x (`predict`) or 2.x (`ocr`), whichever is installed."""

    name = "paddleocr"
    INSTALL = ("python -m pip install paddlepaddle paddleocr "
               "(PaddleOCR downloads its models on first use; the default engine rapidocr needs "
               "neither)")

    def __init__(self, lang: str = "en"):
        try:
            import paddleocr  # noqa: PLC0415
        except ImportError:
            raise DependencyMissing("PaddleOCR (setting ocrEngine=paddleocr)", self.INSTALL) from None
        self._version = str(getattr(paddleocr, "__version__", "?"))
        self._v3 = not self._version.startswith("2.")
        try:
            if self._v3:
                self.engine = paddleocr.PaddleOCR(
                    lang=lang, use_doc_orientation_classify=False, use_doc_unwarping=False,
                    use_textline_orientation=False)
            else:
                self.engine = paddleocr.PaddleOCR(lang=lang, use_angle_cls=False, show_log=False)
        except ImportError as exc:
            raise DependencyMissing(f"PaddlePaddle, needed by PaddleOCR ({exc})", self.INSTALL) from None
        except Exception as exc:  # noqa: BLE001 - model download/IO failures come as many types
            raise ModelUnavailable(
                f"PaddleOCR could not load its models ({type(exc).__name__}: {str(exc)[:200]}). "
                "It downloads them on first use: run it once on a machine with internet, or set "
                "ocrEngine=rapidocr, whose models ship with its package") from None

    @property
    def model_id(self) -> str:
        return f"paddleocr {self._version}"

    def read(self, image: Image.Image) -> list[Line]:
        array = _bgr(image)
        if self._v3:
            return parse_paddle_v3(self.engine.predict(array))
        return parse_paddle_v2(self.engine.ocr(array, cls=False))


def parse_paddle_v3(results: Any) -> list[Line]:
    """PaddleOCR 3.x: one result per image, dict-like with rec_texts / rec_scores / rec_polys."""
    lines: list[Line] = []
    for res in results or []:
        data = res.get("res", res) if isinstance(res, dict) else res   # OCRResult is a dict
        for text, score, poly in zip(data["rec_texts"], data["rec_scores"], data["rec_polys"]):
            lines.append((str(text), float(score), _box(poly)))
    return lines


def parse_paddle_v2(results: Any) -> list[Line]:
    """PaddleOCR 2.x: [[ [box, (text, score)], ... ]] per image; None when nothing was found."""
    lines: list[Line] = []
    for page in results or []:
        for box, (text, score) in page or []:
            lines.append((str(text), float(score), _box(box)))
    return lines


ENGINES = {"rapidocr": RapidOcr3Engine, "rapidocr-onnxruntime": RapidOcrEngine,
           "paddleocr": PaddleOcrEngine}


def make_engine(name: str, **options: Any) -> OcrEngine:
    """The engine for the ocrEngine setting (validated in settings.py); options go to its
    constructor (`threads` for the RapidOCR engines, used by the cost comparison)."""
    return ENGINES[name](**options)


class OcrFamily:
    analyzer = "ocr"

    def load(self, settings: Settings, device: str) -> OcrEngine:
        """The ocrEngine setting's engine (it runs on the CPU whatever the device)."""
        return make_engine(settings.ocrEngine)

    def weights(self, settings: Settings, device: str) -> list[Weight]:
        def load() -> OcrEngine:
            return self.load(settings, device)

        if settings.ocrEngine == "paddleocr":
            return [Weight("ocr", "PaddleOCR models", "downloaded by PaddleOCR itself on first use",
                           "~/.paddlex (PaddleOCR's cache)", locate=_paddle_present, loader=load)]
        package, module, models = (("rapidocr-onnxruntime", "rapidocr_onnxruntime",
                                    "RapidOCR PP-OCRv4 det + rec, cls (ONNX)")
                                   if settings.ocrEngine == "rapidocr-onnxruntime" else
                                   ("rapidocr", "rapidocr",
                                    "RapidOCR PP-OCRv6 small det + rec, cls (ONNX)"))
        try:
            found = __import__(module)
            origin = found.__file__
            folder = os.path.join(os.path.dirname(origin), "models") if origin else ""
            source = f"bundled with {package}"
        except ImportError:
            folder, source = "", (f"bundled with {package} (not installed: "
                                  "python -m pip install -r requirements.txt)")
        return [Weight("ocr", models, source, folder, bundled=True,
                       locate=lambda: folder if glob.glob(os.path.join(folder, "*.onnx")) else "",
                       loader=load)]


def _paddle_present() -> str:
    path = os.path.expanduser("~/.paddlex")
    return path if os.path.isdir(path) else ""


OCR = OcrFamily()
