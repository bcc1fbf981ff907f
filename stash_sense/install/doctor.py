""""Check setup" (task, mode `doctor`) and `python -m stash_sense doctor`: is this installation ready,
and if not, what exactly fixes it.

Each check is one `Check` with a status and, for anything short of OK, the action that fixes it.
Nothing here imports torch or another heavy library: packages are looked up with
importlib.util.find_spec and importlib.metadata, the torch build is read from its metadata (the
local version tag and its nvidia-* requirements), weights are looked up on disk. So it runs in a
second in Stash's bare Python, which is exactly where it is needed most.
"""
from __future__ import annotations

import glob
import importlib.metadata
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from .. import log
from ..settings import Settings
from .location import default_env_dir, folder_size, read_pointer, running_in
from .machine import detect_machine
from .verify import NEEDS

TASK = 'run the task "Install or repair dependencies" (Settings › Tasks › Stash Sense)'
MODELS_TASK = 'run the task "Download and verify models"'
MIN_PYTHON = (3, 10)
LOW_DISK = 2_000_000_000      # bytes free below which model downloads may fail
HOSTS = {"clip": "huggingface.co", "objects": "github.com", "faces": "github.com"}


class Status(Enum):
    OK = "ok"
    INFO = "info"
    WARN = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class Check:
    area: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# -- Python and its environment ---------------------------------------------------------------------
def check_python(settings: Settings, plugins_path: str) -> list[Check]:
    checks = []
    version = ".".join(map(str, sys.version_info[:3]))
    where = f"Python {version} at {sys.executable} (prefix {sys.prefix})"
    if sys.version_info[:2] < MIN_PYTHON:
        checks.append(Check("python", Status.PROBLEM, where, "Stash Sense needs Python 3.10 or "
                            "newer: install it and set Settings › System › Python executable path"))
    else:
        checks.append(Check("python", Status.OK, where))
    pointer = read_pointer(settings.plugin_dir)
    default = default_env_dir(plugins_path) if plugins_path else "stash_sense_env beside the plugins folder"
    if pointer is None:
        checks.append(Check("environment", Status.WARN, "no dependency environment yet "
                            f"(it would go to {settings.envDir or default})", TASK))
        if not (has_module("venv") and has_module("ensurepip")):
            checks.append(Check("venv", Status.PROBLEM, "this Python cannot create an environment "
                                "(no venv/ensurepip module)", "install it (Debian/Ubuntu: apt-get "
                                "install python3-venv), or set Settings › System › Python "
                                "executable path to a full Python 3.10+"))
    elif not os.path.isfile(pointer.python):
        checks.append(Check("environment", Status.PROBLEM, f"the environment {pointer.env} is gone "
                            f"({pointer.python} does not exist)", TASK))
    elif running_in(pointer.env):
        checks.append(Check("environment", Status.OK, f"running in Stash Sense's environment "
                            f"{pointer.env} (made {pointer.created} UTC)"))
    else:
        checks.append(Check("environment", Status.WARN, f"an environment exists at {pointer.env} "
                            f"but this check runs in {sys.prefix}",
                            "run it through Stash, or with that environment's python"))
    return checks


def check_packages(settings: Settings) -> list[Check]:
    checks = []
    for part, needs in NEEDS.items():
        wanted = part == "core" or part in settings.analyzers
        missing = [dist for module, dist in needs.items() if not has_module(module)]
        found = ", ".join(f"{d} {version_of(d)}" for m, d in needs.items() if d not in missing)
        if not missing:
            checks.append(Check(f"packages: {part}", Status.OK, found or "-"))
        else:
            status = Status.PROBLEM if wanted else Status.INFO
            note = "" if wanted else " (analyzer not enabled)"
            checks.append(Check(f"packages: {part}", status,
                                f"missing {', '.join(missing)}{note}", TASK if wanted else ""))
    return checks


# -- device -------------------------------------------------------------------------------------------
def torch_build() -> str:
    """'cpu', 'cuda', or '' (not installed), from metadata only."""
    version = version_of("torch")
    if not version:
        return ""
    if "+cpu" in version:
        return "cpu"
    if "+cu" in version or any("nvidia-" in r for r in importlib.metadata.requires("torch") or []):
        return "cuda"
    return "cpu"


