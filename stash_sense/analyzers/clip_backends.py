"""Where CLIP's image encoder runs: eager PyTorch, ONNX Runtime or OpenVINO — one interface.

Why: on a CPU, eager PyTorch leaves a lot on the table for a ViT (no operator fusion, generic
attention); the same graph exported to ONNX and run by ONNX Runtime or OpenVINO with graph
optimisations is 2-3x faster on the same cores, in fp32, for the same embeddings. So the image
tower is exported once per model into `modelDir` (keyed by the architecture and a hash of the
weights), every accelerated encoder is checked against torch on real photographs (cosine >=
MIN_COSINE, else it is not used), and `clipBackend=auto` picks the fastest that passed. The
choice is measured once per model and machine and remembered beside the export. On a GPU the
encoder stays torch in fp16.

Int8 (dynamic quantisation of the exported graph) is only an opt-in (`clipBackend=onnx-int8`):
its embeddings drift by more than MIN_COSINE by construction, and whether that drift changes tags
cannot be measured without real CLIP weights, which this project cannot download in CI.

Every encoder maps a float32 batch [N, 3, H, W] (already preprocessed) to float32 [N, D], not yet
normalised; ClipAnalyzer._encode stays the one place that turns frames into embeddings.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from enum import Enum

import numpy as np

from .. import log
from ..errors import DependencyMissing, ModelUnavailable

MIN_COSINE = 0.9999        # an accelerated encoder must reproduce torch's embeddings this closely
EXPORT_DIR = "clip-onnx"   # under modelDir: <arch>-<weights hash>/model.onnx (+ external data)
CHOICE_FILE = "choice.json"


class ClipBackend(str, Enum):
    AUTO = "auto"
    TORCH = "torch"
    ONNX = "onnx"
    OPENVINO = "openvino"
    ONNX_INT8 = "onnx-int8"   # opt-in only: not checked against MIN_COSINE (see module docstring)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(b.value for b in cls)


def physical_cores() -> int:
    """Cores this process may use, counting SMT siblings once: a second hyper-thread adds little
    to dense matrix work and oversubscribes the decode thread."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        allowed = list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in allowed:
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as fh:
                cores.add(fh.read().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


# -- the interface ----------------------------------------------------------------------------
class ImageEncoder(ABC):
    backend: ClipBackend

    @abstractmethod
    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """float32 [N, 3, H, W] -> float32 [N, D] (not normalised)."""

    @property
    def label(self) -> str:
        return self.backend.value


class TorchEncoder(ImageEncoder):
    backend = ClipBackend.TORCH

    def __init__(self, model, device: str, torch):
        self.model, self.device, self.torch = model, device, torch

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        torch = self.torch
        batch = torch.from_numpy(pixels).to(self.device)
        if self.device == "cuda":
            batch = batch.half()
        with torch.no_grad():
            return self.model.encode_image(batch).float().cpu().numpy()


class OnnxRuntimeEncoder(ImageEncoder):
    """fp32, all graph optimisations, intra-op threads = physical cores, inter-op 1. Spinning is
    off: between CLIP batches the same cores run YOLO (torch), OCR (its own ORT session) and the
    decode thread, and spinning ORT threads would take their time slices."""

    backend = ClipBackend.ONNX

    def __init__(self, path: str, threads: int, backend: ClipBackend = ClipBackend.ONNX):
        try:
            import onnxruntime as ort  # noqa: PLC0415
        except ImportError:
            raise DependencyMissing("onnxruntime", "python -m pip install -r requirements.txt") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.backend = backend

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: pixels})[0].astype(np.float32, copy=False)


