"""Ultralytics YOLO: which weights the `yoloModel` setting means, where they live, how they load.

`yoloModel` is one of
- ""                      -> the default for the device (DEFAULT_WEIGHTS: nano on CPU, small on GPU);
- an official name        -> `yolo11n.pt`, `yolo11s.pt`, ... resolved inside `<modelDir>/yolo/`, and
                             downloaded there from Ultralytics' GitHub release assets on first use;
- a path to a `.pt` file  -> used as is (your own fine-tuned detector, an offline copy);
- a model `.yaml`         -> `yolo11n.yaml`: the architecture built by ultralytics' own code with
                             random weights, no download. Same compute as the real weights; for tests
                             and the benchmark only (it detects nothing meaningful).

Ultralytics on import checks whether it is online (DNS lookups), may pip-install missing packages,
sends usage analytics when `sync` is on, downloads into the current directory, prints to stdout,
and sets torch's CPU thread count to cores-1 (halving CLIP on a 2-core box). `import_ultralytics`
and `load_yolo` switch all of that off: YOLO_OFFLINE, YOLO_AUTOINSTALL=false, its settings file in
`<modelDir>/ultralytics` with sync off, its logger routed to our stderr log, and the thread count
restored after every call into it.
"""
from __future__ import annotations

import contextlib
import inspect
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import log
from ..errors import DependencyMissing, ModelUnavailable, SettingsError
from ..settings import Settings
from .device import is_gpu
from .download import OnProgress, fetch, offline_hint
from .weights import Weight, file_or_empty

DEFAULT_WEIGHTS = {"cpu": "yolo11n.pt", "gpu": "yolo11s.pt"}
ASSETS_REPO = "https://github.com/ultralytics/assets/releases/download"
FALLBACK_RELEASE = "v8.4.0"   # ultralytics 8.4's attempt_download_asset default


class _ToStashLog(logging.Handler):
    """Ultralytics' logger writes to stdout; ours writes to stderr in Stash's format."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.levelno >= logging.ERROR:
            log.error(f"ultralytics: {text}")
        elif record.levelno >= logging.WARNING:
            log.warning(f"ultralytics: {text}")
        else:
            log.debug(f"ultralytics: {text}")


def import_ultralytics(model_dir: str):
    """Import ultralytics with no network, no auto-install, no stdout. Returns the module."""
    os.environ["YOLO_OFFLINE"] = "1"          # is_online() -> False: no DNS probes, no analytics
    os.environ["YOLO_AUTOINSTALL"] = "false"  # never pip-install from inside a Stash task
    os.environ["YOLO_VERBOSE"] = "false"
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(model_dir, "ultralytics"))
    try:
        with preserve_threads():
            import ultralytics  # noqa: PLC0415
            from ultralytics.utils import LOGGER, SETTINGS  # noqa: PLC0415
    except ImportError:
        raise DependencyMissing("ultralytics", "python -m pip install -r requirements.txt") from None
    _restore_pillow_open()
    for handler in list(LOGGER.handlers):
        if not isinstance(handler, _ToStashLog):
            LOGGER.removeHandler(handler)
    if not LOGGER.handlers:
        LOGGER.addHandler(_ToStashLog())
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
    if SETTINGS.get("sync"):
        with contextlib.suppress(Exception):  # a read-only settings file must not stop a task
            SETTINGS.update(sync=False)
    return ultralytics


def _restore_pillow_open() -> None:
    """Importing ultralytics replaces PIL.Image.open process-wide with a wrapper that, on any image
    Pillow cannot identify (a corrupt sprite, say), tries to pip-install pi-heif and then raises
    ModuleNotFoundError. Put Pillow's own function back: an unreadable image must stay a scene error,
    and nothing may be installed from inside a Stash task."""
    from PIL import Image  # noqa: PLC0415
    from ultralytics.utils import patches  # noqa: PLC0415
    original = getattr(patches, "_image_open", None)
    if original is not None and Image.open is getattr(patches, "image_open", None):
        Image.open = original


@contextlib.contextmanager
def preserve_threads() -> Iterator[None]:
    """Ultralytics' select_device() sets torch to cores-1 threads; put the count back."""
    import torch  # noqa: PLC0415
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def release_tag() -> str:
    """The assets release the installed ultralytics downloads official weights from."""
    try:
        from ultralytics.utils.downloads import attempt_download_asset  # noqa: PLC0415
        return inspect.signature(attempt_download_asset).parameters["release"].default
    except Exception:  # noqa: BLE001 - an older or newer layout: the release we tested with
        return FALLBACK_RELEASE


def official_names() -> frozenset[str]:
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES  # noqa: PLC0415
    return frozenset(GITHUB_ASSETS_NAMES)


