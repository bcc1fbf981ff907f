"""What every command shares: settings from the command line, and plain tables."""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import PLUGIN_DIR
from ..errors import SettingsError
from ..settings import SETTING_KEYS, Settings, load_settings


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (the plugin's settings, same names and defaults)")
    group.add_argument("--model-dir", help="where weights are cached (setting modelDir; "
                       "default <plugin folder>/models)")
    group.add_argument("--device", help="auto, cpu, cuda or mps (setting device; default auto)")
    group.add_argument("--analyzers", help="comma-separated, e.g. clip,objects,ocr")
    group.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any other plugin setting, e.g. --set yoloModel=yolo11s.pt (repeatable)")


def settings_from_args(args: argparse.Namespace, extra: dict | None = None) -> Settings:
    values: dict[str, str] = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in SETTING_KEYS:
            raise SettingsError(f"--set {item!r}: expected KEY=VALUE with KEY one of "
                                f"{', '.join(SETTING_KEYS)}")
        values[key.strip()] = value
    for key, attr in (("modelDir", "model_dir"), ("device", "device"), ("analyzers", "analyzers")):
        if getattr(args, attr, None):
            values[key] = getattr(args, attr)
    values.update(extra or {})
    return load_settings({}, values, PLUGIN_DIR)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable as plain text too)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells[1:]]
    return "\n".join(lines)
