"""Full-resolution frames with ffmpeg: discovery, times, seeking, the stream fallback, errors."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest

from stash_sense.errors import DependencyMissing, FramesUnavailable
from stash_sense.frames import video
from stash_sense.frames.sampling import frame_times
from stash_sense.frames.types import SceneMedia
from stash_sense.frames.video import (
    Tools,
    VideoSource,
    find_tools,
    grab_frames,
    needs_exact,
    probe_duration,
    redact,
    spans,
)

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="ffmpeg/ffprobe not installed (apt-get install ffmpeg)")


def media(path=None, duration=20.0, stream_url=None, sid="1"):
    return SceneMedia(id=sid, title="t", duration=duration, width=640, height=360, path=path,
                      sprite_url=None, vtt_url=None, stream_url=stream_url)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """20 s, 640x360; the left half of the frame is red for t < 10 and blue after."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    path = str(tmp_path_factory.mktemp("video") / "clip.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=blue:s=640x360:r=10:d=20", "-vf",
                    "drawbox=x=0:y=0:w=320:h=360:color=red:t=fill:enable='lt(t,10)',format=yuv420p",
                    "-c:v", "mpeg4", "-q:v", "3", "-g", "50", path], check=True)
    return path


# -- times -----------------------------------------------------------------------------------
@pytest.mark.parametrize("duration,count,expected", [
    (20.0, 4, [2.5, 7.5, 12.5, 17.5]),                         # short: evenly spread
    (600.0, 8, [0.7, 1.7, 2.7, 60.0, 180.0, 300.0, 420.0, 540.0]),  # + the opening's title card
    (600.0, 3, [100.0, 300.0, 500.0]),                         # too few frames to spare two
    (0.0, 8, []), (100.0, 0, []),
])
def test_frame_times(duration, count, expected):
    assert frame_times(duration, count) == expected


def test_spans_cover_the_scene_and_exact_seeks_where_needed():
    times = frame_times(600.0, 8)
    widths = spans(times, 600.0)
    assert sum(widths) == pytest.approx(600.0) and all(w > 0 for w in widths)
    assert widths[0] == pytest.approx(1.2)                     # 0 .. midpoint of 0.7 and 1.7
    assert needs_exact(times) == [True] * 3 + [False] * 5      # far apart: the keyframe will do
    assert all(needs_exact(frame_times(40.0, 8)))              # close together: exact seeks


# -- finding ffmpeg --------------------------------------------------------------------------
def _fake_binary(folder, name):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def test_find_tools_prefers_stash_config(tmp_path, monkeypatch):
    ff = _fake_binary(str(tmp_path), "ffmpeg")
    probe = _fake_binary(str(tmp_path), "ffprobe")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_tools({"ffmpegPath": ff, "ffprobePath": ""}) == Tools(ff, probe)  # ffprobe beside
    # empty setting: Stash's config directory, where Stash downloads its own ffmpeg
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    own = _fake_binary(str(cfg), "ffmpeg")
    assert find_tools({"ffmpegPath": "", "configFilePath": str(cfg / "config.yml")}).ffmpeg == own


def test_missing_ffmpeg_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DependencyMissing) as err:
        find_tools({"ffmpegPath": "/nope/ffmpeg", "configFilePath": str(tmp_path / "c.yml")})
    text = str(err.value)
    assert "apt-get install ffmpeg" in text and "FFmpeg path in Stash" in text
    assert "/nope/ffmpeg" in text


def test_redact_hides_api_keys():
    url = "http://127.0.0.1:9999/scene/1/stream?apikey=SECRET"
    assert "SECRET" not in redact(f"{url}: Server returned 404 Not Found", url)
    assert "SECRET" not in redact("Opening 'x?apikey=SECRET&a=1'", "/local/file.mp4")


# -- grabbing --------------------------------------------------------------------------------
@needs_ffmpeg
def test_grab_frames_seeks_the_right_moments(clip):
    tools = find_tools({})
    assert probe_duration(clip, tools) == pytest.approx(20.0, abs=0.2)
    assert probe_duration(clip, Tools(tools.ffmpeg, None)) == pytest.approx(20.0, abs=0.2)
    images = grab_frames(clip, [2.0, 15.0, 99.0], tools.ffmpeg)   # 99 s is past the end
    assert len(images) == 2
    left = [im.getpixel((10, 180)) for im in images]
    assert left[0][0] > 200 and left[0][2] < 60                 # red before 10 s
    assert left[1][2] > 200 and left[1][0] < 60                 # blue after
    assert images[0].size == (640, 360)
    small = grab_frames(clip, [1.0], tools.ffmpeg, max_width=320)
    assert small[0].size == (320, 180)


