"""`python -m stash_sense doctor`: the "Check setup" task from a terminal. Every check with its
status and the fix; exit status 1 when a problem was found. --stash URL also asks that Stash for
its version (no API key: for a Stash without a password, or use the task inside Stash)."""
from __future__ import annotations

import argparse
import json

from .common import add_settings_arguments, settings_from_args, table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stash", metavar="URL", help="e.g. http://localhost:9999")
    parser.add_argument("--plugins-path", default="", help="Stash's plugins folder (for the "
                        "default environment location)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_settings_arguments(parser)


def run(args: argparse.Namespace, out) -> int:
    from ..install.doctor import report, run_checks  # noqa: PLC0415
    client = None
    if args.stash:
        from urllib.parse import urlsplit  # noqa: PLC0415

        from ..stash.client import StashClient  # noqa: PLC0415
        url = urlsplit(args.stash)
        client = StashClient({"Scheme": url.scheme or "http", "Host": url.hostname or "localhost",
                              "Port": url.port or 9999})
    checks = run_checks(settings_from_args(args), plugins_path=args.plugins_path, client=client)
    summary = report(checks, to_log=False)
    if args.json:
        out.write(json.dumps(summary, indent=2) + "\n")
    else:
        rows = [(c.status.value.upper(), c.area, c.detail, c.fix or "") for c in checks]
        out.write(table(("status", "check", "detail", "fix"), rows) + f"\n\n{summary['verdict']}\n")
    return 1 if summary["problems"] else 0
