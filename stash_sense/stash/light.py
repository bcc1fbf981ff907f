"""A standard-library GraphQL client for hooks: same `execute` as StashClient, without `requests`.

Why a second client: Stash waits for a hook process before it finishes the save or the scan step
that fired it (a library scan runs Scene.Create.Post once per new file), and importing `requests`
alone costs 0.1-0.25 s — more than everything else a hook does. A hook makes one to three small
requests and never outlives Stash's session, so it needs only the session cookie (no API-key
fallback, no cookie jar refresh). Same URL rules and the same errors as stash/client.py.
"""
from __future__ import annotations

import http.client
import json
import ssl
from typing import Any, Mapping

from ..errors import StashRequestError, StashUnreachable

TIMEOUT = 30  # seconds; a hook request is small


class LightClient:
    def __init__(self, server_connection: Mapping[str, Any]):
        sc = {k.lower(): v for k, v in (server_connection or {}).items()}
        self.scheme = sc.get("scheme") or "http"
        host = sc.get("host") or "127.0.0.1"
        self.host = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
        self.port = int(sc.get("port") or 9999)
        self.graphql_url = f"{self.scheme}://{self.host}:{self.port}/graphql"
        cookie = sc.get("sessioncookie") or {}
        self.cookie = (f"{cookie.get('Name') or 'session'}={cookie['Value']}"
                       if isinstance(cookie, Mapping) and cookie.get("Value") else None)
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
        if status == 401:
            raise StashUnreachable("Stash refused the plugin's credentials (HTTP 401)")
        if status >= 500 or status in (404, 405):
            raise StashUnreachable(f"Stash answered HTTP {status} at {self.graphql_url}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise StashUnreachable(f"Stash's answer at {self.graphql_url} is not JSON "
                                   f"(HTTP {status})") from None
        errors = data.get("errors")
        if errors:
            messages = "; ".join(str(e.get("message", e)) for e in errors)
            raise StashRequestError(f"Stash rejected the request: {messages}")
        if data.get("data") is None:
            raise StashRequestError(f"Stash returned no data (HTTP {status})")
        return data["data"]
