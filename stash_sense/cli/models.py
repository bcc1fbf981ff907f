"""`python -m stash_sense models list|download|verify`: every weight, where it comes from, where
it is cached, its size, whether it is there; download what is missing; load each to prove it works.
By default only the analyzers in the `analyzers` setting; --all for every analyzer."""
from __future__ import annotations

import argparse
import json

from .common import add_settings_arguments, settings_from_args, table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "download", "verify"))
    parser.add_argument("--all", action="store_true",
                        help="every analyzer's weights, not only the enabled analyzers'")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_settings_arguments(parser)


def run(args: argparse.Namespace, out) -> int:
    from ..analyzers.base import verify_through_analyzers  # noqa: PLC0415
    from ..models.catalog import catalog  # noqa: PLC0415 - imports torch
    from ..models.device import resolve_device  # noqa: PLC0415
    from ..models.download import human_size  # noqa: PLC0415
    from ..models.manage import download_missing, verify  # noqa: PLC0415

    settings = settings_from_args(args)
    device = resolve_device(settings.device)
    weights = [w for w in catalog(settings, device) if args.all or w.enabled]
    verify_through_analyzers(weights, settings, device)
    header = f"device {device}; model directory {settings.model_dir}"
    if args.action == "list":
        if args.json:
            out.write(json.dumps({"device": device, "model_dir": settings.model_dir,
                                  "weights": [w.as_dict() for w in weights]}, indent=2) + "\n")
            return 0
        rows = [(w.analyzer + ("" if w.enabled else " (off)"), w.name,
                 "random" if w.random else "yes" if w.present else "NO",
                 human_size(w.size) if w.present and not w.random else "-",
                 w.found or w.path or "-", w.source) for w in weights]
        out.write(header + "\n\n" + table(("analyzer", "weight", "present", "size", "cached at",
                                            "source"), rows) + "\n")
        return 0
    outcomes = download_missing(weights) if args.action == "download" else verify(weights)
    if args.action == "download" and not outcomes:
        out.write(f"{header}\nnothing to download: every weight is present\n")
        return 0
    if args.json:
        out.write(json.dumps([{"name": o.weight.name, "ok": o.ok, "message": o.message,
                               "seconds": round(o.seconds, 2)} for o in outcomes], indent=2) + "\n")
    else:
        results = [(o.weight.analyzer, o.weight.name, "ok" if o.ok else "FAILED",
                    f"{o.seconds:.1f}s", o.message) for o in outcomes]
        out.write(header + "\n\n" + table(("analyzer", "weight", "result", "time", "detail"),
                                          results) + "\n")
    return 0 if all(o.ok for o in outcomes) else 1