def check_device(settings: Settings) -> list[Check]:
    machine = detect_machine()
    build = torch_build()
    detail = f"{machine.label}; torch {version_of('torch') or 'not installed'}" + \
        (f" ({build} build)" if build else "") + f"; setting device={settings.device}"
    if not build:
        return [Check("device", Status.PROBLEM if "clip" in settings.analyzers else Status.WARN,
                      detail, TASK)]
    if settings.device == "cuda" and not machine.nvidia:
        return [Check("device", Status.PROBLEM, detail, "no NVIDIA GPU here: set device to auto")]
    if settings.device == "cuda" and build == "cpu":
        return [Check("device", Status.PROBLEM, detail, "set torchBuild to cuda (or auto), then "
                      + TASK)]
    if machine.nvidia and build == "cpu":
        return [Check("device", Status.WARN, detail + ": the GPU is unused",
                      "set torchBuild to auto or cuda, then " + TASK)]
    if not machine.nvidia and build == "cuda" and machine.system == "Linux":
        return [Check("device", Status.WARN, detail + ": the CUDA libraries take gigabytes and no "
                      "GPU uses them", "set torchBuild to auto or cpu, then " + TASK)]
    device = "cuda" if machine.nvidia and build == "cuda" else \
        "mps" if machine.system == "Darwin" else "cpu"
    return [Check("device", Status.OK, detail + f"; runs on {device}")]


# -- ffmpeg -----------------------------------------------------------------------------------------
def check_ffmpeg() -> list[Check]:
    checks = []
    for tool in ("ffmpeg", "ffprobe"):
        path = shutil.which(tool)
        if not path:
            checks.append(Check(tool, Status.PROBLEM, f"{tool} is not on PATH (needed for frames "
                                "from the video: OCR, faces, scenes without sprites)",
                                "install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew "
                                "install ffmpeg; Windows: ffmpeg.org) so that it is on Stash's PATH"))
            continue
        try:
            first = subprocess.run([path, "-version"], capture_output=True, text=True,
                                   timeout=15).stdout.splitlines()[:1]
        except (OSError, subprocess.TimeoutExpired):
            first = []
        checks.append(Check(tool, Status.OK, f"{path}: {first[0] if first else 'version unknown'}"))
    return checks


# -- analyzers' weights -----------------------------------------------------------------------------
def resolves(host: str, timeout: float = 3.0) -> bool:
    """Can the host be looked up, within `timeout`? (An offline box can hang in DNS for long.)"""
    answer: list[bool] = []

    def look() -> None:
        try:
            socket.getaddrinfo(host, 443)
            answer.append(True)
        except OSError:
            answer.append(False)

    worker = threading.Thread(target=look, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answer and answer[0])


def _missing_weight(analyzer: str, what: str, where: str, url: str = "") -> Check:
    host = HOSTS.get(analyzer, "")
    if host and resolves(host):
        return Check(f"weights: {analyzer}", Status.WARN, f"{what} not downloaded yet (goes to "
                     f"{where})", MODELS_TASK + " (or let the first tagging run download it)")
    source = url or f"https://{host}"
    return Check(f"weights: {analyzer}", Status.PROBLEM, f"{what} is not in {where}, and {host} "
                 "cannot be reached from here", f"{MODELS_TASK}: offline, its log names the exact "
                 f"file to download from {source} and where to put it")


