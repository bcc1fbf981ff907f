"""`python -m stash_sense bench`: how fast each part runs, measured on this machine.

Synthesises scenes the way Stash stores them (sprite sheet + VTT, and a 1080p clip when ffmpeg
exists; cli/bench_stash.py), loads the models once, then measures in one process:

1. each analyzer alone on the frames of one pipeline group (4 scenes): frames/s;
2. the bare CLIP image encoder at the analyzer's batch size on the same, already preprocessed,
   frames — the ceiling the CLIP analyzer is compared with — interleaved with the analyzer, and
   the bare encoder of every other backend (torch, ONNX Runtime, OpenVINO) in the same run;
3. the real tag pipeline (`pipeline.run_batch`: prefetch, frame sources, analyzers, store,
   aggregation, plan, writer, workflow tags) over --scenes scenes against an in-memory Stash:
   seconds per scene, inference per analyzer, the time outside inference, per-scene cost in the
   first and second half of the batch, Stash requests per scene, model loads, peak memory;
4. optionally (--yolo-sizes) the YOLO input size on sprite tiles: GFLOP, frames/s, detections.

Weights that are not in modelDir are replaced by randomly initialised models of the same
architecture (--random-weights forces it): the compute is the same, the findings are not.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .. import log
from ..log import Progress
from .common import add_settings_arguments, settings_from_args

if TYPE_CHECKING:
    from ..context import Context

GROUP_SCENES = 4   # the pipeline infers 4 scenes' frames together (pipeline.GROUP)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenes", type=int, default=20, help="scenes in the pipeline run (20)")
    parser.add_argument("--random-weights", action="store_true",
                        help="random weights for every model (automatic for missing weights)")
    parser.add_argument("--clip-seconds", type=float, default=120.0,
                        help="length of the synthetic 1080p clip and of each scene (120)")
    parser.add_argument("--yolo-sizes", default="",
                        help="also compare YOLO input sizes on sprite tiles, e.g. 160,192,256,320,640")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's own choice, one per core)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--verbose", action="store_true", help="show the pipeline's log")
    add_settings_arguments(parser)


# -- setup ----------------------------------------------------------------------------------------
def choose_weights(settings, device: str, force_random: bool) -> tuple[dict[str, str], list[str]]:
    """Setting overrides that swap missing (or all) weights for random ones of the same shape."""
    from ..models.catalog import catalog  # noqa: PLC0415
    from ..models.yolo import resolve_weights  # noqa: PLC0415
    overrides: dict[str, str] = {}
    missing = {w.analyzer for w in catalog(settings, device) if w.enabled and not w.present}
    if "clip" in settings.analyzers and (force_random or "clip" in missing):
        overrides["clipPretrained"] = "none"
    if "objects" in settings.analyzers and (force_random or "objects" in missing):
        name = resolve_weights(settings.yoloModel, device, settings.model_dir).name
        overrides["yoloModel"] = name[:-3] + ".yaml" if name.endswith(".pt") else name
    if "faces" in settings.analyzers and (force_random or "faces" in missing):
        overrides["faceWeights"] = "none"
    return overrides, sorted(a for a in ("clip", "objects", "faces")
                             if a in settings.analyzers and (force_random or a in missing))


def calibrate(torch, seconds: float = 0.5) -> float:
    """GFLOPS of a 512x512 float32 matmul at the current thread count: a yardstick printed with
    the results, because on a shared machine other processes change what "2 cores" delivers."""
    x = torch.rand(512, 512)
    x @ x
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        x @ x
        count += 1
    return count * 2 * 512 ** 3 / (time.perf_counter() - started) / 1e9


class TimedProgress(Progress):
    """Stands for the Tasks-page progress; remembers when each fraction was reached."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[float, float]] = []

    def set(self, fraction: float) -> None:
        self.marks.append((time.perf_counter(), float(fraction)))


def time_calls(analyzers) -> dict[str, list[tuple[float, float]]]:
    """Wrap each analyzer's inference to record (start, end) of every call: analyze(), or
    analyze_with_embeddings() where the pipeline calls that (CLIP; its analyze() goes through it,
    so each call is recorded once either way)."""
    from ..analyzers.base import EmbeddingAnalyzer  # noqa: PLC0415
    spans: dict[str, list[tuple[float, float]]] = {a.name: [] for a in analyzers}
    for a in analyzers:
        # the method the pipeline calls (pipeline.infer)
        method = "analyze_with_embeddings" if isinstance(a, EmbeddingAnalyzer) else "analyze"
        inner = getattr(a, method)

        def timed(frames, _inner=inner, _name=a.name):
            started = time.perf_counter()
            try:
                return _inner(frames)
            finally:
                spans[_name].append((started, time.perf_counter()))
        setattr(a, method, timed)
    return spans


