"""`python -m stash_sense analyze`: the main job on a local clip, without a running Stash.

Makes the 81 sprite frames the way Stash does (frame i at i * duration / 81, 160 px wide) and the
full-resolution frames with ffmpeg, runs every requested analyzer through the same code the plugin
uses, and prints what it would tag, with confidence and time ranges. An analyzer whose weights or
package are missing is reported with what to do, and the others still run. `--sample` generates a
short clip (ffmpeg test pattern with a studio watermark) so a newcomer needs no media of their own.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from .. import PLUGIN_DIR, log
from ..analyzers.base import Analyzer, AnalyzerContext, analyzer_class, check_names
from ..errors import EnvironmentProblem, StashSenseError
from ..frames.types import Frame, SceneMedia
from ..kinds import FrameKind
from ..references import StaticReferences
from ..settings import load_settings
from ..vocabulary import load_vocabulary

SAMPLE_STUDIO = "Acme Studios"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", nargs="?", help="a video file (omit with --sample)")
    p.add_argument("--sample", action="store_true",
                   help="generate a 60 s sample clip with a studio watermark and analyze it")
    p.add_argument("--analyzers", default="clip,objects,ocr", help="comma-separated (default %(default)s)")
    p.add_argument("--studios", default=SAMPLE_STUDIO,
                   help="comma-separated studio names the OCR matcher may recognise")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any plugin setting, e.g. --set clipPretrained=/path/to/weights.bin")
    p.add_argument("--random-weights", action="store_true",
                   help="use randomly initialised CLIP/YOLO/face weights (shows the pipeline "
                        "working offline; the labels are meaningless)")
    p.add_argument("--offline", action="store_true",
                   help="never try to download weights (fail fast with what to download)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def make_sample(path: str, ffmpeg: str = "ffmpeg") -> None:
    """A 60 s 1280x720 clip: a sky-blue/green 'outdoor' scene with a studio watermark."""
    draw = (f"drawtext=text='{SAMPLE_STUDIO.upper()}':fontcolor=white@0.85:fontsize=44:"
            "x=w-tw-40:y=h-th-40:box=1:boxcolor=black@0.3")
    cmd = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
           "gradients=s=1280x720:c0=0x87CEEB:c1=0x2E8B57:d=60:speed=0.01:type=linear,format=yuv420p",
           "-vf", draw, "-r", "10", "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", path]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    except FileNotFoundError:
        raise EnvironmentProblem("ffmpeg is not installed: sudo apt-get install ffmpeg "
                                 "(or brew install ffmpeg / winget install ffmpeg)") from None
    except subprocess.CalledProcessError as exc:
        raise EnvironmentProblem(f"ffmpeg could not make the sample: {exc.stderr.decode()[-400:]}") from None


def _fmt(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _settings(args) -> dict:
    values = {"analyzers": args.analyzers, "dataDir": tempfile.mkdtemp(prefix="stash-sense-")}
    if args.random_weights:
        values.update(clipPretrained="none", yoloModel="yolo11n.yaml", faceWeights="none")
    for item in args.set:
        key, _, value = item.partition("=")
        values[key.strip()] = value
    return values


def _read_ppm_stream(data: bytes) -> list:
    """Split ffmpeg's image2pipe PPM output (P6 frames back to back) into PIL images."""
    from PIL import Image  # noqa: PLC0415
    images, pos = [], 0
    while pos < len(data):
        fields: list[bytes] = []
        cursor = pos
        while len(fields) < 4:                      # magic, width, height, maxval
            while data[cursor:cursor + 1].isspace():
                cursor += 1
            end = cursor
            while not data[end:end + 1].isspace():
                end += 1
            fields.append(data[cursor:end])
            cursor = end
        cursor += 1                                 # the single whitespace before the pixels
        width, height = int(fields[1]), int(fields[2])
        size = width * height * 3
        images.append(Image.frombytes("RGB", (width, height), data[cursor:cursor + size]))
        pos = cursor + size
    return images