class OpenVinoEncoder(ImageEncoder):
    """OpenVINO's CPU plugin, latency mode, fp32 forced (it would pick bf16 on CPUs that have it,
    which changes the embeddings); compiled blobs cached beside the export."""

    backend = ClipBackend.OPENVINO

    def __init__(self, path: str, threads: int):
        try:
            import openvino as ov  # noqa: PLC0415
        except ImportError:
            raise DependencyMissing("openvino", "python -m pip install openvino") from None
        core = ov.Core()
        cache = os.path.join(os.path.dirname(path), "openvino-cache")
        os.makedirs(cache, mode=0o700, exist_ok=True)       # owner-only, like every plugin file
        core.set_property({"CACHE_DIR": cache})
        self.compiled = core.compile_model(core.read_model(path), "CPU", {
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": "f32"})
        self.request = self.compiled.create_infer_request()

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return np.array(self.request.infer({0: pixels})[0], dtype=np.float32)


# -- export -----------------------------------------------------------------------------------
def weights_digest(module) -> str:
    """A hash of the image tower's weights: a new checkpoint (or a fine-tune) gets a new export."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def export_dir(model_dir: str, arch: str, digest: str) -> str:
    return os.path.join(model_dir, EXPORT_DIR, f"{arch}-{digest}")


class _ImageTower:
    """The module that is exported: exactly open_clip's encode_image."""

    @staticmethod
    def wrap(model, torch):
        class Tower(torch.nn.Module):  # type: ignore[name-defined]  # torch arrives as an argument
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, pixels):
                return self.model.encode_image(pixels)
        return Tower().eval()


def export_onnx(model, torch, target_dir: str, image_size: int) -> str:
    """Export encode_image with a dynamic batch axis into target_dir/model.onnx. Written into a
    temporary directory beside it and renamed, so a killed export never leaves a half file;
    owner-only like every file the plugin writes."""
    path = os.path.join(target_dir, "model.onnx")
    if os.path.isfile(path):
        return path
    try:
        import onnx  # noqa: F401, PLC0415
        import onnxscript  # noqa: F401, PLC0415 - the exporter's dependencies
    except ImportError:
        raise DependencyMissing("onnx and onnxscript (to export CLIP)",
                                "python -m pip install -r requirements.txt") from None
    parent = os.path.dirname(target_dir)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        example = torch.zeros(2, 3, image_size, image_size)
        batch = torch.export.Dim("batch", min=1, max=4096)
        with contextlib.redirect_stdout(sys.stderr), torch.no_grad():  # stdout is Stash's JSON
            torch.onnx.export(_ImageTower.wrap(model, torch), (example,),
                              os.path.join(work, "model.onnx"), input_names=["pixels"],
                              output_names=["embedding"], dynamic_shapes={"pixels": {0: batch}},
                              dynamo=True, external_data=True, verbose=False)
        for name in os.listdir(work):
            os.chmod(os.path.join(work, name), 0o600)
        try:
            os.rename(work, target_dir)
        except OSError:
            if os.path.isfile(path):           # a concurrent export won the race: use its file
                return path
            # leftovers without a model (a choice, a compile cache): move aside, then retry
            stale = tempfile.mkdtemp(prefix=".stale-", dir=parent)
            os.rename(target_dir, os.path.join(stale, "old"))
            os.rename(work, target_dir)
            shutil.rmtree(stale, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def quantize_int8(source: str) -> str:
    """Opt-in: weights of MatMul/Gemm to int8 (dynamic quantisation), beside the fp32 export."""
    target = os.path.join(os.path.dirname(source), "model-int8.onnx")
    if not os.path.isfile(target):
        from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415
        tmp = target + ".tmp"
        quantize_dynamic(source, tmp, weight_type=QuantType.QInt8)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    return target


# -- verification and choice ------------------------------------------------------------------
def probe_images():
    """Real photographs to compare encoders on: scikit-image's bundled samples (no network);
    synthetic gradients only where scikit-image is absent."""
    from PIL import Image  # noqa: PLC0415
    try:
        from skimage import data  # noqa: PLC0415
        arrays = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
        return [Image.fromarray(a).convert("RGB") for a in arrays]
    except Exception:  # noqa: BLE001 - optional dependency, any failure -> synthetic
        ramp = np.linspace(0, 255, 224, dtype=np.float32)
        rgb = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 255 - ramp[None, :]), -1)
        return [Image.fromarray(np.roll(rgb, k * 40, axis=k % 2).astype(np.uint8)) for k in range(4)]


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def measure_fps(encoders: Sequence[ImageEncoder], pixels: np.ndarray, rounds: int = 2) -> dict[str, float]:
    """Frames/s of each encoder on the same batch, interleaved round by round so a change in the
    machine's load hits all of them alike; best round per encoder."""
    best = {e.label: 0.0 for e in encoders}
    for e in encoders:
        e(pixels[:2])                            # first-call setup excluded
    for _ in range(rounds):
        for e in encoders:
            started = time.perf_counter()
            e(pixels)
            best[e.label] = max(best[e.label], len(pixels) / (time.perf_counter() - started))
    return best


