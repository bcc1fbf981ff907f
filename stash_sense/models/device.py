"""Pick the torch device (auto: cuda -> mps -> cpu) and the defaults that follow from it."""
from __future__ import annotations

from ..errors import DependencyMissing, SettingsError
from ..settings import Settings


def import_torch():
    try:
        import torch  # noqa: PLC0415  (heavy: only tasks that run models import it)
    except ImportError:
        raise DependencyMissing("PyTorch", "python -m pip install -r requirements.txt") from None
    return torch


def resolve_device(setting: str) -> str:
    torch = import_torch()
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if setting == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if setting == "cuda" and not cuda:
        raise SettingsError("setting 'device' is cuda, but PyTorch sees no CUDA GPU "
                            "(install a CUDA build of torch, or set device to auto)")
    if setting == "mps" and not mps:
        raise SettingsError("setting 'device' is mps, but this machine has no Apple GPU available")
    return setting


def is_gpu(device: str) -> bool:
    return device in ("cuda", "mps")


def batch_size_for(settings: Settings, device: str) -> int:
    """Frames (or face crops) per model call, for every analyzer and the gallery task: the
    batchSize setting, or by device when it is 0 (a GPU amortises a call over more frames)."""
    return settings.batchSize or (64 if is_gpu(device) else 16)
