"""Everything one plugin invocation shares: payload, settings, Stash access, store, progress."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from . import PLUGIN_ID
from .log import Progress
from .settings import Settings, load_settings
from .stash.api import StashAPI
from .stash.client import StashClient
from .store import Store


@dataclass
class TaskContext:
    payload: dict[str, Any]
    settings: Settings
    client: StashClient
    api: StashAPI
    progress: Progress = field(default_factory=Progress)

    @property
    def args(self) -> dict[str, Any]:
        return self.payload.get("args") or {}

    @cached_property
    def store(self) -> Store:
        return Store.in_dir(self.settings.data_dir)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "TaskContext":
        sc = payload.get("server_connection") or {}
        plugin_dir = sc.get("PluginDir") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        client = StashClient(sc)
        api = StashAPI(client)
        stored = api.plugin_settings(PLUGIN_ID)   # also proves Stash is reachable
        settings = load_settings(stored, payload.get("args") or {}, plugin_dir)
        return cls(payload=payload, settings=settings, client=client, api=api)