def machine_key() -> str:
    """What a remembered choice depends on: the CPU, the cores, the runtimes' versions."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), model)
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415
    versions = []
    for dist in ("torch", "onnxruntime", "openvino"):
        try:
            versions.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            versions.append(f"{dist}=-")
    return f"{model}|cores={physical_cores()}|{'|'.join(versions)}"


class EncoderFactory:
    """Builds and checks the encoders of one loaded model. `reference` is the torch encoder;
    `pixels_of` preprocesses PIL images like the analyzer does."""

    def __init__(self, model, torch, model_dir: str, arch: str, image_size: int,
                 pixels_of: Callable[[list], np.ndarray], threads: int | None = None):
        self.model, self.torch = model, torch
        self.model_dir, self.arch, self.image_size = model_dir, arch, image_size
        self.pixels_of = pixels_of
        self.threads = threads or physical_cores()
        self.reference = TorchEncoder(model, "cpu", torch)
        self._dir: str | None = None
        self._probe: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def target_dir(self) -> str:
        if self._dir is None:
            self._dir = export_dir(self.model_dir, self.arch, weights_digest(self.model.visual))
        return self._dir

    def probe(self) -> tuple[np.ndarray, np.ndarray]:
        """Probe pixels and torch's embeddings of them."""
        if self._probe is None:
            pixels = self.pixels_of(probe_images())
            self._probe = (pixels, self.reference(pixels))
        return self._probe

    def build(self, backend: ClipBackend) -> ImageEncoder:
        if backend == ClipBackend.TORCH:
            return self.reference
        onnx_path = export_onnx(self.model, self.torch, self.target_dir, self.image_size)
        if backend == ClipBackend.ONNX:
            return OnnxRuntimeEncoder(onnx_path, self.threads)
        if backend == ClipBackend.OPENVINO:
            return OpenVinoEncoder(onnx_path, self.threads)
        if backend == ClipBackend.ONNX_INT8:
            return OnnxRuntimeEncoder(quantize_int8(onnx_path), self.threads, ClipBackend.ONNX_INT8)
        raise ValueError(backend)

    def checked(self, backend: ClipBackend) -> tuple[ImageEncoder, float]:
        """The encoder and its worst cosine against torch on the probe photographs; raises
        ModelUnavailable when an fp32 backend does not reproduce torch."""
        encoder = self.build(backend)
        pixels, expected = self.probe()
        cosine = min_cosine(encoder(pixels), expected)
        if backend not in (ClipBackend.TORCH, ClipBackend.ONNX_INT8) and cosine < MIN_COSINE:
            raise ModelUnavailable(f"CLIP on {backend.value} does not reproduce torch's embeddings "
                                   f"(cosine {cosine:.6f} < {MIN_COSINE}); set clipBackend=torch")
        return encoder, cosine

    def available(self) -> list[tuple[ImageEncoder, float]]:
        """torch plus every fp32 accelerated backend that builds here and passes the check."""
        found: list[tuple[ImageEncoder, float]] = [(self.reference, 1.0)]
        for backend in (ClipBackend.ONNX, ClipBackend.OPENVINO):
            try:
                found.append(self.checked(backend))
            except (DependencyMissing, ModelUnavailable) as exc:
                log.info(f"CLIP backend {backend.value} not used: {exc}")
            except Exception as exc:  # noqa: BLE001 - an exporter/runtime failure means "not here"
                log.warning(f"CLIP backend {backend.value} failed ({type(exc).__name__}: "
                            f"{str(exc)[:300]}); using another")
        return found

    def fastest(self, batch_size: int) -> ImageEncoder:
        """clipBackend=auto: the fastest checked encoder, measured once per model and machine and
        remembered in choice.json beside the export (delete it to measure again, e.g. after the
        machine was busy with other work during the first run). A remembered choice is built
        and checked alone, so later loads pay for one runtime, not all of them."""
        choice_path = os.path.join(self.target_dir, CHOICE_FILE)
        key = f"{machine_key()}|threads={self.threads}|batch={batch_size}"
        try:
            with open(choice_path) as fh:
                remembered = json.load(fh)
        except (OSError, ValueError):
            remembered = {}
        if remembered.get("machine") == key and remembered.get("backend") in ClipBackend.names():
            try:
                return self.checked(ClipBackend(remembered["backend"]))[0]
            except Exception as exc:  # noqa: BLE001 - measure again below
                log.warning(f"remembered CLIP backend {remembered['backend']} is not usable "
                            f"({type(exc).__name__}: {str(exc)[:200]}); measuring again")
        found = {e.label: e for e, _ in self.available()}
        if len(found) == 1:
            return self.reference
        pixels, _ = self.probe()
        reps = -(-batch_size // len(pixels))
        batch = np.ascontiguousarray(np.concatenate([pixels] * reps)[:batch_size])
        fps = measure_fps(list(found.values()), batch, rounds=3)
        best = max(fps, key=lambda name: fps[name])
        log.info("CLIP image encoder frames/s here: "
                 + ", ".join(f"{k} {v:.1f}" for k, v in fps.items()) + f"; using {best}")
        try:
            tmp = choice_path + ".tmp"
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
                json.dump({"machine": key, "backend": best, "fps": fps}, fh)
            os.replace(tmp, choice_path)
        except OSError as exc:
            log.warning(f"could not remember the CLIP backend choice in {choice_path}: {exc}")
        return found[best]
