"""Issue #8 case 8: no secret (API key, session cookie) in any child process's argv or environment.

The scene's file is not visible to the plugin, so ffmpeg must stream it from Stash, which requires
auth. Stash's ffmpegPath points at a wrapper that records its own /proc cmdline and environ (what
`ps` and /proc show other processes) and then execs the real ffmpeg/ffprobe: the frames must still
be decoded, and neither the API key nor the session cookie may appear in what was recorded.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.e2e import configure, require_schema
from tests.standin.runner import run_plugin
from tests.standin.server import FakeStash

API_KEY = "k-very-secret-api-key-4242"
VIDEO_COLOR = "tests.helpers.video_scripted:VideoColorAnalyzer"

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                reason="ffmpeg/ffprobe not installed (apt-get install ffmpeg)")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """20 s, 320x180, red for t < 10, blue after."""
    path = str(tmp_path_factory.mktemp("video") / "clip.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=blue:s=320x180:r=10:d=20", "-vf",
                    "drawbox=x=0:y=0:w=320:h=180:color=red:t=fill:enable='lt(t,10)',format=yuv420p",
                    "-c:v", "mpeg4", "-q:v", "3", "-g", "50", path], check=True)
    return path


def get(url: str, range_header: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET, whatever the status."""
    request = urllib.request.Request(url, headers={"Range": range_header} if range_header else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def recording_wrappers(folder, record_dir) -> str:
    """ffmpeg and ffprobe wrappers side by side (the plugin finds ffprobe beside ffmpeg)."""
    os.makedirs(record_dir, exist_ok=True)
    for name in ("ffmpeg", "ffprobe"):
        real = shutil.which(name)
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n"
                    f'cat /proc/$$/cmdline > "{record_dir}/{name}.$$.argv"\n'
                    f'cat /proc/$$/environ > "{record_dir}/{name}.$$.env"\n'
                    f'exec "{real}" "$@"\n')
        os.chmod(path, 0o755)
    return os.path.join(folder, "ffmpeg")


def recorded(record_dir) -> list[tuple[str, list[str], str]]:
    out = []
    for name in sorted(os.listdir(record_dir)):
        if name.endswith(".argv"):
            argv = open(os.path.join(record_dir, name), "rb").read().decode().split("\0")
            env = open(os.path.join(record_dir, name[:-5] + ".env"), "rb").read().decode()
            out.append((name, argv, env))
    return out


def test_ffmpeg_streams_through_a_loopback_proxy_and_never_sees_a_secret(tmp_path, clip):
    require_schema()
    record_dir = str(tmp_path / "calls")
    with FakeStash(require_auth=True, api_key=API_KEY) as stash:
        stash.set_general_config(ffmpegPath=recording_wrappers(str(tmp_path), record_dir))
        sid = stash.add_scene("remote", duration=20.0, video_path=clip)
        stash.scenes[sid]["_file"]["path"] = "/mnt/only-stash-sees-this/clip.mp4"
        configure(stash, tmp_path, analyzers=VIDEO_COLOR, videoFrames=2)
        assert "apikey=" in stash.graphql('{ findScene(id: "%s") { paths { stream } } }' % sid
                                          )["data"]["findScene"]["paths"]["stream"]

        run = run_plugin(stash, {"mode": "tag_scene", "scene_id": sid})

        assert run.error is None, run.log_text()
        assert run.output["tagged"] == 1 and run.output["frames"] == 2, run.output
        assert any(path.startswith(f"/scene/{sid}/stream") and status in (200, 206)
                   for _, path, status in stash.http_log), "ffmpeg did not stream from Stash"
        calls = recorded(record_dir)
        assert any(name.startswith("ffmpeg.") for name, _, _ in calls)
        secrets = (API_KEY, stash.session_cookie_value)
        for name, argv, env in calls:
            for secret in secrets:
                assert secret not in " ".join(argv), f"{name}: a secret on the command line"
                assert secret not in env, f"{name}: a secret in the environment"
            assert not any(a.lower().startswith(("cookie", "apikey")) or "-headers" == a
                           for a in argv), name
            urls = [a for a in argv if a.startswith("http")]
            assert urls and all(u.startswith("http://127.0.0.1:") for u in urls), argv
            assert not any(f":{stash.port}/" in u for u in urls), "ffmpeg went to Stash directly"
        for secret in secrets:
            assert secret not in run.stderr_raw and secret not in run.stdout_raw

        # the proxy died with the task: its port no longer answers
        port = int(urls[0].split(":")[2].split("/")[0])
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        assert stash.schema_violations == [] and stash.internal_errors == []


def test_the_proxy_serves_ranges_only_for_live_tokens(clip):
    """Range requests relayed byte-exact; an unknown or expired token and an anonymous Stash
    answer are refused; close() stops the server."""
    require_schema()
    from stash_sense.frames.stream_proxy import StreamProxy
    from stash_sense.stash.client import StashClient
    with FakeStash(require_auth=True, api_key=API_KEY) as stash:
        sid = stash.add_scene("remote", duration=20.0, video_path=clip)
        data = open(clip, "rb").read()
        client = StashClient(stash.server_connection())
        proxy = StreamProxy(client)
        upstream = f"http://0.0.0.0:{stash.port}/scene/{sid}/stream"
        with proxy.serving(upstream) as url:
            status, headers, body = get(url, "bytes=100-199")
            assert status == 206 and body == data[100:200]
            assert headers["Content-Range"] == f"bytes 100-199/{len(data)}"
            status, _, body = get(url)
            assert status == 200 and body == data
            assert get(url + "x")[0] == 404
            base = url.rsplit("/", 1)[0]
            assert get(base + "/")[0] == 404
        assert get(url)[0] == 404                                       # the scene is done
        anonymous = StreamProxy(StashClient({"Host": "127.0.0.1", "Port": stash.port}))
        with anonymous.serving(upstream) as url2:
            assert get(url2)[0] == 401
        anonymous.close()
        port = proxy.port
        proxy.close()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp") or os.getuid() != 0 or
                    shutil.which("curl") is None,
                    reason="needs Linux, root (to act as another user) and curl")
def test_another_local_user_with_the_token_gets_nothing(clip):
    """The token is on ffmpeg's command line, which every local user can read with `ps`: a
    request from another user's process is refused even with it."""
    require_schema()
    from stash_sense.frames.stream_proxy import StreamProxy
    from stash_sense.stash.client import StashClient
    with FakeStash(require_auth=True, api_key=API_KEY) as stash:
        sid = stash.add_scene("remote", duration=20.0, video_path=clip)
        proxy = StreamProxy(StashClient(stash.server_connection()))
        with proxy.serving(f"http://0.0.0.0:{stash.port}/scene/{sid}/stream") as url:
            def curl(as_nobody: bool) -> str:
                return subprocess.run(
                    ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-r", "0-99", url],
                    capture_output=True, text=True, timeout=30, check=False,
                    preexec_fn=(lambda: os.setuid(65534)) if as_nobody else None).stdout
            assert curl(as_nobody=False) == "206"
            assert curl(as_nobody=True) == "404"
        proxy.close()
