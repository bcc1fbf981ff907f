"""How StashClient reaches Stash: the transport interface (types only: imported for type checking).

Why an interface: the plugin talks to one real Stash over HTTP (stash/http_transport.py), and the
benchmark runs the same StashAPI and StashClient against an in-memory Stash (cli/bench_stash.py).
Everything about HTTP — the session cookie, the API-key fallback, HTTP 401, TLS, timeouts,
rewriting Stash's URLs to the address we reach it at — belongs to the HTTP transport; what a
GraphQL answer means belongs to StashClient. A stalled file is errors.TransferFailed.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Protocol

# (connect, read) seconds. The read timeout bounds each wait for data, not the whole transfer.
Timeout = tuple[float, float]


class Headers(Protocol):
    """Response headers, looked up case-insensitively as HTTP defines them."""

    def get(self, name: str, /) -> str | None: ...


class Response(Protocol):
    """An opened GET whose body the caller reads (bounded, or relayed) and then closes."""

    status: int

    @property
    def headers(self) -> Headers: ...

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body in pieces of at most `size` bytes, each as soon as it arrives.
        Raises TransferFailed if the transfer stalls or breaks off."""
        ...

    def read(self) -> bytes:
        """The whole body (raises TransferFailed like chunks())."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Response: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class Transport(Protocol):
    """One Stash, reached one way. Not thread-safe: `clone()` for another thread."""

    @property
    def base_url(self) -> str:
        """scheme://host:port of the Stash we talk to (messages name it)."""
        ...

    def post_graphql(self, body: bytes) -> tuple[int, bytes]:
        """POST a JSON GraphQL request; (HTTP status, raw body). Raises StashUnreachable when
        Stash cannot be reached or refuses our credentials."""
        ...

    def open(self, url: str, *, headers: Mapping[str, str] | None = None,
             timeout: Timeout | None = None) -> Response:
        """GET a URL Stash handed out (sprite, VTT, stream, image), any status but 401, without
        reading the body. Raises StashUnreachable (no connection, credentials refused) or
        TransferFailed (the answer did not start within the read timeout)."""
        ...

    def use_api_key(self, key: str | None) -> None:
        """Retry a refused request with this API key (for tasks that outlive Stash's session)."""
        ...

    def clone(self) -> Transport:
        """The same Stash and credentials, for another thread."""
        ...
