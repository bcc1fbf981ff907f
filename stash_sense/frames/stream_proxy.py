"""A loopback HTTP proxy inside the plugin process, so ffmpeg can read a scene's stream from Stash
without ever holding the credentials.

Why: when the video file is not visible to the plugin (Stash in another container, a share mounted
only for Stash), ffmpeg must read Stash's stream URL, and Stash wants the session cookie or the API
key. Anything on a child's command line is visible to every local user (`ps`), and its environment
to the same user and root; the stream URL Stash builds even carries `?apikey=` itself. So ffmpeg is
given `http://127.0.0.1:<random port>/<token>` and this proxy, in the plugin process, fetches the
real URL with the plugin's StashClient (cookie, API-key fallback) and relays the answer, with HTTP
Range (ffmpeg seeks by reopening at a byte offset).

Access: bound to 127.0.0.1 only, on a port the kernel picks; each scene gets its own unguessable
token, valid only while that scene's frames are taken (`serving`). The token is on ffmpeg's command
line, so on Linux the proxy also checks that the connecting socket belongs to this user
(/proc/net/tcp): another local user who reads the token from `ps` still gets nothing. The server
runs on daemon threads of the plugin process: Stash's Stop (SIGKILL) or the end of the task ends it.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from ..errors import StashUnreachable, TransferFailed
from ..stash.client import StashClient

if TYPE_CHECKING:
    from ..stash.transport import Response, Timeout

LOOPBACK = "127.0.0.1"
UPSTREAM_TIMEOUT: Timeout = (10.0, 60.0)     # connect, read: ffmpeg's own -rw_timeout is 30 s
CHUNK = 256 * 1024
RELAYED = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified",
           "ETag")


class StreamProxy:
    """`with proxy.serving(stash_url) as local_url:` ffmpeg reads `local_url`. Start is lazy (the
    first scene that needs the stream); `close()` stops it (also done by process exit)."""

    def __init__(self, client: StashClient):
        self._client = client               # cloned per request (thread safety)
        self._routes: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        return self._server.server_address[1] if self._server else None

    def _start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            server = _Server((LOOPBACK, 0), _Handler)
            server.proxy = self
            self._thread = threading.Thread(target=server.serve_forever, name="stash-sense-proxy",
                                            kwargs={"poll_interval": 0.2}, daemon=True)
            self._server = server
            self._thread.start()

    @contextlib.contextmanager
    def serving(self, upstream: str) -> Iterator[str]:
        """A local URL for `upstream` (a Stash URL), valid inside the `with` block only."""
        self._start()
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._routes[token] = upstream
        try:
            yield f"http://{LOOPBACK}:{self.port}/{token}"
        finally:
            with self._lock:
                self._routes.pop(token, None)

    def upstream_for(self, path: str) -> str | None:
        token = path.lstrip("/").split("?", 1)[0]
        with self._lock:
            return self._routes.get(token)

    def open_upstream(self, upstream: str, range_header: str | None) -> Response:
        headers = {"Range": range_header} if range_header else {}
        return self._client.clone().open_stream(upstream, UPSTREAM_TIMEOUT, headers)

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            self._routes.clear()
        if server is not None:
            server.shutdown()
            server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: StreamProxy

    def handle_error(self, request, client_address) -> None:
        """ffmpeg hanging up mid-answer (it does, to seek) is normal; socketserver would print a
        traceback on stderr, which is Stash's log protocol. Say nothing."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"           # one response per connection; ffmpeg reconnects to seek

    def log_message(self, *args) -> None:   # stderr is Stash's log protocol: say nothing
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._relay()

    def do_HEAD(self) -> None:  # noqa: N802
        self._relay()

    def _plain(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _relay(self) -> None:
        upstream = self.server.proxy.upstream_for(self.path)
        if upstream is None or not same_user(self.connection):
            return self._plain(404)
        try:
            response = self.server.proxy.open_upstream(upstream, self.headers.get("Range"))
        except StashUnreachable as exc:
            return self._plain(401 if "401" in str(exc) else 502)
        except TransferFailed:
            return self._plain(504)
        with response:
            self.send_response(response.status)
            for name in RELAYED:
                value = response.headers.get(name)
                if value is not None:
                    self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            try:
                for chunk in response.chunks(CHUNK):
                    self.wfile.write(chunk)
            except (OSError, TransferFailed):
                pass        # ffmpeg closed the connection to seek elsewhere, or Stash cut it


def same_user(conn: socket.socket) -> bool:
    """Whether the peer of `conn` (a loopback TCP connection) is a socket of this user. Linux:
    /proc/net/tcp lists each socket with its owner's uid. Without a readable table (another OS, a
    locked-down /proc): True, the token alone guards."""
    try:
        peer_ip, peer_port = conn.getpeername()[:2]
        local_port = conn.getsockname()[1]
        with open("/proc/net/tcp", encoding="ascii") as table:
            rows = table.read().splitlines()[1:]
    except OSError:
        return True
    want_local = f"{_hex_ip(peer_ip)}:{peer_port:04X}"
    want_remote = f":{local_port:04X}"
    for row in rows:
        fields = row.split()
        if len(fields) > 7 and fields[1] == want_local and fields[2].endswith(want_remote):
            return fields[7] == str(os.getuid())
    return False


def _hex_ip(ip: str) -> str:
    """127.0.0.1 as /proc/net/tcp prints it: the address's bytes in host order, in hex."""
    return "%08X" % int.from_bytes(socket.inet_aton(ip), sys.byteorder)
