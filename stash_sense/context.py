"""Everything one run shares, in every mode: payload, settings, the Stash API, progress, the store.

Built by `Context.from_payload` for Stash's tasks, hooks and scene-tab operations, and directly by
the benchmark (over its in-memory Stash). Standard library only until the store is first used, so
hooks and operations stay light (app.py's mode table says which modes are light).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import PLUGIN_DIR, PLUGIN_ID
from .log import Progress
from .settings import Settings, load_settings
from .stash.api import StashAPI
from .stash.client import StashClient

if TYPE_CHECKING:
    from .learn.predict import LearnedPredictor
    from .stash.transport import Timeout
    from .store import Store

# Stash waits for a hook or a scene-tab operation before it goes on: a hung Stash must fail it in
# half a minute, not two. Tasks run in the background and wait longer (http_transport.TIMEOUT).
LIGHT_TIMEOUT: Timeout = (10.0, 30.0)


@dataclass
class Context:
    payload: dict[str, Any]
    settings: Settings
    api: StashAPI
    progress: Progress = field(default_factory=Progress)

    @property
    def args(self) -> dict[str, Any]:
        return self.payload.get("args") or {}

    @cached_property
    def store(self) -> Store:
        """Opened on first use: most hooks answer without it (sqlite3 is not even imported)."""
        from .store import Store  # noqa: PLC0415
        return Store.in_dir(self.settings.data_dir)

    @cached_property
    def learned(self) -> LearnedPredictor:
        """The user's active learned tags, loaded once per run (numpy only): every scene a task
        tags gets them, as `retag` proposes them, so a normal run does not take them back."""
        from .learn.predict import LearnedPredictor  # noqa: PLC0415
        return LearnedPredictor(self.store, self.settings)

    @classmethod
    def from_payload(cls, payload: dict[str, Any], *, light: bool = False) -> Context:
        """The context of one plugin run: Stash's input, its plugin settings (one request, which
        also proves Stash is reachable) merged with the run's arguments. `light`: a hook or a
        scene-tab operation, which Stash waits for (shorter timeouts)."""
        sc = payload.get("server_connection") or {}
        client = StashClient(sc, timeout=LIGHT_TIMEOUT) if light else StashClient(sc)
        api = StashAPI(client)
        settings = load_settings(api.plugin_settings(PLUGIN_ID), payload.get("args") or {},
                                 sc.get("PluginDir") or PLUGIN_DIR)
        return cls(payload=payload, settings=settings, api=api)
