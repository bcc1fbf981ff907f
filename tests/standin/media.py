"""Media made the way Stash makes it: sprite sheets, thumbnail VTTs, test videos.

Stash's Generate task (``pkg/scene/generate/sprite.go``, ``generator_sprite.go``):
81 thumbnails, 160 px wide (``scale=160:-2``), pasted into a 9x9 grid saved as
JPEG, plus a WebVTT file with one cue per tile::

    WEBVTT
    <blank>
    00:00:00.000 --> 00:00:07.407
    <hash>_sprite.jpg#xywh=0,0,160,90
    <blank>
    ...

(lines joined with "\\n", so the file ends with exactly one "\\n"), times are
``HH:MM:SS.mmm`` with milliseconds TRUNCATED (``utils.GetVTTTime``).

Step size: the protocol doc uses ``duration / 81`` (the default here).  Real
Stash computes it from frames, ``(nb_frames // 81) / fps`` (e.g. 7.400 s for a
600 s 30 fps file, not 7.407), and ``(frames - 1) / 81 / fps`` for short files;
pass ``frame_rate`` + ``frame_count`` to get those exact bytes.  Meanwhile the
tiles themselves are grabbed at ``i * duration / 81``.  A plugin should
therefore read cue times from the VTT rather than recompute them.
"""
from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

CHUNKS, COLS, ROWS = 81, 9, 9
TILE_WIDTH = 160

Color = tuple[int, int, int]


