"""`python -m stash_sense COMMAND ...`: the command line, outside Stash.

A small dispatcher: each command lives in its own module under stash_sense/cli/ with
`add_arguments(parser)` and `run(args, out) -> exit code` (`out`: the real stdout; a one-argument
`run(args)` gets sys.stdout pointed at it instead), imported only when chosen (so `--help` and
light commands never import torch). Add a command by adding a line to COMMANDS.

stdout carries only the command's own output (tables, JSON): file descriptor 1 is pointed at stderr
while the command runs, so whatever a library prints lands on stderr with the logs, and the
command writes through `out`, a duplicate of the original stdout.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("stash_sense.cli.analyze", "analyze a local video file without Stash"),
    "models": ("stash_sense.cli.models", "list, download or verify the model weights"),
    "bench": ("stash_sense.cli.bench", "measure the speed of each analyzer and of the pipeline"),
    "package": ("stash_sense.cli.package", "build the plugin source: index.yml + stash_sense.zip"),
    "doctor": ("stash_sense.cli.doctor", "check the setup: Python, environment, device, ffmpeg, "
                                         "analyzers, disk, Stash"),
    "setup": ("stash_sense.cli.setup", "create or repair the dependency environment "
                                       "(what the task Install or repair dependencies runs)"),
}


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="python -m stash_sense",
                                     description="Stash Sense from the command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parsers = {name: sub.add_parser(name, help=text, description=text)
               for name, (_, text) in COMMANDS.items()}
    chosen = next((a for a in argv if not a.startswith("-")), None)
    modules = {}
    if chosen in COMMANDS:
        modules[chosen] = importlib.import_module(COMMANDS[chosen][0])
        modules[chosen].add_arguments(parsers[chosen])
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from stash_sense import log  # noqa: PLC0415
    was_plain = log._plain  # noqa: SLF001 - restored below: main() is also called in-process
    log.use_plain_output(True)
    try:
        parser, modules = build_parser(argv)
        args = parser.parse_args(argv)
        return _run(modules[args.command].run, args)
    finally:
        log.use_plain_output(was_plain)


def _run(run, args: argparse.Namespace) -> int:
    from stash_sense import log  # noqa: PLC0415
    from stash_sense.errors import StashSenseError  # noqa: PLC0415
    sys.stdout.flush()
    out_fd = os.dup(1)
    saved_stdout = sys.stdout
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = os.fdopen(out_fd, "w", buffering=1)
    try:
        if len(inspect.signature(run).parameters) >= 2:
            return int(run(args, out) or 0)
        sys.stdout = out          # a command that prints to sys.stdout itself
        return int(run(args) or 0)
    except StashSenseError as exc:
        log.error(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        out.flush()
        sys.stdout = saved_stdout
        os.dup2(out_fd, 1)
        out.close()


if __name__ == "__main__":
    sys.exit(main())
