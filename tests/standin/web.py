"""HTTP front of the stand-in: /graphql, the /scene and image routes, static files.

Mirrors what a plugin observes from Stash's HTTP server:

* authentication (when enabled): header ``ApiKey`` or query ``?apikey=``
  (a wrong key is 401 even with a valid cookie), else cookie ``session``;
  failures are plain HTTP 401 like Stash's middleware;
* GraphQL request-level failures (parse, validation, variable coercion) are
  HTTP 422 like gqlgen; resolver errors are HTTP 200 with ``errors``;
* sprite/VTT by hash (``/scene/<hash>_sprite.jpg``) and by id
  (``/scene/<id>/vtt/sprite``), ``/scene/<id>/stream`` with Range support;
  a missing generated file is a 404 while its URL is still advertised.

Static files (``static_dir``) are served without auth for browser tests.
"""
from __future__ import annotations

import json
import mimetypes
import os
import re
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

_SCENE_ROUTES = [
    (re.compile(r"^/scene/([^/]+)_sprite\.jpg$"), "hash", "sprite"),
    (re.compile(r"^/scene/([^/]+)_thumbs\.vtt$"), "hash", "vtt"),
    (re.compile(r"^/scene/(\d+)/vtt/sprite$"), "id", "sprite"),
    (re.compile(r"^/scene/(\d+)/vtt/thumbs$"), "id", "vtt"),
    (re.compile(r"^/scene/(\d+)/stream$"), "id", "stream"),
    (re.compile(r"^/scene/(\d+)/screenshot$"), "id", "screenshot"),
]
_IMAGE_ROUTE = re.compile(r"^/(performer|tag|studio)/(\d+)/image$")


class StashRequestHandler(BaseHTTPRequestHandler):
    server_version = "FakeStash/0.30"
    protocol_version = "HTTP/1.1"         # keep-alive, like Go's net/http
    # Go sets TCP_NODELAY on every connection. Without it, on a kept-alive connection the body
    # written after the headers waits for the client's delayed ACK: 40 ms per request.
    disable_nagle_algorithm = True

    @property
    def stash(self):
        return self.server.stash

    def log_message(self, *args):          # keep pytest output clean
        pass

    # ---------------------------------------------------------------- plumbing
    def _send(self, status: int, body: bytes = b"", ctype: str = "text/plain; charset=utf-8",
              headers: dict | None = None) -> None:
        self.stash.http_log.append((self.command, self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _cookie(self) -> str | None:
        raw = self.headers.get("Cookie")
        if not raw:
            return None
        jar = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # noqa: BLE001 - a malformed Cookie header is no session, as in Stash
            return None
        return jar["session"].value if "session" in jar else None

    def _authorized(self) -> bool:
        st = self.stash
        if not st.require_auth:
            return True
        query = parse_qs(urlsplit(self.path).query)
        key = self.headers.get("ApiKey") or (query.get("apikey") or [None])[0]
        if key:
            return bool(st.api_key) and key == st.api_key
        return st.is_valid_cookie(self._cookie())

    def _base_url(self) -> str:
        """Stash's BaseURLMiddleware: scheme + the request's Host header."""
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        return f"http://{host}"

    # ---------------------------------------------------------------- verbs
    def do_POST(self):  # noqa: N802
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path != "/graphql":
            return self._send(404, b"404 page not found\n")
        if not self._authorized():
            return self._send(401, b"Unauthorized\n")
        try:
            payload = json.loads(body or b"null")
            if not isinstance(payload, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            payload = {"query": None, "_decode_error": str(exc)}
        status, response = self.stash.execute_request(payload, base_url=self._base_url(),
                                                      cookie=self._cookie())
        self._send(status, json.dumps(response).encode(), "application/json")

    def do_GET(self):  # noqa: N802
        path = unquote(urlsplit(self.path).path)
        for rx, key, what in _SCENE_ROUTES:
            m = rx.match(path)
            if m:
                return self._scene_route(key, m.group(1), what)
        m = _IMAGE_ROUTE.match(path)
        if m:
            return self._image_route(m.group(1), m.group(2))
        return self._static(path)

    do_HEAD = do_GET

    # ---------------------------------------------------------------- routes
    def _scene_route(self, key: str, value: str, what: str):
        if not self._authorized():
            return self._send(401, b"Unauthorized\n")
        scene = self.stash.find_scene_for_route(key, value)
        if scene is None:
            return self._send(404, b"404 page not found\n")
        if what == "sprite" and scene.get("_sprite") is not None:
            return self._send(200, scene["_sprite"], "image/jpeg")
        if what == "vtt" and scene.get("_vtt") is not None:
            return self._send(200, scene["_vtt"].encode(), "text/vtt; charset=utf-8")
        if what == "screenshot" and scene.get("_screenshot") is not None:
            return self._send(200, scene["_screenshot"], "image/jpeg")
        if what == "stream" and scene.get("_video_path") and os.path.isfile(scene["_video_path"]):
            return self._send_file(scene["_video_path"])
        return self._send(404, b"404 page not found\n")

    def _image_route(self, kind: str, id_: str):
        if not self._authorized():
            return self._send(401, b"Unauthorized\n")
        table = {"performer": self.stash.performers, "tag": self.stash.tags,
                 "studio": self.stash.studios}[kind]
        rec = table.get(id_)
        if rec is None or rec.get("_image") is None:
            return self._send(404, b"404 page not found\n")
        data = rec["_image"]
        ctype = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
        return self._send(200, data, ctype)

    def _send_file(self, path: str, ctype: str | None = None):
        """Serve a file with single-range support (video players and ffmpeg seek with Range)."""
        size = os.path.getsize(path)
        ctype = ctype or mimetypes.guess_type(path)[0] or "application/octet-stream"
        rng = self.headers.get("Range")
        start, end, status = 0, size - 1, 200
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or (not m.group(1) and not m.group(2)):
                return self._send(416, b"", headers={"Content-Range": f"bytes */{size}"})
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:                                   # suffix range: last N bytes
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                return self._send(416, b"", headers={"Content-Range": f"bytes */{size}"})
            status = 206
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        headers = {"Accept-Ranges": "bytes"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return self._send(status, body, ctype, headers)

    def _static(self, path: str):
        root = self.stash.static_dir
        if root is None:
            return self._send(404, b"404 page not found\n")
        rel = path.lstrip("/") or "index.html"
        full = os.path.realpath(os.path.join(root, rel))
        if not full.startswith(os.path.realpath(root) + os.sep) or not os.path.isfile(full):
            return self._send(404, b"404 page not found\n")
        return self._send_file(full)