# ------------------------------------------------------------------ VTT
def vtt_time(seconds: float) -> str:
    """utils.GetVTTTime: HH:MM:SS.mmm, milliseconds truncated, negatives clamp to 0."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "00:00:00.000"
    ms = int(seconds * 1000)
    sec, ms = divmod(ms, 1000)
    mnt, sec = divmod(sec, 60)
    hour, mnt = divmod(mnt, 60)
    return f"{hour:02d}:{mnt:02d}:{sec:02d}.{ms:03d}"


def stash_step(duration: float, frame_rate: float | None = None,
               frame_count: int | None = None) -> float:
    """Cue length.  Without frame info: duration/81.  With it: Stash's frame formula."""
    if not frame_rate or not frame_count:
        return duration / CHUNKS
    if duration < 5 or frame_count <= CHUNKS:                 # "slow seek" files
        return (frame_count - 1) / CHUNKS / frame_rate
    return (frame_count // CHUNKS) / frame_rate


def vtt_text(duration: float, tile_w: int, tile_h: int, sprite_name: str, *,
             frame_rate: float | None = None, frame_count: int | None = None) -> str:
    """The exact ``<hash>_thumbs.vtt`` text Stash writes (always 81 cues)."""
    step = stash_step(duration, frame_rate, frame_count)
    lines = ["WEBVTT", ""]
    for i in range(CHUNKS):
        x, y = tile_w * (i % COLS), tile_h * (i // ROWS)
        lines += [f"{vtt_time(i * step)} --> {vtt_time((i + 1) * step)}",
                  f"{sprite_name}#xywh={x},{y},{tile_w},{tile_h}", ""]
    return "\n".join(lines)


def tile_times(duration: float) -> list[float]:
    """When tile i was captured (fast seek): i * duration / 81."""
    return [i * duration / CHUNKS for i in range(CHUNKS)]


# ------------------------------------------------------------------ sprites
def make_sprite(tiles: Sequence[Image.Image], quality: int = 95) -> bytes:
    """Paste 81 equal tiles into a 9x9 grid JPEG (imaging.Save's default quality is 95)."""
    if len(tiles) != CHUNKS:
        raise ValueError(f"need {CHUNKS} tiles, got {len(tiles)}")
    w, h = tiles[0].size
    sheet = Image.new("RGB", (w * COLS, h * ROWS))
    for i, tile in enumerate(tiles):
        sheet.paste(tile.convert("RGB"), (w * (i % COLS), h * (i // ROWS)))
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _textured(color: Color, size: tuple[int, int], seed: int) -> Image.Image:
    """A flat colour with faint deterministic noise, so tiles are not trivially uniform."""
    import numpy as np
    rng = np.random.default_rng(seed)
    w, h = size
    arr = np.empty((h, w, 3), dtype=np.int16)
    arr[:] = color
    arr += rng.integers(-6, 7, size=(h, w, 1), dtype=np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype("uint8"), "RGB")


def synthetic_sprite(duration: float, colors_at: Callable[[float], object] | None = None,
                     tile_w: int = 160, tile_h: int = 90, *,
                     sprite_name: str = "sprite.jpg") -> tuple[bytes, str]:
    """(jpeg, vtt) whose tile i shows ``colors_at(i * duration / 81)``.

    ``colors_at`` may return an (r, g, b) tuple, a PIL image (resized into the
    tile) or None (neutral grey), so a test can script "red between 100 s and
    300 s": ``lambda t: (255, 0, 0) if 100 <= t < 300 else None``.
    """
    tiles = []
    for i, t in enumerate(tile_times(duration)):
        look = colors_at(t) if colors_at else None
        if isinstance(look, Image.Image):
            tiles.append(look.convert("RGB").resize((tile_w, tile_h)))
        else:
            tiles.append(_textured(tuple(look) if look else (128, 128, 128), (tile_w, tile_h), i))
    return make_sprite(tiles), vtt_text(duration, tile_w, tile_h, sprite_name)


def tile_of(sprite_jpeg: bytes, index: int) -> Image.Image:
    """Cut tile ``index`` back out of a 9x9 sprite (for assertions)."""
    sheet = Image.open(io.BytesIO(sprite_jpeg)).convert("RGB")
    w, h = sheet.width // COLS, sheet.height // ROWS
    x, y = w * (index % COLS), h * (index // ROWS)
    return sheet.crop((x, y, x + w, y + h))


# ------------------------------------------------------------------ ffmpeg
def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _encoder() -> list[str]:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                         text=True).stdout
    if " libx264 " in out:
        return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    return ["-c:v", "mpeg4", "-q:v", "5", "-pix_fmt", "yuv420p"]


def _ff_color(c) -> str:
    if isinstance(c, str):
        return c
    return "0x{:02x}{:02x}{:02x}".format(*c)


def make_video(path: str, duration: float, size: tuple[int, int] = (640, 360), fps: int = 10,
               color_segments: Sequence[tuple[float, float, object]] | None = None,
               drawtext: str | None = None) -> str:
    """Encode a small test video with real ffmpeg (lavfi sources, no network, no assets).

    ``color_segments``: [(start_s, end_s, colour)] filled over a dark grey base
    (colour = "red", "#00ff00" or (r, g, b)); without segments the base is
    ffmpeg's ``testsrc`` pattern.  ``drawtext`` burns a caption into every frame.
    """
    w, h = size
    src = (f"color=c=0x404040:s={w}x{h}:r={fps}:d={duration}" if color_segments
           else f"testsrc=s={w}x{h}:r={fps}:d={duration}")
    filters = [f"drawbox=x=0:y=0:w=iw:h=ih:color={_ff_color(c)}:t=fill:"
               f"enable='between(t,{a},{b})'" for a, b, c in color_segments or ()]
    if drawtext:
        safe = drawtext.replace("\\", "\\\\").replace("'", "\u2019").replace(":", "\\:")
        filters.append(f"drawtext=text='{safe}':fontsize={max(12, h // 10)}:fontcolor=white:"
                       "x=10:y=10:box=1:boxcolor=black@0.5")
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", src]
    if filters:
        cmd += ["-vf", ",".join(filters)]
    cmd += [*_encoder(), "-g", str(fps), "-an", path]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def probe(path: str) -> dict:
    """duration / frame_rate / frame_count of the first video stream (via ffprobe)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_frames,avg_frame_rate,r_frame_rate,duration,width,height",
                          "-of", "json", path], check=True, capture_output=True, text=True).stdout
    s = json.loads(out)["streams"][0]
    num, _, den = (s.get("avg_frame_rate") or s.get("r_frame_rate") or "0/1").partition("/")
    fps = float(num) / float(den or 1) if float(den or 1) else 0.0
    duration = float(s.get("duration") or 0)
    frames = int(s["nb_frames"]) if s.get("nb_frames", "N/A").isdigit() else round(duration * fps)
    return {"duration": duration, "frame_rate": fps, "frame_count": frames,
            "width": int(s.get("width") or 0), "height": int(s.get("height") or 0)}


def _grab(path: str, seconds: float) -> Image.Image:
    """Stash's SpriteScreenshot: fast seek (-ss before -i), 1 frame, scale=160:-2, BMP."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{seconds:.6f}", "-i", path,
                          "-frames:v", "1", "-vf", f"scale={TILE_WIDTH}:-2", "-c:v", "bmp",
                          "-f", "rawvideo", "-"], check=True, capture_output=True).stdout
    return Image.open(io.BytesIO(out)).convert("RGB")


def _selected_frames(path: str, indices: list[int]) -> dict[int, Image.Image]:
    """Decode once, keep only the given frame numbers (select filter)."""
    wanted = sorted(set(indices))
    expr = "+".join(f"eq(n\\,{n})" for n in wanted)
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf",
                          f"select={expr},scale={TILE_WIDTH}:-2", "-vsync", "0", "-c:v", "bmp",
                          "-f", "image2pipe", "-"], check=True, capture_output=True).stdout
    frames, pos = [], 0
    while pos < len(out):
        size = int.from_bytes(out[pos + 2:pos + 6], "little")     # BMP header: file size
        frames.append(Image.open(io.BytesIO(out[pos:pos + size])).convert("RGB"))
        pos += size
    return dict(zip(wanted, frames))


def sprite_from_video(path: str, duration: float | None = None, *,
                      sprite_name: str = "sprite.jpg", stash_exact_vtt: bool = True,
                      per_frame_seek: bool = False) -> tuple[bytes, str]:
    """(jpeg, vtt) generated from a real video like Stash's Generate task.

    Tiles: the frame shown at ``i * duration / 81`` (Stash fast-seeks with one
    ffmpeg run per tile; ``per_frame_seek=True`` does exactly that, the default
    decodes once and picks the same frames of a constant-frame-rate file, ~10x
    faster).  Short files (< 5 s or <= 81 frames) use frame
    ``round(i * (frames - 1) / 81)`` ("slow seek").  The VTT uses Stash's
    frame-based step when ``stash_exact_vtt``.
    """
    info = probe(path)
    duration = duration if duration is not None else info["duration"]
    frames, fps = info["frame_count"], info["frame_rate"]
    if duration < 5 or frames <= CHUNKS:
        step = (frames - 1) / CHUNKS
        indices = [min(frames - 1, round(i * step)) for i in range(CHUNKS)]
        picked = _selected_frames(path, indices)
        tiles = [picked[n] for n in indices]
    elif per_frame_seek:
        with ThreadPoolExecutor(max_workers=8) as pool:
            tiles = list(pool.map(lambda t: _grab(path, t), tile_times(duration)))
    else:
        indices = [min(frames - 1, math.ceil(t * fps - 1e-6)) for t in tile_times(duration)]
        picked = _selected_frames(path, indices)
        tiles = [picked[n] for n in indices]
    w, h = tiles[0].size
    vtt = vtt_text(duration, w, h, sprite_name,
                   frame_rate=fps if stash_exact_vtt else None,
                   frame_count=frames if stash_exact_vtt else None)
    return make_sprite(tiles), vtt
