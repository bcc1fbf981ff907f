"""Full-resolution frames seeked out of the scene's video with ffmpeg.

Sprite tiles are 160 px wide: fine for "what is happening", useless for a 20 px studio watermark.
Analyzers that read text (source "video") get a few real frames instead:

- ffmpeg is the one Stash uses (configuration.general.ffmpegPath; when empty, Stash's config
  directory, where Stash downloads its own copy, then PATH).
- The file path Stash reports is read directly when this process can see it; otherwise (Stash in
  another container, a network share mounted only for Stash) the scene's stream URL with the
  session's credentials, passed to ffmpeg as `-headers` and never logged.
- One short ffmpeg process per frame, with `-ss` before `-i` (seek in the container). An exact
  seek decodes from the previous keyframe up to the time asked: 0.8-4 s of CPU per frame on a
  high-bitrate 1080p H.264 file with 10 s between keyframes, against 0.25 s for taking the
  keyframe itself. Frames far apart (long scenes) therefore take the keyframe at or before their
  time; the opening and closely spaced frames seek exactly. Every call has a timeout, network reads
  `-rw_timeout`, and on Linux the child gets SIGKILL when we die (Stash stops a task with SIGKILL),
  so no ffmpeg outlives the plugin.

Where frames are taken (`frame_times`): studios put a title card in the first seconds and a
watermark over the rest, sometimes only over part of it. So two frames go to the opening (2 s and
4.5 s: after a fade-in, inside a 5 s card) when the scene is long enough for that to matter, and
the rest are spread evenly at the middle of equal slices, which keeps them off black first and
last frames. Each frame's `span` is the stretch of the scene nearer to it than to any other.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from PIL import Image, UnidentifiedImageError

from .. import log
from ..errors import DependencyMissing, FramesUnavailable
from . import sampling
from .types import Frame, FrameSource, SceneMedia

FRAME_TIMEOUT = 90.0        # seconds for one frame (a slow network share, a 4K HEVC keyframe)
PROBE_TIMEOUT = 60.0
NET_TIMEOUT_US = 30_000_000  # ffmpeg -rw_timeout: a stalled stream fails instead of hanging
MAX_WIDTH = 1920            # 4K frames are scaled to this: text stays legible, OCR costs a quarter
INTRO_TIMES = (2.0, 4.5)
INTRO_MIN_DURATION = 30.0
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
    """preexec_fn: SIGKILL this child when the thread that started it dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes  # noqa: PLC0415
        prctl = ctypes.CDLL(None, use_errno=True).prctl   # resolved now, not in the child
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, 9)   # PR_SET_PDEATHSIG, SIGKILL

    return preexec


_PREEXEC = _die_with_parent()


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
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


def _input_args(source: str, headers: Mapping[str, str] | None) -> list[str]:
    args: list[str] = []
    if _is_url(source):
        args += ["-rw_timeout", str(NET_TIMEOUT_US)]
        if headers:
            args += ["-headers", "".join(f"{k}: {v}\r\n" for k, v in headers.items())]
    return args


def redact(text: str, source: str) -> str:
    """ffmpeg's messages name the input; a stream URL may carry ?apikey=."""
    if _is_url(source):
        parts = urlsplit(source)
        text = text.replace(source, urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))
    return re.sub(r"(?i)(apikey=)[^&\s]+", r"\1***", text)


def _reason(stderr: bytes, source: str) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return redact(lines[-1] if lines else "no error message", source)[:300]


# -- probing and grabbing ----------------------------------------------------------------------
def probe_duration(source: str, tools: Tools, headers: Mapping[str, str] | None = None) -> float:
    """Seconds, from ffprobe (or ffmpeg's banner when ffprobe is missing). 0.0 if unknown."""
    if tools.ffprobe:
        out = _run([tools.ffprobe, "-v", "error", *_input_args(source, headers),
                    "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", source],
                   PROBE_TIMEOUT)
        try:
            return max(float(out.stdout.decode().strip().splitlines()[0]), 0.0)
        except (ValueError, IndexError):
            return 0.0
    out = _run([tools.ffmpeg, "-hide_banner", "-nostdin", *_input_args(source, headers),
                "-i", source], PROBE_TIMEOUT)
    m = re.search(rb"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", out.stderr)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else 0.0


def frame_times(duration: float, count: int) -> list[float]:
    """Sorted times (s): two in the opening when the scene is long, the rest evenly spread."""
    if count <= 0 or duration <= 0:
        return []
    intro = list(INTRO_TIMES) if count >= 4 and duration >= INTRO_MIN_DURATION else []
    rest = count - len(intro)
    spread = [(i + 0.5) / rest * duration for i in range(rest)]
    return sorted(round(t, 3) for t in intro + spread)


