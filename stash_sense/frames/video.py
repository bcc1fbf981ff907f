"""Full-resolution frames seeked out of the scene's video with ffmpeg.

Sprite tiles are 160 px wide: fine for "what is happening", useless for a 20 px studio watermark.
Analyzers that read text (source "video") get a few real frames instead:

- ffmpeg is the one Stash uses (configuration.general.ffmpegPath; when empty, Stash's config
  directory, where Stash downloads its own copy, then PATH).
- The file path Stash reports is read directly when this process can see it; otherwise (Stash in
  another container, a network share mounted only for Stash) the scene's stream URL, read through
  a loopback proxy inside the plugin process that adds the credentials (frames/stream_proxy.py):
  no API key or cookie is ever on a child's command line or in its environment.
- One short ffmpeg process per frame, with `-ss` before `-i` (seek in the container). An exact
  seek decodes from the previous keyframe up to the time asked: 0.8-4 s of CPU per frame on a
  high-bitrate 1080p H.264 file with 10 s between keyframes, against 0.25 s for taking the
  keyframe itself. Frames far apart (long scenes) therefore take the keyframe at or before their
  time; the opening and closely spaced frames seek exactly. Every call has a timeout, network reads
  `-rw_timeout`, and on Linux the child gets SIGKILL when we die (Stash stops a task with SIGKILL),
  so no ffmpeg outlives the plugin.

Where frames are taken is frames/sampling.py (dense in the opening for title cards, then evenly
spread). Each frame's `span` is the stretch of the scene nearer to it than to any other.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from PIL import Image

from .. import log
from ..errors import DependencyMissing, FramesUnavailable
from ..kinds import FrameKind
from . import sampling
from .decode import decode_image
from .types import Frame, FrameSource, SceneMedia

if TYPE_CHECKING:   # imported when a scene needs the proxy (it pulls the HTTP client)
    from .stream_proxy import StreamProxy

FRAME_TIMEOUT = 90.0        # seconds for one frame (a slow network share, a 4K HEVC keyframe)
PROBE_TIMEOUT = 60.0
NET_TIMEOUT_US = 30_000_000  # ffmpeg -rw_timeout: a stalled stream fails instead of hanging
MAX_WIDTH = 1920            # 4K frames are scaled to this: text stays legible, OCR costs a quarter
MAX_FRAME_PIXELS = 50_000_000   # after scaling; only a damaged or absurd video comes near it
FFMPEG_NICE = 10            # added to the child's niceness: decode ahead in the analyzers' gaps
KEYFRAME_GAP = 20.0         # s; longer than the keyframe interval of nearly every video
INSTALL_FFMPEG = ("apt-get install ffmpeg (or your system's package manager), or set the FFmpeg "
                  "path in Stash: Settings > System > Application Paths")


# -- finding ffmpeg ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None


def _executable(path: str | None) -> str | None:
    if not path:
        return None
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return shutil.which(path)   # a bare name, as Stash also accepts


def _beside(binary: str, other: str) -> str | None:
    suffix = ".exe" if binary.lower().endswith(".exe") else ""
    return _executable(os.path.join(os.path.dirname(binary), other + suffix))


def find_tools(general: Mapping[str, object] | None) -> Tools:
    """ffmpeg/ffprobe the way Stash finds them. Raises DependencyMissing without ffmpeg."""
    general = general or {}
    configured = str(general.get("ffmpegPath") or "")
    config_dir = os.path.dirname(str(general.get("configFilePath") or ""))
    ffmpeg = (_executable(configured)
              or (_executable(os.path.join(config_dir, "ffmpeg")) if config_dir else None)
              or shutil.which("ffmpeg"))
    if ffmpeg is None:
        where = (f" (the FFmpeg path set in Stash, {configured!r}, is not a program)"
                 if configured else "")
        raise DependencyMissing("ffmpeg", INSTALL_FFMPEG + where)
    ffprobe = (_executable(str(general.get("ffprobePath") or "")) or _beside(ffmpeg, "ffprobe")
               or shutil.which("ffprobe"))
    return Tools(ffmpeg, ffprobe)


# -- child processes that die with us ----------------------------------------------------------
def _die_with_parent():
    """preexec_fn: SIGKILL this child when the thread that started it dies, and lower its
    priority (Linux only). ffmpeg decodes the next scene's frames while the analyzers run on the
    same cores; at a lower priority it fills the gaps between their batches instead of taking
    time from them (issue #14 measured CLIP at 0.57 of its bare speed beside a same-priority
    ffmpeg)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes  # noqa: PLC0415
        prctl = ctypes.CDLL(None, use_errno=True).prctl   # resolved now, not in the child
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, 9)   # PR_SET_PDEATHSIG, SIGKILL
        try:
            os.nice(FFMPEG_NICE)
        except OSError:
            pass

    return preexec


