"""The CLIP family (open_clip): which model the settings mean, where its weights live, how it loads.

`clipModel` is an open_clip architecture (default by device: ViT-B-32 on a CPU, ViT-L-14 on a GPU)
or the path of an open_clip model config JSON (a custom or tiny architecture); `clipPretrained` is
an open_clip pretrained tag (default per architecture), the path of a checkpoint, or "none" for
random weights (tests and benchmarks only). Weights come from Hugging Face (or a URL of
open_clip's table) through open_clip's own code into modelDir in the hub's cache layout, because
that is where open_clip looks for them; offline failures name the URL and the path to place the
file at (models/download.py's hint).

`load` gives the whole model (the analyzer's image and text towers); `load_text_model` only the
text side of a model whose image vectors are stored (re-scoring, search).
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DependencyMissing, ModelUnavailable
from ..settings import Settings
from .device import import_torch, is_gpu
from .download import OnProgress, offline_hint, reachable
from .weights import Weight, file_or_empty

if TYPE_CHECKING:
    from ..store.embeddings import ClipModelSpec

DEFAULT_MODEL = {"cpu": "ViT-B-32", "gpu": "ViT-L-14"}
DEFAULT_PRETRAINED = {"ViT-B-32": "laion2b_s34b_b79k", "ViT-L-14": "laion2b_s32b_b82k"}
RANDOM = "none"  # clipPretrained=none: random weights, for tests and benchmarks only
INSTALL = "python -m pip install -r requirements.txt"


def import_open_clip() -> Any:
    try:
        import open_clip  # noqa: PLC0415 - heavy: torch, torchvision
    except ImportError:
        raise DependencyMissing("open_clip_torch", INSTALL) from None
    return open_clip


def choose_model(settings: Settings, device: str) -> tuple[str, str]:
    """(clipModel, clipPretrained) with the defaults for the device filled in."""
    name = settings.clipModel or DEFAULT_MODEL["gpu" if is_gpu(device) else "cpu"]
    pretrained = settings.clipPretrained or DEFAULT_PRETRAINED.get(name, "openai")
    return name, pretrained


def register_config_file(name: str, open_clip: Any) -> str:
    """clipModel may be a path to an open_clip model config JSON (a custom or tiny architecture).
    Returns the architecture name open_clip knows it by."""
    if name.endswith(".json"):
        if not os.path.isfile(name):
            raise ModelUnavailable(f"clipModel config file {name!r} does not exist")
        open_clip.add_model_config(name)
        return os.path.splitext(os.path.basename(name))[0]
    if name not in open_clip.list_models():
        raise ModelUnavailable(f"clipModel {name!r} is not an open_clip model; e.g. ViT-B-32, "
                               "ViT-L-14 (python -c 'import open_clip; print(open_clip.list_models())')")
    return name


def _weights_hint(open_clip: Any, name: str, pretrained: str, model_dir: str) -> str:
    cfg = open_clip.get_pretrained_cfg(name, pretrained) or {}
    where = []
    if cfg.get("hf_hub"):
        where.append(f"https://huggingface.co/{cfg['hf_hub'].rstrip('/')} "
                     "(file open_clip_pytorch_model.bin or open_clip_model.safetensors)")
    if cfg.get("url"):
        where.append(cfg["url"])
    source = " or ".join(where) or "the open_clip pretrained table"
    return (f"CLIP weights {name}/{pretrained} could not be loaded into {model_dir}. On a machine "
            f"with internet they download there on first use; offline, download {source}, put the "
            "file in the model directory and set clipPretrained to its full path")


@dataclass(frozen=True)
class ClipModel:
    """A loaded open_clip model in eval mode, with what the analyzer builds on it."""
    model: Any
    preprocess: Any          # open_clip's eval transform
    tokenizer: Any
    arch: str                # open_clip's architecture name
    pretrained: str          # the clipPretrained value it was loaded with (tag, path or RANDOM)
    config: str | None       # the config JSON it was registered from, if any

    @property
    def model_id(self) -> str:
        return f"open_clip:{self.arch}/{os.path.basename(self.pretrained)}"


class ClipFamily:
    analyzer = "clip"

    def load(self, settings: Settings, device: str) -> ClipModel:
        """open_clip's own loading (downloading into modelDir on first use); fp16 on CUDA."""
        open_clip = import_open_clip()
        torch = import_torch()
        name, pretrained = choose_model(settings, device)
        arch = register_config_file(name, open_clip)
        os.makedirs(settings.model_dir, exist_ok=True)
        if pretrained == RANDOM:
            torch.manual_seed(0)
        elif os.path.sep in pretrained or pretrained.endswith((".bin", ".pt", ".pth", ".safetensors")):
            if not os.path.isfile(pretrained):
                raise ModelUnavailable(f"clipPretrained file {pretrained!r} does not exist")
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                arch, pretrained=None if pretrained == RANDOM else pretrained,
                device=device, cache_dir=settings.model_dir,
                precision="fp16" if device == "cuda" else "fp32")
        except Exception as exc:  # noqa: BLE001 - download/IO failures come as many types
            raise ModelUnavailable(f"{_weights_hint(open_clip, arch, pretrained, settings.model_dir)}"
                                   f" ({type(exc).__name__}: {str(exc)[:200]})") from None
        model.eval()
        return ClipModel(model, preprocess, open_clip.get_tokenizer(arch), arch, pretrained,
                         name if name.endswith(".json") else None)

    def weights(self, settings: Settings, device: str) -> list[Weight]:
        open_clip = import_open_clip()
        name, pretrained = choose_model(settings, device)
        arch = register_config_file(name, open_clip)
        model_dir = settings.model_dir
        label = f"CLIP {arch} / {os.path.basename(pretrained)}"

        def load() -> ClipModel:
            return self.load(settings, device)

        if pretrained == RANDOM:
            return [Weight("clip", label, "random weights", random=True, loader=load)]
        if os.path.isfile(pretrained) or os.sep in pretrained:
            return [Weight("clip", label, "local file", pretrained,
                           locate=file_or_empty(pretrained), loader=load)]
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

        def download(progress: OnProgress | None) -> None:
            """open_clip's own download: it lands in the hub cache layout open_clip reads."""
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


def load_text_model(spec: ClipModelSpec, model_dir: str) -> tuple[Any, Any]:
    """open_clip's text side of the model that made the stored image vectors, through open_clip's
    own loading code (same config, weights file and seed), with the visual tower discarded before
    any use; plus its tokenizer. (Also what similarity/text_onnx.py exports.)"""
    try:
        import open_clip  # noqa: PLC0415
        import torch  # noqa: PLC0415
    except ImportError:
        raise DependencyMissing("open_clip_torch", INSTALL) from None
    if spec.config:
        if not os.path.isfile(spec.config):
            raise ModelUnavailable(f"clip config {spec.config!r} (of {spec.model_id}) is gone")
        open_clip.add_model_config(spec.config)
    if spec.pretrained == RANDOM:
        torch.manual_seed(0)   # the same random weights ClipFamily.load built
    try:
        model: Any = open_clip.create_model(spec.arch, pretrained=None if spec.pretrained == RANDOM
                                            else spec.pretrained, device="cpu",
                                            cache_dir=model_dir)
    except Exception as exc:  # noqa: BLE001 - IO failures come as many types
        raise ModelUnavailable(f"cannot load the text encoder of {spec.model_id} from "
                               f"{model_dir}: {type(exc).__name__}: {str(exc)[:200]}") from None
    model.visual = None        # never run; its memory goes now
    gc.collect()
    model.eval()
    return model, open_clip.get_tokenizer(spec.arch)


CLIP = ClipFamily()
