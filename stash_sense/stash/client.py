"""The one Stash client: GraphQL requests and file downloads over a transport (stash/transport.py).

Why not stashapi's StashInterface: it performs three requests including a full schema introspection
on connect (seconds, per process), which a hook must not pay, and it builds fragments at run time;
our documents are explicit and the test suite validates every one against Stash's real schema.

Every mode uses this client: tasks, hooks and the scene tab's operations over HTTP
(stash/http_transport.py, standard library only), the benchmark over its in-memory Stash.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import StashRequestError, StashUnreachable
from .http_transport import TIMEOUT, HttpTransport

if TYPE_CHECKING:
    from .transport import Response, Timeout, Transport


class StashClient:
    def __init__(self, server_connection: Mapping[str, Any] | None = None, *,
                 transport: Transport | None = None, timeout: Timeout = TIMEOUT):
        """A client of the Stash described by the plugin input's `server_connection` (over HTTP
        with `timeout`), or of the one `transport` reaches (the benchmark's in-memory Stash)."""
        if transport is None:
            transport = HttpTransport.from_server_connection(server_connection, timeout=timeout)
        self.transport: Transport = transport

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def graphql_url(self) -> str:
        return f"{self.transport.base_url}/graphql"

    def clone(self) -> StashClient:
        """A client for another thread (a transport is not thread-safe), same credentials."""
        return StashClient(transport=self.transport.clone())

    def enable_api_key_fallback(self) -> None:
        """Fetch Stash's API key (if one is configured) to retry with it when the session expires.
        One request: only tasks that can outlive Stash's one-hour session pay it."""
        data = self.execute("query StashSenseApiKey { configuration { general { apiKey } } }")
        self.transport.use_api_key(data["configuration"]["general"].get("apiKey") or None)

    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        status, raw = self.transport.post_graphql(body)
        return graphql_data(status, raw, self.graphql_url)

    def open_stream(self, url: str, timeout: Timeout | None = None,
                    headers: Mapping[str, str] | None = None) -> Response:
        """GET a Stash URL with the session's auth without reading the body: the caller reads it
        (bounded: frames/download.py; relayed: frames/stream_proxy.py) and closes the response.

        A refused or failed connection is StashUnreachable (nothing will work); an answer that
        does not start within the read timeout is TransferFailed, for the caller to judge: one
        file on a hung disk or share is a problem of that file, not of Stash."""
        return self.transport.open(url, headers=headers, timeout=timeout)


def graphql_data(status: int, raw: bytes, url: str) -> dict[str, Any]:
    """Stash's HTTP answer -> `data`, or the error of our tree that says what went wrong."""
    if status >= 500 or status in (404, 405):
        raise StashUnreachable(f"Stash answered HTTP {status} at {url}")
    try:
        body = json.loads(raw)
    except ValueError:
        raise StashUnreachable(f"Stash's answer at {url} is not JSON (HTTP {status})") from None
    errors = body.get("errors")
    if errors:
        messages = "; ".join(str(e.get("message", e)) for e in errors)
        raise StashRequestError(f"Stash rejected the request: {messages}")
    if body.get("data") is None:
        raise StashRequestError(f"Stash returned no data (HTTP {status})")
    return body["data"]