# -- measurements ---------------------------------------------------------------------------------
def analyzer_rates(analyzers, frames_by_source: dict[str, list]) -> dict[str, dict[str, float]]:
    rates = {}
    for a in analyzers:
        frames = frames_by_source.get(a.source) or []
        if not frames:
            continue
        a.analyze(frames[: min(len(frames), 8)])            # warm-up: first-call setup excluded
        wall, cpu = time.perf_counter(), time.process_time()
        a.analyze(frames)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rates[a.name] = {"frames": len(frames), "fps": len(frames) / wall, "cpu_per_frame": cpu / len(frames)}
    return rates


@contextlib.contextmanager
def tile_skipping_off(clip):
    """Throughput comparisons run every frame through the encoder (skipping is reported apart)."""
    saved = clip.ctx.settings
    clip.ctx.settings = dataclasses.replace(saved, tileSkipThreshold=0.0)
    try:
        yield
    finally:
        clip.ctx.settings = saved


def clip_comparison(clip, frames: Sequence, rounds: int = 2) -> dict[str, Any]:
    """The CLIP analyzer against the bare image encoder of the same backend, and the bare encoder
    of every other backend that works here, all in this process.

    "Bare" = the encoder alone on already preprocessed frames at the analyzer's batch size: no
    preprocessing, no scoring. The analyzer figure is analyze() on the same frames with tile
    skipping off: preprocessing, encoding, normalising, scoring, building signals. The two
    alternate scene by scene (81 frames, a couple of seconds each) for `rounds` passes and the
    ratio is of the summed times, so both sample the same load: on a shared machine the load
    changes by the minute, and a best-of-rounds comparison measured 0.43 where the pipeline ran
    CLIP faster than the bare encoder. Other backends are measured once per scene the same way."""
    from ..analyzers.clip_backends import min_cosine  # noqa: PLC0415
    size = clip.batch_size
    pixels = clip.pixels_of([f.image for f in frames])
    used = clip.encoder
    others = []
    if clip.ctx.device == "cpu":
        others = [(e, c) for e, c in clip.encoder_factory().available() if e.label != used.label]

    def bare(encoder, batch) -> float:
        started = time.perf_counter()
        for i in range(0, len(batch), size):
            encoder(batch[i:i + size])
        return time.perf_counter() - started

    spent = {"analyzer": 0.0, used.label: 0.0, **{e.label: 0.0 for e, _ in others}}
    counted = dict.fromkeys(spent, 0)
    pairs = []
    chunk = 81
    with tile_skipping_off(clip):
        clip.analyze(frames[:size])                  # warm-up
        for e, _ in others:
            e(pixels[:size])
        for _ in range(rounds):
            for i in range(0, len(frames), chunk):
                started = time.perf_counter()
                clip.analyze(frames[i:i + chunk])
                analyzer = time.perf_counter() - started
                encoder = bare(used, pixels[i:i + chunk])
                pairs.append(encoder / analyzer)
                spent["analyzer"] += analyzer
                spent[used.label] += encoder
                n = len(frames[i:i + chunk])
                counted["analyzer"] += n
                counted[used.label] += n
                for e, _ in others:
                    spent[e.label] += bare(e, pixels[i:i + chunk])
                    counted[e.label] += n
    fps = {k: counted[k] / spent[k] for k in spent}
    reference = next((e for e, _ in others if e.label == "torch"), None)
    cosine = {used.label: min_cosine(used(pixels[:8]), reference(pixels[:8])) if reference else 1.0,
              **{e.label: c for e, c in others}}
    return {"frames": len(frames), "batch": size, "backend": used.label,
            "analyzer_fps": fps["analyzer"], "ratio": spent[used.label] / spent["analyzer"],
            "pair_range": [min(pairs), max(pairs)],
            "bare_fps": {k: v for k, v in fps.items() if k != "analyzer"}, "cosine": cosine,
            "rounds": rounds}


