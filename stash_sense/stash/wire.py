"""What both Stash clients share (the requests-based one for tasks, the stdlib one for hooks and
operations): reading Stash's `server_connection` and turning a GraphQL answer into data or errors.
Kept free of `requests` so the light client stays light."""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..errors import StashRequestError, StashUnreachable


def endpoint(server_connection: Mapping[str, Any] | None) -> tuple[str, str, int]:
    """(scheme, host, port) from Stash's Go-named fields; Host 0.0.0.0 means this machine."""
    sc = {k.lower(): v for k, v in (server_connection or {}).items()}
    host = sc.get("host") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"  # Stash binds all interfaces; we talk to it locally
    return sc.get("scheme") or "http", host, int(sc.get("port") or 9999)


def session_cookie(server_connection: Mapping[str, Any] | None) -> tuple[str, str] | None:
    sc = {k.lower(): v for k, v in (server_connection or {}).items()}
    cookie = sc.get("sessioncookie") or {}
    if isinstance(cookie, Mapping) and cookie.get("Value"):
        return cookie.get("Name") or "session", cookie["Value"]
    return None


def graphql_data(status: int, raw: bytes, url: str) -> dict[str, Any]:
    """Stash's HTTP answer -> `data`, or the error of our tree that says what went wrong."""
    if status == 401:
        raise StashUnreachable("Stash refused the plugin's credentials (HTTP 401). If the task "
                               "ran longer than Stash's session, generate an API key in "
                               "Settings > Security so the plugin can fall back to it.")
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