@dataclass(frozen=True)
class YoloWeights:
    """What `yoloModel` resolved to. kind: "official" (name, path in modelDir, url), "file" (path),
    or "random" (an architecture yaml; nothing on disk)."""
    kind: str
    name: str
    path: str = ""
    url: str = ""

    @property
    def present(self) -> bool:
        return self.kind == "random" or os.path.isfile(self.path)

    @property
    def model_id(self) -> str:
        suffix = "random" if self.kind == "random" else os.path.basename(self.path)
        return f"ultralytics:{suffix if self.kind != 'random' else self.name + '/random'}"


def resolve_weights(setting: str, device: str, model_dir: str) -> YoloWeights:
    """The `yoloModel` setting -> YoloWeights. Needs ultralytics importable (for the name table)."""
    value = (setting or DEFAULT_WEIGHTS["gpu" if is_gpu(device) else "cpu"]).strip()
    if value.endswith((".yaml", ".yml")):
        return YoloWeights("random", value)
    expanded = os.path.expanduser(value)
    if os.sep in value or "/" in value or os.path.isfile(expanded):
        if not os.path.isfile(expanded):
            raise ModelUnavailable(f"yoloModel file {value!r} does not exist; give the full path of "
                                   "a YOLO .pt file, or an official name such as yolo11n.pt")
        return YoloWeights("file", os.path.basename(expanded), os.path.abspath(expanded))
    name = value if value.endswith(".pt") else f"{value}.pt"
    import_ultralytics(model_dir)
    if name not in official_names():
        raise SettingsError(f"yoloModel {value!r} is neither an existing file nor an official "
                            "Ultralytics weight name (e.g. yolo11n.pt, yolo11s.pt, yolo11m.pt)")
    return YoloWeights("official", name, os.path.join(model_dir, "yolo", name),
                       f"{ASSETS_REPO}/{release_tag()}/{name}")


def ensure_weights(weights: YoloWeights, download: bool = True,
                   progress: OnProgress | None = None) -> None:
    """Official weights missing from modelDir are downloaded (or ModelUnavailable says where to put them)."""
    if weights.present:
        return
    if not download:
        raise ModelUnavailable(f"YOLO weights {weights.name} are not in the model directory: "
                               f"{offline_hint(weights.url, weights.path)}")
    fetch(weights.url, weights.path, progress=progress, what=f"YOLO weights {weights.name}")


def load_yolo(weights: YoloWeights, device: str, model_dir: str, download: bool = True,
              progress: OnProgress | None = None):
    """An ultralytics YOLO detection model on `device`, loaded through ultralytics' own code."""
    ultralytics = import_ultralytics(model_dir)
    ensure_weights(weights, download, progress)
    source = weights.name if weights.kind == "random" else weights.path
    try:
        with preserve_threads():
            model = ultralytics.YOLO(source, task="detect")
    except FileNotFoundError as exc:
        raise ModelUnavailable(f"YOLO architecture {weights.name!r} not found ({exc}); "
                               "random-weight models are named like yolo11n.yaml") from None
    except Exception as exc:  # noqa: BLE001 - corrupt or foreign checkpoints raise many types
        raise ModelUnavailable(f"{source} is not a loadable YOLO checkpoint ({type(exc).__name__}: "
                               f"{str(exc)[:300]}); delete it and run "
                               "`python -m stash_sense models download`") from None
    if model.task not in ("detect", "segment"):
        raise SettingsError(f"yoloModel {weights.name!r} is a {model.task} model; "
                            "object tags need a detection model such as yolo11n.pt")
    return model


@dataclass(frozen=True)
class YoloModel:
    """A loaded ultralytics detector and the weights it was loaded from."""
    model: Any
    weights: YoloWeights


class YoloFamily:
    analyzer = "objects"

    def load(self, settings: Settings, device: str) -> YoloModel:
        """The `yoloModel` weights (official ones downloaded into modelDir on first use)."""
        weights = resolve_weights(settings.yoloModel, device, settings.model_dir)
        return YoloModel(load_yolo(weights, device, settings.model_dir), weights)

    def weights(self, settings: Settings, device: str) -> list[Weight]:
        weights = resolve_weights(settings.yoloModel, device, settings.model_dir)
        label = f"YOLO {weights.name}"

        def load() -> Any:
            return load_yolo(weights, device, settings.model_dir, download=False)

        if weights.kind == "random":
            return [Weight("objects", label, "random weights", random=True, loader=load)]
        if weights.kind == "file":
            return [Weight("objects", label, "local file", weights.path,
                           locate=file_or_empty(weights.path), loader=load)]
        return [Weight("objects", label, weights.url, weights.path,
                       locate=file_or_empty(weights.path),
                       fetcher=lambda progress: ensure_weights(weights, True, progress),
                       loader=load)]


YOLO = YoloFamily()