def sprite_frames(video: str, duration: float, ffmpeg: str) -> list[Frame]:
    """81 frames like Stash's sprite (frame i near i * duration / 81, 160 px wide), decoded by one
    ffmpeg process rather than 81 seeks."""
    step = duration / 81
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", video,
           "-vf", f"fps={81 / duration:.6f},scale=160:-2", "-frames:v", "81",
           "-f", "image2pipe", "-c:v", "ppm", "-"]
    out = subprocess.run(cmd, capture_output=True, timeout=600)
    if out.returncode != 0 or not out.stdout:
        raise EnvironmentProblem(f"ffmpeg could not read {video}: {out.stderr.decode()[-300:]}")
    images = _read_ppm_stream(out.stdout)
    return [Frame("local", i, i * step, step, img, FrameKind.SPRITE)
            for i, img in enumerate(images)]


def analyze(args) -> dict:
    from ..frames import video as video_mod  # noqa: PLC0415
    if args.offline:
        os.environ.update(HF_HUB_OFFLINE="1", YOLO_OFFLINE="True")
    path = args.video
    if args.sample:
        path = os.path.join(tempfile.mkdtemp(prefix="stash-sense-sample-"), "sample.mp4")
        make_sample(path, shutil.which("ffmpeg") or "ffmpeg")
    if not path or not os.path.isfile(path):
        raise EnvironmentProblem(f"no such video file: {path!r} (or use --sample)")
    settings = load_settings({}, _settings(args), PLUGIN_DIR)
    check_names(settings.analyzers)
    tools = video_mod.find_tools(None)
    duration = video_mod.probe_duration(path, tools)
    studios = [{"id": str(i + 1), "name": n.strip(), "aliases": []}
               for i, n in enumerate(args.studios.split(",")) if n.strip()]
    ctx = AnalyzerContext(settings, load_vocabulary(settings.vocabularyFile),
                          references=StaticReferences(studios))
    media = SceneMedia("local", os.path.basename(path), duration, 0, 0, path, None, None, None)
    report: dict[str, Any] = {"video": path, "duration": round(duration, 2), "analyzers": {}}
    frames_cache: dict[str, list[Frame]] = {}
    for name in settings.analyzers:
        entry: dict[str, Any] = {}
        report["analyzers"][name] = entry
        try:
            analyzer: Analyzer = analyzer_class(name)(ctx)
            if analyzer.uses_torch and ctx.device == "cpu":
                from ..models.device import resolve_device  # noqa: PLC0415
                ctx.device = resolve_device(settings.device)
            analyzer.load()
            if analyzer.source not in frames_cache:
                frames_cache[analyzer.source] = (
                    sprite_frames(path, duration, tools.ffmpeg) if analyzer.source == "sprite"
                    else video_mod.VideoSource(tools, settings.videoFrames).frames(media))
            frames = frames_cache[analyzer.source]
            signals = [s for per in analyzer.analyze(frames) for s in per]
            entry["model"] = analyzer.model_id
            entry["frames"] = len(frames)
            entry["findings"] = [f.as_dict() for f in analyzer.findings(media, signals)]
        except StashSenseError as exc:
            entry["unavailable"] = str(exc)
    return report


def print_report(report: dict) -> None:
    out = sys.stdout
    out.write(f"Stash Sense analyze: {report['video']} ({report['duration']} s)\n")
    for name, entry in report["analyzers"].items():
        if "unavailable" in entry:
            out.write(f"\n[{name}] unavailable: {entry['unavailable']}\n")
            continue
        out.write(f"\n[{name}] {entry['model']} on {entry['frames']} frames\n")
        if not entry["findings"]:
            out.write("  (nothing found above the thresholds)\n")
        for f in entry["findings"]:
            ranges = ", ".join(f"{_fmt(s['start'])}-{_fmt(s['end'])}" for s in f["segments"]) or "-"
            out.write(f"  {f['kind']:<9} {f['category']:<12} {f['name']:<20} "
                      f"{f['confidence']:.2f}  {ranges}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stash_sense analyze", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args)


def run(args) -> int:
    log.use_plain_output()
    try:
        report = analyze(args)
    except StashSenseError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