def yolo_sweep(objects, frames: Sequence, sizes: list[int]) -> list[dict[str, Any]]:
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415
    torch = objects.torch
    width, height = frames[0].image.size
    rows = []
    for size in sizes:
        objects.fixed_imgsz = size
        scale = size / max(width, height)
        shape = (size, -(-round(height * scale) // 32) * 32) if width >= height else \
            (-(-round(width * scale) // 32) * 32, size)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            objects.model.model(torch.zeros(1, 3, shape[1], shape[0]))
        objects.analyze(frames[:8])
        wall = time.perf_counter()
        out = objects.analyze(frames)
        wall = time.perf_counter() - wall
        boxes = sum(s.data["n"] for per in out for s in per)
        rows.append({"imgsz": size, "input": f"{shape[0]}x{shape[1]}",
                     "gflop": counter.get_total_flops() / 1e9, "fps": len(frames) / wall,
                     "detections_per_frame": boxes / len(frames)})
    objects.fixed_imgsz = 0
    return rows


def pipeline_run(ctx: Context, analyzers, scene_ids: list[str]) -> dict[str, Any]:
    from ..pipeline import run_batch  # noqa: PLC0415
    spans = time_calls(analyzers)
    ctx.progress = TimedProgress()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_batch(ctx, scene_ids, analyzers)
    end = time.perf_counter()
    wall, cpu = end - wall, time.process_time() - cpu
    n = len(scene_ids)
    inference = {name: sum(b - a for a, b in calls) for name, calls in spans.items()}
    first = min((a for calls in spans.values() for a, _ in calls), default=end)
    done = [t for t, f in ctx.progress.marks if 0 < f < 1 or (f == 1 and t < end)]
    halves = per_scene_halves(done, n)
    return {"scenes": n, "wall": wall, "cpu": cpu, "inference": inference,
            "startup_wait": first - (end - wall), "stages": result["seconds"],
            "tagged": result["tagged"], "errored": result["errored"], "halves": halves}


def per_scene_halves(marks: list[float], n: int) -> tuple[float, float] | None:
    """Seconds per scene in the first and second half of the batch, after the first group."""
    marks = sorted(marks)[:n]
    if len(marks) < 3 * GROUP_SCENES:
        return None
    start, mid, end = GROUP_SCENES - 1, (GROUP_SCENES - 1 + n - 1) // 2, n - 1
    return ((marks[mid] - marks[start]) / (mid - start), (marks[end] - marks[mid]) / (end - mid))


# -- the command ----------------------------------------------------------------------------------
def run(args: argparse.Namespace, out) -> int:
    import torch  # noqa: PLC0415

    from ..analyzers.base import Analyzer  # noqa: PLC0415
    from ..context import Context  # noqa: PLC0415
    from ..models.device import resolve_device  # noqa: PLC0415
    from ..pipeline import load_models  # noqa: PLC0415
    from ..stash.api import StashAPI  # noqa: PLC0415
    from ..stash.client import StashClient  # noqa: PLC0415
    from .bench_stash import MemoryStash, make_clip, sprite_sheet  # noqa: PLC0415

    if args.threads:
        torch.set_num_threads(args.threads)
    gflops_start = calibrate(torch)
    work = tempfile.mkdtemp(prefix="stash-sense-bench-")
    settings = settings_from_args(args, {"dataDir": work})
    device = resolve_device(settings.device)
    overrides, randomised = choose_weights(settings, device, args.random_weights)
    settings = settings_from_args(args, {"dataDir": work, **overrides})
    load_start = os.getloadavg()[0]

    stash = MemoryStash()
    clip_path = os.path.join(work, "clip.mp4")
    needs_video = any(a in ("ocr", "faces") for a in settings.analyzers)
    has_video = needs_video and make_clip(clip_path, args.clip_seconds)
    if needs_video and not has_video:
        skipped = [a for a in settings.analyzers if a in ("ocr", "faces")]
        log.warning(f"ffmpeg not found: skipping {', '.join(skipped)} (they read video frames)")
        settings = settings_from_args(args, {"dataDir": work, **overrides, "analyzers": ",".join(
            a for a in settings.analyzers if a not in skipped)})
    scene_ids = []
    for i in range(max(1, args.scenes)):
        sprite, vtt = sprite_sheet(i, args.clip_seconds)
        scene_ids.append(stash.add_scene(f"bench {i + 1}", args.clip_seconds, sprite, vtt,
                                          clip_path if has_video else None))
    ctx = Context(payload={}, settings=settings, api=StashAPI(StashClient(transport=stash)),
                  progress=TimedProgress())          # its store: settings.data_dir, i.e. `work`

    captured = _Capture(args.verbose)
    loads: Counter[str] = Counter()
    original_load = Analyzer.load

    def counting_load(self):
        if not self._loaded:
            loads[self.name] += 1
        original_load(self)

    Analyzer.load = counting_load  # type: ignore[method-assign]  # counts loads, restored below
    try:
        with captured:
            started = time.perf_counter()
            analyzers, _ = load_models(ctx)
            load_seconds = time.perf_counter() - started
            from ..frames.sprite import SpriteSource  # noqa: PLC0415
            group = scene_ids[:GROUP_SCENES]
            media = [_media(ctx.api.find_scene(s)) for s in group]
            frames = {"sprite": [f for m in media for f in SpriteSource(ctx.api.client).frames(m)]}
            if has_video:
                from ..frames.video import VideoSource  # noqa: PLC0415
                source = VideoSource.for_context(ctx)
                frames["video"] = [f for m in media for f in source.frames(m)]
            rss_loaded = _rss_mb()
            from ..analyzers.clip import ClipAnalyzer  # noqa: PLC0415
            clip = next((a for a in analyzers if isinstance(a, ClipAnalyzer)), None)
            with tile_skipping_off(clip) if clip else contextlib.nullcontext():
                rates = analyzer_rates(analyzers, frames)
            bare = clip_comparison(clip, frames["sprite"]) if clip else None
            sizes = [int(s) for s in args.yolo_sizes.split(",") if s.strip()]
            objects = next((a for a in analyzers if a.name == "objects"), None)
            sweep = yolo_sweep(objects, frames["sprite"][:81], sizes) if objects and sizes else []
            rss_models = _rss_mb()
            per_scene = {a.name: len(frames.get(a.source, [])) / len(group) for a in analyzers}
            del frames                       # the pipeline decodes its own
            stash.calls.clear()
            if clip:
                clip.tiles_seen = clip.tiles_skipped = 0
            pipe = pipeline_run(ctx, analyzers, scene_ids)
            if clip:
                pipe["tiles_skipped"] = [clip.tiles_skipped, clip.tiles_seen]
    finally:
        Analyzer.load = original_load  # type: ignore[method-assign]
    from ..analyzers.clip_backends import physical_cores  # noqa: PLC0415
    report = {
        "machine": {"cpus": os.cpu_count(), "physical_cores": physical_cores(),
                    "torch_threads": torch.get_num_threads(),
                    "device": device, "torch": torch.__version__, "python": platform.python_version(),
                    "load_average": [round(load_start, 2), round(os.getloadavg()[0], 2)],
                    "matmul_gflops": [round(gflops_start, 1), round(calibrate(torch), 1)]},
        "random_weights": randomised, "models": {a.name: a.model_id for a in analyzers},
        "frames_per_scene": per_scene,
        "analyzers": rates, "bare_clip": bare, "yolo_sizes": sweep, "pipeline": pipe,
        "model_loads": dict(loads), "load_seconds": load_seconds,
        "stash_requests": dict(stash.calls), "peak_rss_mb": _peak_rss_mb(),
        "rss_after_load_mb": rss_loaded, "rss_before_pipeline_mb": rss_models,
        "log_problems": captured.problems}
    if args.json:
        out.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        from .bench_report import render  # noqa: PLC0415
        out.write(render(report) + "\n")
    return 0 if not pipe["errored"] else 1


def _media(scene):
    from ..frames.types import SceneMedia  # noqa: PLC0415
    return SceneMedia.from_stash(scene)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if platform.system() != "Darwin" else peak / 1024 / 1024


class _Capture:
    """The pipeline logs every scene; keep warnings and errors, show the rest only with --verbose."""

    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.problems: list[str] = []
        self._saved: TextIO | None = None

    def __enter__(self):
        if not self.verbose:
            import sys  # noqa: PLC0415
            self._saved = sys.stderr
            sys.stderr = self
        return self

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.startswith(("[warning]", "[error]")):
                self.problems.append(line)
        return len(text)

    def flush(self) -> None:
        pass

    def __exit__(self, *exc):
        if self._saved is not None:
            import sys  # noqa: PLC0415
            sys.stderr = self._saved
            for line in self.problems:
                sys.stderr.write(line + "\n")
        return False