def needs_exact(times: Sequence[float]) -> list[bool]:
    """Exact seeks for the opening and for frames closer than KEYFRAME_GAP to a neighbour (a
    keyframe there could be the neighbour's frame again); a nearby keyframe is as good elsewhere."""
    out = []
    for i, t in enumerate(times):
        gaps = [abs(t - times[j]) for j in (i - 1, i + 1) if 0 <= j < len(times)]
        out.append(t < INTRO_MIN_DURATION or min(gaps, default=1e9) < KEYFRAME_GAP)
    return out


def spans(times: Sequence[float], duration: float) -> list[float]:
    """Width of the stretch nearer to each time than to its neighbours."""
    bounds = [0.0] + [(a + b) / 2 for a, b in zip(times, times[1:])] + [max(duration, times[-1])]
    return [round(b - a, 3) for a, b in zip(bounds, bounds[1:])]


def grab_frame(source: str, time: float, ffmpeg: str, headers: Mapping[str, str] | None = None,
               max_width: int | None = None, exact: bool = True) -> Image.Image | None:
    """One RGB frame at `time`, or None past the end of the video. exact=False takes the
    keyframe at or before `time` and decodes nothing else (3-10x less work on long GOPs)."""
    scale = ["-vf", f"scale=w='min(iw,{int(max_width)})':h=-2"] if max_width else []
    keyframe = [] if exact else ["-noaccurate_seek", "-skip_frame", "nokey"]
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *keyframe,
           *_input_args(source, headers), "-ss", f"{max(time, 0.0):.3f}", "-i", source,
           "-map", "0:v:0", "-frames:v", "1", *scale, "-pix_fmt", "rgb24",
           "-f", "image2pipe", "-c:v", "ppm", "-"]
    out = _run(cmd, FRAME_TIMEOUT)
    if out.returncode != 0:
        raise FramesUnavailable(_unreadable(source, _reason(out.stderr, source)))
    if not out.stdout:
        return None
    try:
        image = Image.open(io.BytesIO(out.stdout))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise FramesUnavailable(_unreadable(source, f"undecodable frame ({exc})")) from None
    return image.convert("RGB")


def grab_frames(source: str, times: Sequence[float], ffmpeg: str,
                headers: Mapping[str, str] | None = None,
                max_width: int | None = None) -> list[Image.Image]:
    """Frames at `times` that exist (times past the end are skipped); raises FramesUnavailable
    when ffmpeg cannot read the video."""
    images = []
    for t in times:
        image = grab_frame(source, t, ffmpeg, headers, max_width)
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
    name = "video"

    def __init__(self, tools: Tools, count: int = 8, client=None, max_width: int | None = MAX_WIDTH):
        self.tools = tools
        self.count = count
        self.client = client
        self.max_width = max_width

    @classmethod
    def for_context(cls, ctx) -> "VideoSource":
        tools = find_tools(ctx.api.general_config())
        log.debug(f"video frames with {tools.ffmpeg}, {ctx.settings.videoFrames} per scene")
        return cls(tools, count=ctx.settings.videoFrames, client=ctx.client)

    def locate(self, scene: SceneMedia) -> tuple[str, dict[str, str] | None]:
        """The file when this process can read it, else Stash's stream URL with credentials."""
        if scene.path and os.path.isfile(scene.path):
            return scene.path, None
        if scene.stream_url and self.client is not None:
            return self.client.local_url(scene.stream_url), self.client.auth_headers() or None
        where = f"the video file {scene.path!r} is not reachable from the plugin"
        raise FramesUnavailable(f"{where} and Stash gives no stream URL for it: check that the "
                                "file exists, or rescan the library")

    def frames(self, scene: SceneMedia) -> list[Frame]:
        """`count` frames (fewer past a mis-probed end). A frame's `time` is the time asked for;
        a keyframe seek may show a picture up to one keyframe interval earlier."""
        if self.count <= 0:
            return []
        source, headers = self.locate(scene)
        duration = scene.duration or probe_duration(source, self.tools, headers)
        if duration <= 0:
            raise FramesUnavailable(f"the duration of {redact(source, source)} is unknown: "
                                    "rescan the scene in Stash (Tasks > Scan)")
        grabbed = []
        times = sampling.frame_times(duration, self.count)
        for t, exact in zip(times, needs_exact(times)):
            image = grab_frame(source, t, self.tools.ffmpeg, headers, self.max_width, exact)
            if image is not None:              # None: past the real end of a mis-probed file
                grabbed.append((t, image))
        if not grabbed:
            raise FramesUnavailable(f"ffmpeg returned no frame from {redact(source, source)} "
                                    f"(duration {duration:.1f}s): check that the scene plays in Stash")
        times = [t for t, _ in grabbed]
        return [Frame(scene_id=scene.id, index=i, time=t, span=span, image=image, source=self.name)
                for i, ((t, image), span) in enumerate(zip(grabbed, spans(times, duration)))]
