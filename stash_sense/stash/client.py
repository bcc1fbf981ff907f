"""A thin GraphQL/HTTP client over one requests.Session, authenticated like Stash expects.

Why not stashapi's StashInterface: it performs three requests including a full schema introspection
on connect (seconds, per process), which a hook must not pay, and it builds fragments at run time;
our documents are explicit and the test suite validates every one against Stash's real schema.

Auth: the session cookie Stash hands the plugin (kept in the session's cookie jar, so the refreshed
cookie Stash sends back keeps a long task alive and hook-loop detection keeps working), with a
fallback to the `ApiKey` header for tasks that outlive Stash's one-hour session. Credentials are
never logged.
"""
from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

import requests

from ..errors import StashRequestError, StashUnreachable

TIMEOUT = (10, 120)  # connect, read (seconds)


class StashClient:
    def __init__(self, server_connection: Mapping[str, Any], *, verify_ssl: bool = False):
        sc = {k.lower(): v for k, v in (server_connection or {}).items()}
        scheme = sc.get("scheme") or "http"
        host = sc.get("host") or "127.0.0.1"
        if host in ("0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"  # Stash binds all interfaces; we talk to it locally
        port = sc.get("port") or 9999
        self.base_url = f"{scheme}://{host}:{port}"
        self.graphql_url = f"{self.base_url}/graphql"
        self.session = requests.Session()
        self.session.verify = verify_ssl  # self-signed TLS is common on home servers
        cookie = sc.get("sessioncookie") or {}
        if isinstance(cookie, Mapping) and cookie.get("Value"):
            self.session.cookies.set(cookie.get("Name") or "session", cookie["Value"], path="/")
        self._api_key: str | None = None
        self.request_count = 0

    def clone(self) -> "StashClient":
        """A client for another thread (requests.Session is not thread-safe), same credentials."""
        other = StashClient({}, verify_ssl=bool(self.session.verify))
        other.base_url, other.graphql_url = self.base_url, self.graphql_url
        other.session.cookies.update(self.session.cookies)
        other._api_key = self._api_key
        return other

    # -- auth ------------------------------------------------------------------------------------
    def enable_api_key_fallback(self) -> None:
        """Fetch Stash's API key (if one is configured) to retry with it when the session expires."""
        data = self.execute("query StashSenseApiKey { configuration { general { apiKey } } }")
        self._api_key = (data["configuration"]["general"].get("apiKey") or "") or None

    def _post(self, payload: dict) -> requests.Response:
        self.request_count += 1
        try:
            response = self.session.post(self.graphql_url, json=payload, timeout=TIMEOUT)
            if response.status_code == 401 and self._api_key:
                response = self.session.post(self.graphql_url, json=payload, timeout=TIMEOUT,
                                             headers={"ApiKey": self._api_key})
        except requests.RequestException as exc:
            raise StashUnreachable(f"Stash is not reachable at {self.graphql_url}: "
                                   f"{type(exc).__name__}") from None
        if response.status_code == 401:
            raise StashUnreachable("Stash refused the plugin's credentials (HTTP 401). If the task "
                                   "ran longer than Stash's session, generate an API key in "
                                   "Settings > Security so the plugin can fall back to it.")
        return response

    # -- GraphQL ---------------------------------------------------------------------------------
    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._post({"query": query, "variables": dict(variables or {})})
        if response.status_code >= 500 or response.status_code in (404, 405):
            raise StashUnreachable(f"Stash answered HTTP {response.status_code} at {self.graphql_url}")
        try:
            body = response.json()
        except json.JSONDecodeError:
            raise StashUnreachable(f"Stash's answer at {self.graphql_url} is not JSON "
                                   f"(HTTP {response.status_code})") from None
        errors = body.get("errors")
        if errors:
            messages = "; ".join(str(e.get("message", e)) for e in errors)
            raise StashRequestError(f"Stash rejected the request: {messages}")
        if body.get("data") is None:
            raise StashRequestError(f"Stash returned no data (HTTP {response.status_code})")
        return body["data"]

    # -- files (sprites, VTT, images) ------------------------------------------------------------
    def local_url(self, url: str) -> str:
        """Stash builds URLs from the request host or `external_host`; fetch them from our base."""
        parts = urlsplit(url)
        if not parts.scheme:
            return self.base_url + (url if url.startswith("/") else "/" + url)
        base = urlsplit(self.base_url)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    def fetch(self, url: str) -> requests.Response:
        """GET a Stash URL with the session's auth. Returns the response (any status)."""
        target = self.local_url(url)
        self.request_count += 1
        try:
            response = self.session.get(target, timeout=TIMEOUT)
            if response.status_code == 401 and self._api_key:
                response = self.session.get(target, timeout=TIMEOUT,
                                            headers={"ApiKey": self._api_key})
        except requests.RequestException as exc:
            raise StashUnreachable(f"Stash is not reachable for {urlsplit(target).path}: "
                                   f"{type(exc).__name__}") from None
        if response.status_code == 401:
            raise StashUnreachable("Stash refused the plugin's credentials (HTTP 401)")
        return response

    def auth_headers(self) -> dict[str, str]:
        """Headers for a child process (ffmpeg) fetching a Stash URL. Never log the result."""
        if self._api_key:
            return {"ApiKey": self._api_key}
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        return {"Cookie": cookie} if cookie else {}
