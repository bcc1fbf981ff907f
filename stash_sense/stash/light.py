"""A standard-library GraphQL client for hooks and the scene tab's operations: the same `execute`
as StashClient without `requests`, and LightContext, the part of TaskContext they need.

Why a second client: Stash waits for a hook process before it finishes the save or the scan step
that fired it (a library scan runs Scene.Create.Post once per new file), and importing `requests`
alone costs 0.1-0.25 s — more than everything else a hook does; the scene tab waits for its
operations the same way. Both make a few small requests and never outlive Stash's session, so they
need only the session cookie (no API-key fallback, no cookie jar refresh). Same URL rules and the
same errors as stash/client.py.
"""
from __future__ import annotations

import http.client
import json
import os
import ssl
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

from .. import PLUGIN_ID
from ..errors import StashUnreachable
from .wire import endpoint, graphql_data, session_cookie
from ..settings import Settings, load_settings

TIMEOUT = 30  # seconds; a hook request is small


class LightClient:
    def __init__(self, server_connection: Mapping[str, Any]):
        self.scheme, self.host, self.port = endpoint(server_connection)
        self.graphql_url = f"{self.scheme}://{self.host}:{self.port}/graphql"
        cookie = session_cookie(server_connection)
        self.cookie = f"{cookie[0]}={cookie[1]}" if cookie else None
        self.request_count = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False            # self-signed TLS is common on home servers
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(self.host, self.port, timeout=TIMEOUT,
                                               context=context)
        return http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)

    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.request_count += 1
        conn = self._connection()
        try:
            conn.request("POST", "/graphql", body=body, headers=headers)
            response = conn.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise StashUnreachable(f"Stash is not reachable at {self.graphql_url}: "
                                   f"{type(exc).__name__}") from None
        finally:
            conn.close()
        return graphql_data(status, raw, self.graphql_url)


@dataclass
class LightContext:
    """.args .settings .api .store, like TaskContext, over LightClient (no progress: hooks and
    operations have no job to report to)."""
    payload: dict[str, Any]
    settings: Settings
    api: Any

    @property
    def args(self) -> dict[str, Any]:
        return self.payload.get("args") or {}

    @cached_property
    def store(self):
        from ..store import Store  # noqa: PLC0415
        return Store.in_dir(self.settings.data_dir)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "LightContext":
        from .api import StashAPI  # noqa: PLC0415
        sc = payload.get("server_connection") or {}
        plugin_dir = sc.get("PluginDir") or os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        api = StashAPI(LightClient(sc))
        settings = load_settings(api.plugin_settings(PLUGIN_ID), payload.get("args") or {},
                                 plugin_dir)
        return cls(payload=payload, settings=settings, api=api)


def standalone(handler):
    """Mark an operation handler to run on a LightContext (app.run calls `handler.standalone`)."""
    handler.standalone = lambda payload: handler(LightContext.from_payload(payload))
    return handler
