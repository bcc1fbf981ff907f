"""The reports the UI reads (ui/reports.js): the last quality report (task evaluate) and the last
learned-tag report (task learn), kept as owner-only JSON files in `<dataDir>/reports/`.

`reports` is a light operation: standard library only (no numpy, no model), so
opening the reports page never waits for a heavy import.
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import Context

REPORT_DIR = "reports"
QUALITY_FILE = "quality.json"
LEARNED_FILE = "learned.json"


def write_report(data_dir: str, name: str, payload: dict[str, Any]) -> str:
    folder = os.path.join(data_dir, REPORT_DIR)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, name)
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
              encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.replace(tmp, path)
    return path


def read_report(data_dir: str, name: str) -> dict[str, Any] | None:
    path = os.path.join(data_dir, REPORT_DIR, name)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def reports(ctx: Context) -> dict[str, Any]:
    """{"quality": the last evaluate output or None, "learned": the last learn output or None}."""
    data_dir = ctx.settings.data_dir
    return {"quality": read_report(data_dir, QUALITY_FILE),
            "learned": read_report(data_dir, LEARNED_FILE)}
