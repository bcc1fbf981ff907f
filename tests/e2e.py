"""Helpers for end-to-end tests (the `stash` fixture itself is in tests/conftest.py): the plugin's
settings in the stand-in, and snapshots of what the library looks like afterwards."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from tests.standin.schema import schema_available

PLUGIN_ID = "stash_sense"
T = TypeVar("T")


def require_schema() -> None:
    """Skip the test where Stash's SDL is absent: the stand-in cannot run without it."""
    if not schema_available():
        pytest.skip("../shared/stash-schema is absent: the Stash stand-in needs Stash's SDL")


def configure(stash, tmp_path, **settings):
    values = {"dataDir": str(tmp_path / "data"), "modelDir": str(tmp_path / "models"), **settings}
    stash.set_plugin_config(PLUGIN_ID, values)
    return values


def snapshot(stash, scene_id) -> dict:
    """A scene as names and times (ids differ between two stand-ins)."""
    scene = stash.scene(scene_id)
    studio = stash.studio(scene["studio_id"]) if scene.get("studio_id") else None
    return {
        "tags": sorted(stash.scene_tag_names(scene_id)),
        "markers": sorted((stash.tag(m["primary_tag_id"])["name"], round(m["seconds"], 2),
                           round(m["end_seconds"] or 0, 2)) for m in stash.markers(scene_id)),
        "studio": studio["name"] if studio else None,
        "performers": sorted(stash.performer(p)["name"] for p in scene.get("performer_ids", [])),
    }


def mutations(stash) -> list[dict]:
    return [r for r in stash.requests if r["query"].lstrip().startswith("mutation")]


def eventually(check: Callable[[], T], timeout: float = 5.0) -> T:
    """Poll `check` until it returns something truthy and return that (its last, falsy answer
    after `timeout` seconds): for what follows a step the test took (a request still in flight,
    a job ending), where a fixed sleep would be both slow and flaky."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value