_PREEXEC = _die_with_parent()


def child_env() -> dict[str, str]:
    """The environment of an ffmpeg child: ours (no secret is ever put there), with the loopback
    exempt from any http_proxy the user set, so ffmpeg reaches our stream proxy directly."""
    env = dict(os.environ)
    for key in ("no_proxy", "NO_PROXY"):
        env[key] = ",".join(filter(None, [env.get(key, ""), "127.0.0.1", "localhost"]))
    return env


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=child_env(),
                              timeout=timeout, preexec_fn=_PREEXEC, check=False)
    except subprocess.TimeoutExpired:
        raise FramesUnavailable(f"{os.path.basename(cmd[0])} took longer than {timeout:.0f}s; "
                                "check that the video file is readable and not on a stalled "
                                "network share") from None
    except OSError as exc:
        raise DependencyMissing(f"{cmd[0]} could not be started ({exc.strerror})",
                                INSTALL_FFMPEG) from None


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def _input_args(source: str) -> list[str]:
    """Options before `-i`. Never credentials: a URL here is our loopback proxy's."""
    return ["-rw_timeout", str(NET_TIMEOUT_US)] if _is_url(source) else []


def redact(text: str, source: str) -> str:
    """ffmpeg's messages name the input: a stream URL (our proxy's, with its token; or a Stash URL
    with ?apikey=) becomes "the stream"; any apikey= left is masked."""
    if _is_url(source):
        text = text.replace(source, "the stream")
    return re.sub(r"(?i)(apikey=)[^&\s]+", r"\1***", text)


def _describe(source: str) -> str:
    return "the scene's stream from Stash" if _is_url(source) else source


def _reason(stderr: bytes, source: str) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return redact(lines[-1] if lines else "no error message", source)[:300]


# -- probing and grabbing ----------------------------------------------------------------------
def probe_duration(source: str, tools: Tools) -> float:
    """Seconds, from ffprobe (or ffmpeg's banner when ffprobe is missing). 0.0 if unknown."""
    if tools.ffprobe:
        out = _run([tools.ffprobe, "-v", "error", *_input_args(source),
                    "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", source],
                   PROBE_TIMEOUT)
        try:
            return max(float(out.stdout.decode().strip().splitlines()[0]), 0.0)
        except (ValueError, IndexError):
            return 0.0
    out = _run([tools.ffmpeg, "-hide_banner", "-nostdin", *_input_args(source),
                "-i", source], PROBE_TIMEOUT)
    m = re.search(rb"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", out.stderr)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else 0.0


def needs_exact(times: Sequence[float]) -> list[bool]:
    """Exact seeks for the opening and for frames closer than KEYFRAME_GAP to a neighbour (a
    keyframe there could be the neighbour's frame again); a nearby keyframe is as good elsewhere."""
    out = []
    for i, t in enumerate(times):
        gaps = [abs(t - times[j]) for j in (i - 1, i + 1) if 0 <= j < len(times)]
        out.append(t < sampling.INTRO_MIN_DURATION or min(gaps, default=1e9) < KEYFRAME_GAP)
    return out


def spans(times: Sequence[float], duration: float) -> list[float]:
    """Width of the stretch nearer to each time than to its neighbours."""
    bounds = [0.0] + [(a + b) / 2 for a, b in zip(times, times[1:])] + [max(duration, times[-1])]
    return [round(b - a, 3) for a, b in zip(bounds, bounds[1:])]


def grab_frame(source: str, time: float, ffmpeg: str, max_width: int | None = None,
               exact: bool = True) -> Image.Image | None:
    """One RGB frame at `time`, or None past the end of the video. exact=False takes the
    keyframe at or before `time` and decodes nothing else (3-10x less work on long GOPs)."""
    scale = ["-vf", f"scale=w='min(iw,{int(max_width)})':h=-2"] if max_width else []
    keyframe = [] if exact else ["-noaccurate_seek", "-skip_frame", "nokey"]
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *keyframe,
           *_input_args(source), "-ss", f"{max(time, 0.0):.3f}", "-i", source,
           "-map", "0:v:0", "-frames:v", "1", *scale, "-pix_fmt", "rgb24",
           "-f", "image2pipe", "-c:v", "ppm", "-"]
    out = _run(cmd, FRAME_TIMEOUT)
    if out.returncode != 0:
        raise FramesUnavailable(_unreadable(source, _reason(out.stderr, source)))
    if not out.stdout:
        return None
    try:     # the shared safe decoder: a video with absurd dimensions is that scene's problem
        return decode_image(out.stdout, "frame", "", max_pixels=MAX_FRAME_PIXELS)
    except FramesUnavailable as exc:
        raise FramesUnavailable(_unreadable(source, str(exc).rstrip(": "))) from None


