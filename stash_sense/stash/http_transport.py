"""The transport to a real Stash: HTTP(S) with the standard library, authenticated as Stash expects.

Why the standard library: Stash waits for a hook process before it finishes the save or scan step
that fired it, and the scene tab waits for its operations the same way; importing `requests` alone
costs 0.1-0.25 s, more than everything else a hook does. http.client also lets the connect and read
timeouts differ and keeps one connection open for a task's many GraphQL requests.

Auth: the session cookie Stash hands the plugin (cookies Stash sets later replace it, so a
refreshed session keeps a long task alive and hook-loop detection keeps working), with a fallback
to the `ApiKey` header for tasks that outlive Stash's one-hour session. Credentials are never
logged and never handed to a child process: ffmpeg reads Stash's stream through a loopback proxy
in this process that adds them (frames/stream_proxy.py).
"""
from __future__ import annotations

import http.client
import select
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..errors import StashUnreachable, TransferFailed

if TYPE_CHECKING:
    from http.cookiejar import CookieJar
    from typing import Protocol

    from .transport import Timeout

    class _Answer(Protocol):
        status: int

        def close(self) -> None: ...

_A = TypeVar("_A", bound="_Answer")

TIMEOUT: Timeout = (10.0, 120.0)
REFUSED = ("Stash refused the plugin's credentials (HTTP 401). If the task ran longer than "
           "Stash's session, generate an API key in Settings > Security so the plugin can fall "
           "back to it.")
_BROKEN = (OSError, http.client.HTTPException)   # socket errors, timeouts, a cut connection


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


class SessionCookies:
    """The session cookie Stash handed us and whatever cookies Stash sets afterwards.

    A plain `Cookie` header until Stash first answers with Set-Cookie; only then http.cookiejar
    (10 ms to import, a tenth of a hook's run) takes over with the full cookie rules."""

    def __init__(self, initial: tuple[str, str] | None):
        self._initial = initial
        self._jar: CookieJar | None = None

    def header(self, url: str) -> str | None:
        if self._jar is None:
            return f"{self._initial[0]}={self._initial[1]}" if self._initial else None
        from urllib.request import Request  # noqa: PLC0415 - loaded with http.cookiejar
        request = Request(url)
        self._jar.add_cookie_header(request)
        return request.get_header("Cookie")

    def update(self, response: http.client.HTTPResponse, url: str) -> None:
        if not response.msg.get_all("Set-Cookie"):
            return                      # the usual answer: nothing to import, nothing to do
        import http.cookiejar  # noqa: PLC0415
        from urllib.request import Request  # noqa: PLC0415
        request = Request(url)
        if self._jar is None:
            self._jar = http.cookiejar.CookieJar()
            if self._initial:   # as if Stash had set it for this host, so its new value replaces it
                name, value = self._initial
                host = http.cookiejar.eff_request_host(request)[1]  # type: ignore[attr-defined]
                self._jar.set_cookie(http.cookiejar.Cookie(
                    0, name, value, None, False, host, False, False, "/", True, False, None,
                    False, None, None, {}))
        self._jar.extract_cookies(response, request)

    def copy(self) -> SessionCookies:
        other = SessionCookies(self._initial)
        if self._jar is not None:
            import http.cookiejar  # noqa: PLC0415 - already loaded
            other._jar = http.cookiejar.CookieJar()
            for cookie in self._jar:
                other._jar.set_cookie(cookie)
        return other


