"""`python -m stash_sense setup`: build or repair Stash Sense's dependency environment from a terminal
— the same plan the task "Install or repair dependencies" runs (the Docker recipe uses it at image
build time). --dry-run prints the commands without running them."""
from __future__ import annotations

import argparse
import json

from .. import PLUGIN_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="", help="the environment folder (setting envDir; "
                        "default stash_sense_env beside --plugins-path)")
    parser.add_argument("--plugins-path", default="", help="Stash's plugins folder (default: the "
                        "parent of this plugin folder)")
    parser.add_argument("--torch", default="auto", choices=("auto", "cpu", "cuda"),
                        help="PyTorch build (setting torchBuild)")
    parser.add_argument("--analyzers", default="clip,objects,ocr")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")


def run(args: argparse.Namespace, out) -> int:
    from ..install.deps import (  # noqa: PLC0415
        InstallRequest,
        execute,
        make_plan,
        show,  # noqa: PLC0415
    )
    request = InstallRequest(plugin_dir=PLUGIN_DIR, plugins_path=args.plugins_path,
                             env_setting=args.env, torch_setting=args.torch,
                             analyzers=tuple(a.strip() for a in args.analyzers.split(",") if a))
    plan = make_plan(request)
    if args.dry_run:
        out.write(f"environment {plan.env_dir}\nPyTorch {plan.torch.value}: {plan.torch_reason}\n")
        for step in plan.steps:
            out.write(f"- {step.title}\n    {show(step.argv)}\n")
        return 0
    out.write(json.dumps(execute(plan, request, lambda f: None), indent=2) + "\n")
    return 0
