"""A thin GraphQL/HTTP client over one requests.Session, authenticated like Stash expects.

Why not stashapi's StashInterface: it performs three requests including a full schema introspection
on connect (seconds, per process), which a hook must not pay, and it builds fragments at run time;
our documents are explicit and the test suite validates every one against Stash's real schema.

Auth: the session cookie Stash hands the plugin (kept in the session's cookie jar, so the refreshed
cookie Stash sends back keeps a long task alive and hook-loop detection keeps working), with a
fallback to the `ApiKey` header for tasks that outlive Stash's one-hour session. Credentials are
never logged and never handed to a child process: ffmpeg reads Stash's stream through a loopback
proxy in this process that adds them (frames/stream_proxy.py).
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

import requests

from ..errors import StashUnreachable
from .wire import endpoint, graphql_data, session_cookie

TIMEOUT = (10, 120)  # connect, read (seconds)


class StashClient:
    def __init__(self, server_connection: Mapping[str, Any], *, verify_ssl: bool = False):
        scheme, host, port = endpoint(server_connection)
        self.base_url = f"{scheme}://{host}:{port}"
        self.graphql_url = f"{self.base_url}/graphql"
        self.session = requests.Session()
        self.session.verify = verify_ssl  # self-signed TLS is common on home servers
        cookie = session_cookie(server_connection)
        if cookie:
            self.session.cookies.set(cookie[0], cookie[1], path="/")
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
        return response

    # -- GraphQL ---------------------------------------------------------------------------------
    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._post({"query": query, "variables": dict(variables or {})})
        return graphql_data(response.status_code, response.content, self.graphql_url)

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
        try:
            response = self._get(target, TIMEOUT, {}, stream=False)
        except requests.RequestException as exc:
            raise StashUnreachable(f"Stash is not reachable for {urlsplit(target).path}: "
                                   f"{type(exc).__name__}") from None
        return response

    def open_stream(self, url: str, timeout: tuple[float, float] = TIMEOUT,
                    headers: Mapping[str, str] | None = None) -> requests.Response:
        """GET a Stash URL with the session's auth without reading the body: the caller reads it
        (bounded: frames/download.py; relayed: frames/stream_proxy.py) and closes the response.

        A refused or failed connection is StashUnreachable (nothing will work); a read timeout is
        raised as requests.Timeout for the caller to judge: one file on a hung disk or share is a
        problem of that file, not of Stash."""
        target = self.local_url(url)
        try:
            return self._get(target, timeout, dict(headers or {}), stream=True)
        except requests.ConnectTimeout as exc:
            raise StashUnreachable(f"Stash is not reachable for {urlsplit(target).path}: "
                                   f"{type(exc).__name__}") from None
        except requests.Timeout:
            raise
        except requests.RequestException as exc:
            raise StashUnreachable(f"Stash is not reachable for {urlsplit(target).path}: "
                                   f"{type(exc).__name__}") from None

    def _get(self, target: str, timeout, headers: dict[str, str], *, stream: bool
             ) -> requests.Response:
        self.request_count += 1
        response = self.session.get(target, timeout=timeout, headers=headers, stream=stream)
        if response.status_code == 401 and self._api_key:
            response.close()
            response = self.session.get(target, timeout=timeout, stream=stream,
                                        headers={**headers, "ApiKey": self._api_key})
        if response.status_code == 401:
            response.close()
            raise StashUnreachable("Stash refused the plugin's credentials (HTTP 401)")
        return response