class HttpResponse:
    """An opened GET (transport.Response) over http.client; closing it closes its connection."""

    def __init__(self, response: http.client.HTTPResponse, conn: http.client.HTTPConnection):
        self._response = response
        self._conn = conn
        self.status = response.status
        self.headers = response.msg

    def chunks(self, size: int) -> Iterator[bytes]:
        while True:
            chunk = self._read(size)
            if not chunk:
                return
            yield chunk

    def read(self) -> bytes:
        return self._read(-1)

    def _read(self, size: int) -> bytes:
        try:
            return self._response.read1(size) if size > 0 else self._response.read()
        except _BROKEN as exc:
            raise TransferFailed("the transfer stalled or broke off",
                                 type(exc).__name__) from None

    def close(self) -> None:
        self._response.close()
        self._conn.close()

    def __enter__(self) -> HttpResponse:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class HttpTransport:
    """transport.Transport over http.client: one kept-alive connection for GraphQL, a fresh one
    per opened file. Self-signed TLS is accepted (common on home servers)."""

    def __init__(self, scheme: str, host: str, port: int, cookie: tuple[str, str] | None = None,
                 *, timeout: Timeout = TIMEOUT):
        self.scheme, self.host, self.port = scheme, host, port
        self.timeout = timeout
        self.cookies = SessionCookies(cookie)
        self._api_key: str | None = None
        self._conn: http.client.HTTPConnection | None = None

    @classmethod
    def from_server_connection(cls, server_connection: Mapping[str, Any] | None, *,
                               timeout: Timeout = TIMEOUT) -> HttpTransport:
        scheme, host, port = endpoint(server_connection)
        return cls(scheme, host, port, session_cookie(server_connection), timeout=timeout)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def clone(self) -> HttpTransport:
        other = HttpTransport(self.scheme, self.host, self.port, timeout=self.timeout)
        other.cookies = self.cookies.copy()
        other._api_key = self._api_key
        return other

    def use_api_key(self, key: str | None) -> None:
        self._api_key = key or None

    def local_url(self, url: str) -> str:
        """Stash builds URLs from the request host or `external_host`; fetch them from our base."""
        parts = urlsplit(url)
        if not parts.scheme:
            return self.base_url + (url if url.startswith("/") else "/" + url)
        return urlunsplit((self.scheme, f"{self.host}:{self.port}", parts.path, parts.query, ""))

    # -- the two requests ------------------------------------------------------------------------
    def post_graphql(self, body: bytes) -> tuple[int, bytes]:
        url = f"{self.base_url}/graphql"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            response = self._authenticated(
                lambda extra: self._post(url, body, {**headers, **extra}))
            return response.status, response.read()
        except _BROKEN as exc:
            self._drop()
            raise StashUnreachable(f"Stash is not reachable at {url}: {type(exc).__name__}") \
                from None

    def open(self, url: str, *, headers: Mapping[str, str] | None = None,
             timeout: Timeout | None = None) -> HttpResponse:
        target = self.local_url(url)
        base = dict(headers or {})
        try:
            return self._authenticated(lambda extra: self._get(target, {**base, **extra},
                                                               timeout or self.timeout))
        except TimeoutError as exc:
            raise TransferFailed(f"Stash did not start answering for {urlsplit(target).path} "
                                 "within the read timeout", type(exc).__name__) from None
        except _BROKEN as exc:
            raise StashUnreachable(f"Stash is not reachable for {urlsplit(target).path}: "
                                   f"{type(exc).__name__}") from None

    def _authenticated(self, send: Callable[[dict[str, str]], _A]) -> _A:
        """`send(extra_headers)` with the session's cookie; once more with the API key if Stash
        refuses it and a key is known; a final refusal is StashUnreachable."""
        response = send({})
        if response.status == 401 and self._api_key:
            response.close()
            response = send({"ApiKey": self._api_key})
        if response.status == 401:
            response.close()
            raise StashUnreachable(REFUSED)
        return response

    # -- connections -----------------------------------------------------------------------------
    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> _KeptResponse:
        conn = self._kept_connection()
        cookie = self.cookies.header(url)
        if cookie:
            headers["Cookie"] = cookie
        conn.request("POST", "/graphql", body=body, headers=headers)
        response = conn.getresponse()
        self.cookies.update(response, url)
        return _KeptResponse(response)

    def _get(self, target: str, headers: dict[str, str], timeout: Timeout) -> HttpResponse:
        conn = self._connect(timeout)
        cookie = self.cookies.header(target)
        if cookie:
            headers["Cookie"] = cookie
        parts = urlsplit(target)
        try:
            conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                         headers=headers)
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        self.cookies.update(response, target)
        return HttpResponse(response, conn)

    def _kept_connection(self) -> http.client.HTTPConnection:
        """The GraphQL connection, reopened when Stash closed it (HTTP/1.0, idle timeout)."""
        conn = self._conn
        if conn is not None and (conn.sock is None or _dropped(conn.sock)):
            self._drop()
            conn = None
        if conn is None:
            conn = self._conn = self._connect(self.timeout)
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect(self, timeout: Timeout) -> http.client.HTTPConnection:
        """Connected within the connect timeout; each later read waits up to the read timeout."""
        connect, read = timeout
        conn: http.client.HTTPConnection
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=connect,
                                               context=_unverified_tls())
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=connect)
        try:
            conn.connect()
        except _BROKEN as exc:
            conn.close()
            raise StashUnreachable(f"Stash is not reachable at {self.base_url}: "
                                   f"{type(exc).__name__}") from None
        assert conn.sock is not None
        conn.sock.settimeout(read)
        return conn


class _KeptResponse:
    """A GraphQL answer on the kept-alive connection: read whole, never closes the connection
    (http.client closes it itself when Stash asks to)."""

    def __init__(self, response: http.client.HTTPResponse):
        self._response = response
        self.status = response.status

    def read(self) -> bytes:
        return self._response.read()

    def close(self) -> None:
        self._response.read()           # drained, so the connection can carry the retry


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection was closed by Stash (it is readable: EOF)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _unverified_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
