"""Stash stand-in for tests.

* :class:`FakeStash` (``server.py``) — in-memory Stash executing the real SDL over HTTP;
* ``media.py`` — sprites/VTTs/videos made the way Stash makes them;
* ``runner.py`` — runs the plugin process the way Stash does (``run_plugin``,
  ``start_plugin``, ``attach_plugin``).

Names are imported lazily so ``schema_available()`` works even where graphql-core
or Pillow are missing and a test only wants to decide whether to skip.
"""
from importlib import import_module

from .schema import schema_available, schema_dir

_EXPORTS = {
    "FakeStash": "server", "RequestContext": "server",
    "StashError": "filters",
    "run_plugin": "runner", "start_plugin": "runner", "attach_plugin": "runner",
    "PluginRun": "runner", "PluginProcess": "runner", "AttachedPlugin": "runner",
    "parse_log_line": "runner", "parse_output": "runner",
    "vtt_text": "media", "vtt_time": "media", "make_sprite": "media",
    "synthetic_sprite": "media", "tile_of": "media", "make_video": "media",
    "sprite_from_video": "media", "ffmpeg_available": "media", "probe": "media",
}

__all__ = ["schema_available", "schema_dir", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
