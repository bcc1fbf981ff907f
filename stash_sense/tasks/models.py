"""Task "Download and verify models" (mode `models`): list every weight the enabled analyzers use,
download the missing ones into modelDir (progress on the Tasks page), then load each once.
Stops with an error naming each file that could not be fetched and where to place it."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .. import log
from ..errors import ModelUnavailable

if TYPE_CHECKING:
    from ..context import Context


def models(ctx: Context) -> dict:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # tqdm bars are noise in Stash's log
    from ..analyzers.base import verify_through_analyzers  # noqa: PLC0415
    from ..models.catalog import catalog  # noqa: PLC0415 - imports torch
    from ..models.device import resolve_device  # noqa: PLC0415
    from ..models.manage import describe, download_missing, verify  # noqa: PLC0415

    settings = ctx.settings
    device = resolve_device(settings.device)
    weights = [w for w in catalog(settings, device) if w.enabled]
    verify_through_analyzers(weights, settings, device)
    log.info(f"Stash Sense models (device {device}, model directory {settings.model_dir}):")
    for w in weights:
        log.info("  " + describe(w))
    ctx.progress.set(0.0)
    downloads = download_missing(weights, lambda f: ctx.progress.set(0.8 * f))
    checks = verify(weights, lambda f: ctx.progress.set(0.8 + 0.2 * f))
    for o in checks:
        (log.info if o.ok else log.error)(f"  verify {o.weight.name}: "
                                          f"{'ok' if o.ok else 'FAILED'} ({o.message})")
    ctx.progress.set(1.0)
    failed = [o for o in downloads + checks if not o.ok]
    if failed:
        unique = list(dict.fromkeys(o.message for o in failed))
        raise ModelUnavailable("some model weights are not usable: " + " | ".join(unique))
    return {"device": device, "model_dir": settings.model_dir,
            "weights": [w.as_dict() for w in weights],
            "downloaded": [o.weight.name for o in downloads if o.ok]}