@needs_ffmpeg
def test_video_source_local_file(clip):
    frames = VideoSource(find_tools({}), count=4).frames(media(clip))
    assert [f.time for f in frames] == [2.5, 7.5, 12.5, 17.5]
    assert [f.span for f in frames] == [5.0, 5.0, 5.0, 5.0]
    assert all(f.source == "video" and f.scene_id == "1" for f in frames)
    assert frames[0].image.getpixel((10, 10))[0] > 200 and frames[3].image.getpixel((10, 10))[2] > 200


@needs_ffmpeg
def test_video_source_falls_back_to_the_stream_with_credentials(clip):
    """The file path Stash reports is not visible here: ffmpeg reads the stream URL instead,
    with the session's cookie, and the stand-in refuses it without."""
    from stash_sense.stash.client import StashClient
    from tests.e2e import require_schema
    from tests.standin.server import FakeStash
    require_schema()
    with FakeStash(require_auth=True) as stash:
        sid = stash.add_scene("remote", duration=20.0, video_path=clip)
        scene = stash.scene(sid)
        url = f"http://0.0.0.0:{stash.port}/scene/{sid}/stream"   # Stash's external host
        remote = media("/not/mounted/here.mp4", stream_url=url, sid=sid)
        client = StashClient({"Scheme": "http", "Host": "127.0.0.1", "Port": stash.port,
                              "SessionCookie": {"Name": "session",
                                                "Value": stash.session_cookie_value}})
        frames = VideoSource(find_tools({}), count=2, client=client).frames(remote)
        assert [f.time for f in frames] == [5.0, 15.0]
        assert frames[0].image.getpixel((10, 10))[0] > 200
        assert any(path.startswith(f"/scene/{sid}/stream") and status in (200, 206)
                   for _, path, status in stash.http_log)
        anonymous = StashClient({"Scheme": "http", "Host": "127.0.0.1", "Port": stash.port})
        with pytest.raises(FramesUnavailable, match="API key|refused"):
            VideoSource(find_tools({}), count=2, client=anonymous).frames(remote)
        assert scene["path"] == clip
        gone = stash.add_scene("file gone", duration=20.0)      # Stash has no file to stream
        lost = media("/not/here.mp4", stream_url=f"http://0.0.0.0:{stash.port}/scene/{gone}/stream",
                     sid=gone)
        with pytest.raises(FramesUnavailable, match="rescan the library or restore the file"):
            VideoSource(find_tools({}), count=2, client=client).frames(lost)


@needs_ffmpeg
def test_unreadable_and_missing_videos_fail_the_scene(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 50)
    source = VideoSource(find_tools({}), count=2)
    with pytest.raises(FramesUnavailable, match="could not read a frame|plays in Stash"):
        source.frames(media(str(broken)))
    with pytest.raises(FramesUnavailable, match="not reachable"):
        source.frames(media(str(tmp_path / "gone.mp4")))
    with pytest.raises(FramesUnavailable, match="duration"):
        source.frames(media(str(broken), duration=0.0))


def test_hung_ffmpeg_is_killed(tmp_path, monkeypatch):
    slow = tmp_path / "ffmpeg"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setattr(video, "FRAME_TIMEOUT", 0.5)
    with pytest.raises(FramesUnavailable, match="took longer"):
        video.grab_frame("x.mp4", 1.0, str(slow))


@pytest.mark.skipif(not os.uname().sysname == "Linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_ffmpeg_dies_with_the_plugin(tmp_path):
    """Stash stops a task with SIGKILL: the ffmpeg child must not be left running."""
    import signal
    import sys
    import time
    pid_file = tmp_path / "child.pid"
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    fake.chmod(0o755)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parent = subprocess.Popen([sys.executable, "-c", "from stash_sense.frames import video; "
                               f"video.grab_frame('x.mp4', 1.0, {str(fake)!r})"], cwd=root)
    try:
        deadline = time.time() + 20
        while not (pid_file.exists() and pid_file.read_text().strip()) and time.time() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("ffmpeg outlived the killed plugin process")
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness via /proc")
def test_ffmpeg_children_run_at_a_lower_priority():
    """The decode-ahead ffmpeg must not take time from the analyzers on the same cores."""
    from stash_sense.frames.video import FFMPEG_NICE, _run
    stat = _run(["sh", "-c", "cat /proc/self/stat"], 10).stdout.decode()
    niceness = int(stat.rsplit(")", 1)[1].split()[16])
    assert niceness == min(os.nice(0) + FFMPEG_NICE, 19)
