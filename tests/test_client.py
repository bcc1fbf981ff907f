"""The Stash client: session cookie auth (and the cookie Stash refreshes), API-key fallback after
the session ends, errors, timeouts."""
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stash_sense.errors import StashRequestError, StashUnreachable, TransferFailed
from stash_sense.stash.api import StashAPI
from stash_sense.stash.client import StashClient


@pytest.fixture
def stash_options():
    """Stash with authentication on and an API key, as the client meets it in real installs."""
    return {"require_auth": True, "api_key": "k-123"}


def test_host_0000_means_local_and_the_session_cookie_authenticates(stash):
    client = StashClient(stash.server_connection())
    assert client.base_url.startswith("http://127.0.0.1:")
    assert StashAPI(client).plugin_settings("stash_sense") == {}


def test_api_key_fallback_when_the_session_expires(stash):
    client = StashClient(stash.server_connection())
    client.enable_api_key_fallback()
    stash._cookies.clear()                      # the one-hour session ended mid-task
    assert StashAPI(client).plugin_settings("stash_sense") == {}
    assert stash.http_log[-1][2] == 200


def test_without_a_key_an_expired_session_is_a_clear_error(stash):
    client = StashClient(stash.server_connection())
    stash._cookies.clear()
    with pytest.raises(StashUnreachable, match="401"):
        StashAPI(client).plugin_settings("stash_sense")


def test_graphql_errors_are_scene_errors_with_stash_s_message(stash):
    client = StashClient(stash.server_connection())
    tag = StashAPI(client).create_tag("Pool", parent_ids=[])
    with pytest.raises(StashRequestError, match="already exists"):
        StashAPI(client).create_tag("pool", parent_ids=[])
    assert tag["name"] == "Pool"


def test_fetch_rewrites_external_host_urls_to_the_local_base(stash):
    client = StashClient(stash.server_connection())
    assert client.transport.local_url("https://stash.example.com/scene/abc_sprite.jpg?x=1") == \
        f"{client.base_url}/scene/abc_sprite.jpg?x=1"


class _CookieStash(BaseHTTPRequestHandler):
    """Answers GraphQL like Stash, records each request's Cookie header, and hands out a new
    session cookie on the second request (Stash refreshing the session)."""
    protocol_version = "HTTP/1.1"
    seen: list = []

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(self.headers.get("Cookie"))
        body = b'{"data": {"configuration": {"plugins": {}}}}'
        self.send_response(200)
        if len(type(self).seen) == 2:
            self.send_header("Set-Cookie", "session=refreshed; Path=/; HttpOnly")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_refreshed_session_cookie_is_used_from_then_on_also_by_clones(host):
    _CookieStash.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CookieStash)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = StashClient({"Host": host, "Port": server.server_address[1],
                              "SessionCookie": {"Name": "session", "Value": "first"}})
        api = StashAPI(client)
        for _ in range(3):
            api.plugin_settings("stash_sense")
        StashAPI(client.clone()).plugin_settings("stash_sense")
    finally:
        server.shutdown()
        server.server_close()
    assert _CookieStash.seen == ["session=first", "session=first", "session=refreshed",
                                 "session=refreshed"]


def test_a_stalled_file_is_a_transfer_failure_a_closed_port_is_unreachable():
    """Connect and read timeouts differ: Stash accepted the connection but never answers (a
    hung disk behind it) is TransferFailed for that file; nothing listening is StashUnreachable."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    port = silent.getsockname()[1]
    try:
        with pytest.raises(TransferFailed):
            StashClient({"Host": "127.0.0.1", "Port": port}).open_stream("/x", (5.0, 0.5))
    finally:
        silent.close()
    with pytest.raises(StashUnreachable, match="not reachable"):
        StashClient({"Host": "127.0.0.1", "Port": port}).open_stream("/x")


class _IdleClosingStash(_CookieStash):
    """Closes each connection after answering without saying so (an idle timeout between a
    task's requests): the next request must notice and reconnect."""

    def do_POST(self):  # noqa: N802
        super().do_POST()
        self.close_connection = True


def test_a_kept_alive_connection_that_stash_closed_is_reopened():
    _IdleClosingStash.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _IdleClosingStash)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = StashAPI(StashClient({"Host": "127.0.0.1", "Port": server.server_address[1]}))
        for _ in range(3):
            assert api.plugin_settings("stash_sense") == {}
            time.sleep(0.05)                      # the server's close has arrived
    finally:
        server.shutdown()
        server.server_close()
    assert len(_IdleClosingStash.seen) == 3


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_a_self_signed_certificate_is_accepted(tmp_path):
    """Home servers often serve Stash over HTTPS with a self-signed certificate."""
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=stash.invalid", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    _CookieStash.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CookieStash)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = StashClient({"Scheme": "https", "Host": "127.0.0.1",
                              "Port": server.server_address[1]})
        assert StashAPI(client).plugin_settings("stash_sense") == {}
    finally:
        server.shutdown()
        server.server_close()