def grab_frames(source: str, times: Sequence[float], ffmpeg: str,
                max_width: int | None = None) -> list[Image.Image]:
    """Frames at `times` that exist (times past the end are skipped); raises FramesUnavailable
    when ffmpeg cannot read the video."""
    images = []
    for t in times:
        image = grab_frame(source, t, ffmpeg, max_width)
        if image is not None:
            images.append(image)
    return images


def _unreadable(source: str, reason: str) -> str:
    what = "the scene's stream from Stash" if _is_url(source) else f"the video file {source}"
    low = reason.lower()
    if "404" in low:
        return (f"Stash has no file to stream for this scene ({reason}): rescan the library "
                "or restore the file")
    if "401" in low or "403" in low:
        return (f"Stash refused the stream request ({reason}): set an API key in "
                "Settings > Security and run the task again")
    return (f"ffmpeg could not read a frame from {what}: {reason}. Check that the scene plays "
            "in Stash; a damaged file needs to be replaced or re-encoded")


# -- the frame source ------------------------------------------------------------------------
class VideoSource(FrameSource):
    name = FrameKind.VIDEO

    def __init__(self, tools: Tools, count: int = 8, client=None, max_width: int | None = MAX_WIDTH):
        self.tools = tools
        self.count = count
        self.client = client
        self.max_width = max_width
        self._proxy: StreamProxy | None = None   # started by the first scene that needs it

    @classmethod
    def for_context(cls, ctx) -> VideoSource:
        tools = find_tools(ctx.api.general_config())
        log.debug(f"video frames with {tools.ffmpeg}, {ctx.settings.videoFrames} per scene")
        return cls(tools, count=ctx.settings.videoFrames, client=ctx.api.client)

    @contextmanager
    def locate(self, scene: SceneMedia) -> Iterator[str]:
        """The file when this process can read it, else Stash's stream URL through the loopback
        proxy (valid for this scene only, while the block runs)."""
        if scene.path and os.path.isfile(scene.path):
            yield scene.path
            return
        if scene.stream_url and self.client is not None:
            if self._proxy is None:
                from .stream_proxy import StreamProxy  # noqa: PLC0415
                self._proxy = StreamProxy(self.client)
            with self._proxy.serving(scene.stream_url) as url:
                yield url
            return
        where = f"the video file {scene.path!r} is not reachable from the plugin"
        raise FramesUnavailable(f"{where} and Stash gives no stream URL for it: check that the "
                                "file exists, or rescan the library")

    def close(self) -> None:
        """Stop the stream proxy, if one was started (process exit stops it too)."""
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None

    def frames(self, scene: SceneMedia) -> list[Frame]:
        """`count` frames (fewer past a mis-probed end). A frame's `time` is the time asked for;
        a keyframe seek may show a picture up to one keyframe interval earlier."""
        if self.count <= 0:
            return []
        with self.locate(scene) as source:
            return self._frames(scene, source)

    def _frames(self, scene: SceneMedia, source: str) -> list[Frame]:
        duration = scene.duration or probe_duration(source, self.tools)
        if duration <= 0:
            raise FramesUnavailable(f"the duration of {_describe(source)} is unknown: "
                                    "rescan the scene in Stash (Tasks > Scan)")
        grabbed = []
        times = sampling.frame_times(duration, self.count)
        for t, exact in zip(times, needs_exact(times)):
            image = grab_frame(source, t, self.tools.ffmpeg, self.max_width, exact)
            if image is not None:              # None: past the real end of a mis-probed file
                grabbed.append((t, image))
        if not grabbed:
            raise FramesUnavailable(f"ffmpeg returned no frame from {_describe(source)} "
                                    f"(duration {duration:.1f}s): check that the scene plays in Stash")
        times = [t for t, _ in grabbed]
        return [Frame(scene_id=scene.id, index=i, time=t, span=span, image=image, source=self.name)
                for i, ((t, image), span) in enumerate(zip(grabbed, spans(times, duration)))]