def check_clip(settings: Settings, gpu: bool) -> Check:
    try:
        from ..models.clip import DEFAULT_MODEL, DEFAULT_PRETRAINED, RANDOM  # noqa: PLC0415
    except ImportError:
        return Check("weights: clip", Status.INFO, "cannot tell before its packages are installed")
    name = settings.clipModel or DEFAULT_MODEL["gpu" if gpu else "cpu"]
    pretrained = settings.clipPretrained or DEFAULT_PRETRAINED.get(name, "openai")
    if pretrained == RANDOM:
        return Check("weights: clip", Status.WARN, "random weights (clipPretrained=none): tags are "
                     "meaningless", "clear the setting clipPretrained")
    if os.sep in pretrained or "/" in pretrained:
        if os.path.isfile(pretrained):
            return Check("weights: clip", Status.OK, f"{name}: local file {pretrained}")
        return Check("weights: clip", Status.PROBLEM, f"clipPretrained file {pretrained} does not "
                     "exist", "put the checkpoint there or clear the setting")
    pattern = os.path.join(settings.model_dir, "models--*", "snapshots", "*", "*")
    arch = name.lower().replace("/", "-")
    hits = [p for p in glob.glob(pattern) if arch in p.lower() and
            p.endswith((".safetensors", ".bin", ".pt"))] + \
        glob.glob(os.path.join(settings.model_dir, f"*{pretrained}*"))
    if hits:
        return Check("weights: clip", Status.OK, f"{name} / {pretrained}: {hits[0]}")
    return _missing_weight("clip", f"CLIP {name} / {pretrained}", settings.model_dir)


def check_yolo(settings: Settings, gpu: bool) -> Check:
    from ..models.yolo import DEFAULT_WEIGHTS  # noqa: PLC0415 - standard library only at import
    value = (settings.yoloModel or DEFAULT_WEIGHTS["gpu" if gpu else "cpu"]).strip()
    if value.endswith((".yaml", ".yml")):
        return Check("weights: objects", Status.WARN, f"random weights ({value})",
                     "set yoloModel to an official name such as yolo11n.pt")
    expanded = os.path.expanduser(value)
    if os.sep in value or "/" in value:
        status = Status.OK if os.path.isfile(expanded) else Status.PROBLEM
        return Check("weights: objects", status, f"local file {expanded}",
                     "" if status is Status.OK else "put the .pt file there or clear yoloModel")
    name = value if value.endswith(".pt") else f"{value}.pt"
    path = os.path.join(settings.model_dir, "yolo", name)
    if os.path.isfile(path):
        return Check("weights: objects", Status.OK, f"YOLO {name}: {path}")
    return _missing_weight("objects", f"YOLO {name}", path,
                           "https://github.com/ultralytics/assets/releases")


def check_ocr(settings: Settings) -> Check:
    if settings.ocrEngine == "paddleocr":
        ok = has_module("paddleocr")
        return Check("weights: ocr", Status.OK if ok else Status.PROBLEM,
                     "PaddleOCR " + ("installed (downloads its models itself)" if ok else
                                     "is not installed"),
                     "" if ok else "pip install paddleocr into the environment, or set ocrEngine "
                     "to rapidocr")
    package = settings.ocrEngine                 # rapidocr (default) or rapidocr-onnxruntime
    module = package.replace("-", "_")
    spec = importlib.util.find_spec(module) if has_module(module) else None
    if spec is None or not spec.origin:
        return Check("weights: ocr", Status.PROBLEM, f"{package} (which carries the OCR "
                     "models) is not installed", TASK)
    models = glob.glob(os.path.join(os.path.dirname(spec.origin), "models", "*.onnx"))
    if models:
        return Check("weights: ocr", Status.OK, f"{len(models)} ONNX models bundled with "
                     f"{package}")
    return Check("weights: ocr", Status.PROBLEM, f"{package} has no models folder", TASK)


def check_faces(settings: Settings) -> Check:
    from ..models.faces import RANDOM, WEIGHTS_URL, default_weights_path  # noqa: PLC0415
    setting = (settings.faceWeights or "").strip()
    if setting.lower() == RANDOM:
        return Check("weights: faces", Status.WARN, "random weights (faceWeights=none)",
                     "clear the setting faceWeights")
    path = setting or default_weights_path(settings.model_dir)
    if os.path.isfile(path):
        return Check("weights: faces", Status.OK, f"InceptionResnetV1 VGGFace2: {path}")
    if setting:
        return Check("weights: faces", Status.PROBLEM, f"faceWeights file {setting} does not "
                     "exist", f"download {WEIGHTS_URL} and put it there, or clear faceWeights")
    return _missing_weight("faces", "InceptionResnetV1 VGGFace2", path, WEIGHTS_URL)


def check_weights(settings: Settings) -> list[Check]:
    gpu = settings.device in ("cuda", "mps") or (settings.device == "auto" and
                                                 torch_build() == "cuda" and detect_machine().nvidia)
    checks = []
    for name, run in (("clip", lambda: check_clip(settings, gpu)),
                      ("objects", lambda: check_yolo(settings, gpu)),
                      ("ocr", lambda: check_ocr(settings)), ("faces", lambda: check_faces(settings))):
        if name not in settings.analyzers:
            continue
        try:
            checks.append(run())
        except Exception as exc:  # noqa: BLE001 - one unreadable setting must not hide the others
            checks.append(Check(f"weights: {name}", Status.PROBLEM,
                                f"{type(exc).__name__}: {exc}", "check the analyzer's settings"))
    custom = [a for a in settings.analyzers if a not in ("clip", "objects", "ocr", "faces")]
    if custom:
        checks.append(Check("analyzers", Status.INFO, f"custom analyzers not checked: "
                            f"{', '.join(custom)}"))
    return checks


# -- disk ---------------------------------------------------------------------------------------------
def check_disk(settings: Settings) -> list[Check]:
    pointer = read_pointer(settings.plugin_dir)
    places = [("models", settings.model_dir), ("data", settings.data_dir)]
    if pointer:
        places.append(("environment", pointer.env))
    parts, low = [], []
    for label, path in places:
        size = folder_size(path) if os.path.isdir(path) else 0
        parts.append(f"{label} {size / 1e6:.0f} MB ({path})")
        probe = path if os.path.isdir(path) else os.path.dirname(path.rstrip(os.sep)) or "."
        try:
            free = shutil.disk_usage(probe).free
        except OSError:
            continue
        if free < LOW_DISK:
            low.append(f"{probe}: {free / 1e9:.1f} GB free")
    if low:
        return [Check("disk", Status.WARN, "; ".join(parts) + "; low space: " + ", ".join(low),
                      "free some space, or move modelDir / dataDir / envDir to a larger disk")]
    return [Check("disk", Status.OK, "; ".join(parts))]


# -- Stash --------------------------------------------------------------------------------------------
def check_stash(client: Any | None) -> list[Check]:
    if client is None:
        return [Check("stash", Status.INFO, "not connected (run inside Stash, or pass --stash URL)")]
    try:
        data = client.execute("query StashSenseVersion { version { version hash } }")
    except Exception as exc:  # noqa: BLE001 - report, never crash the report
        return [Check("stash", Status.PROBLEM, f"{exc}", "check Stash's address and API key")]
    version = (data.get("version") or {}).get("version") or "unknown"
    return [Check("stash", Status.OK, f"Stash {version} at {getattr(client, 'graphql_url', '')}")]


def run_checks(settings: Settings, *, plugins_path: str = "", client: Any | None = None) -> list[Check]:
    return (check_python(settings, plugins_path) + check_packages(settings) +
            check_device(settings) + check_ffmpeg() + check_weights(settings) +
            check_disk(settings) + check_stash(client))


def report(checks: list[Check], to_log: bool = True) -> dict[str, Any]:
    """Log every check (problems as errors, each with its fix) and return the summary."""
    emit = {Status.OK: log.info, Status.INFO: log.info, Status.WARN: log.warning,
            Status.PROBLEM: log.error}
    for c in checks if to_log else ():
        emit[c.status](f"[{c.status.value}] {c.area}: {c.detail}" + (f" -> fix: {c.fix}" if c.fix else ""))
    problems = [c for c in checks if c.status is Status.PROBLEM]
    warnings = [c for c in checks if c.status is Status.WARN]
    verdict = ("ready" if not problems and not warnings else
               "ready, with warnings" if not problems else f"{len(problems)} problem(s) to fix")
    if to_log:
        log.info(f"Check setup: {verdict}")
    return {"verdict": verdict, "problems": len(problems), "warnings": len(warnings),
            "checks": [c.as_dict() for c in checks]}
