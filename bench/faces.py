"""Benchmark of the face pipeline on this machine (MTCNN with its real weights on a real
photograph; InceptionResnetV1 with the weights of --weights: "none" = random, the same network
and cost as CASIA-WebFace and VGGFace2, or "casia-webface" = the converted real one).

    python bench/faces.py [--threads 2] [--frames 8] [--repeat 3] [--video] [--weights none]

Prints faces/s for MTCNN detection on 1280x720 frames (2 faces each), faces/s for embedding
160x160 crops in batches of 16, and seconds per scene for the faces analyzer at `--frames`
1280x720 frames (detection + embedding + matching against a 1000-performer gallery). With
--video, also ffmpeg frame extraction through frames/video.py from a 60 s 1280x720 clip.
Numbers are medians of --repeat runs after one warm-up; the load average is printed because
other processes on the machine skew wall time, and CPU seconds / threads is printed beside it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


CPU: dict[str, float] = {}


def timed(fn, repeat: int, label: str = "") -> float:
    """Median wall seconds; the median CPU seconds go to CPU[label]. On a machine shared with
    other work, wall time overstates; CPU seconds / threads is what an idle machine would take
    when the threads run in parallel (torch's intra-op threads mostly do)."""
    fn()                                           # warm-up (allocations, lazy init)
    runs, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    if label:
        CPU[label] = statistics.median(cpu)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--video", action="store_true")
    parser.add_argument("--weights", default="none")
    parser.add_argument("--scale-only", action="store_true",
                        help="only the gallery-size scaling of matching (numpy, seconds)")
    args = parser.parse_args()
    if args.scale_only:
        bench_scale(args)
        return

    import numpy as np
    import torch
    from PIL import Image

    from stash_sense.faces.engine import FaceEngine
    from stash_sense.faces.match import Gallery, match_faces
    from stash_sense.models import faces as models
    from tests.helpers.faces import astronaut_crop, cameraman

    torch.set_num_threads(args.threads)
    import tempfile
    model_dir = os.environ.get("STASH_SENSE_MODEL_DIR",
                               os.path.join(tempfile.gettempdir(), "stash-sense-models"))
    weights = models.resolve_weights(args.weights, model_dir)
    engine = FaceEngine(models.load_detector("cpu", 40), models.load_embedder(weights, "cpu"),
                        models.embedder_id(weights), "cpu", batch_size=16)

    def frame(i: int) -> Image.Image:
        canvas = Image.new("RGB", (1280, 720), (60 + i, 60, 60))
        canvas.paste(astronaut_crop(), (100 + 10 * i, 200))
        canvas.paste(cameraman().resize((320, 320)).crop((60, 40, 300, 300)), (800, 150))
        return canvas

    frames = [frame(i) for i in range(args.frames)]
    faces_per_frame = [len(f) for f in engine.detect(frames[:1])]
    detect_s = timed(lambda: engine.detect(frames), args.repeat, "detect")
    n_faces = sum(len(f) for f in engine.detect(frames))
    crops = torch.randn(16, 3, 160, 160)
    embed_s = timed(lambda: engine.embed(list(crops)), args.repeat, "embed")
    rng = np.random.default_rng(0)
    gallery = Gallery.from_rows((str(i // 3), f"P{i // 3}", rng.standard_normal(512))
                                for i in range(3000))

    def scene() -> None:
        found = engine.faces_with_embeddings(frames)
        emb = [e for fs in found for _, e in fs]
        if emb:
            match_faces(np.stack(emb), gallery)
    scene_s = timed(scene, args.repeat, "scene")

    load = os.getloadavg()
    print(f"torch {torch.__version__}, {args.threads} threads, load average {load[0]:.1f}, "
          f"weights {engine.model_id}")
    print(f"detection (MTCNN, min face 40 px, 1280x720, {faces_per_frame[0]} faces/frame): "
          f"{len(frames) / detect_s:.2f} frames/s, {n_faces / detect_s:.2f} faces/s")
    print(f"embedding (InceptionResnetV1, batch 16 @160x160): {16 / embed_s:.2f} faces/s")
    print(f"faces analyzer per scene ({args.frames} frames 1280x720, {n_faces} faces, gallery "
          f"1000 performers x 3): {scene_s:.2f} s (models only)")
    t = args.threads
    print(f"CPU seconds / {t} threads (an idle machine's wall time): detection "
          f"{n_faces / (CPU['detect'] / t):.2f} faces/s, embedding {16 / (CPU['embed'] / t):.2f} "
          f"faces/s, analyzer {CPU['scene'] / t:.2f} s per scene")
    bench_scale(args)
    if args.video:
        bench_video(args)


def bench_scale(args) -> None:
    """Matching cost against galleries of 1,000 and 10,000 performers (3 faces each), 64 faces:
    one matrix product and a per-performer max, so 10x the gallery should cost about 10x."""
    import numpy as np

    from stash_sense.faces.match import Gallery, match_faces
    rng = np.random.default_rng(0)
    faces = rng.standard_normal((64, 512)).astype(np.float32)
    times = {}
    for performers in (1000, 10000):
        gallery = Gallery.from_rows((str(i // 3), f"P{i // 3}", rng.standard_normal(512))
                                    for i in range(3 * performers))
        times[performers] = timed(lambda g=gallery: match_faces(faces, g), args.repeat)
    load = os.getloadavg()
    print(f"matching 64 faces: {times[1000] * 1000:.1f} ms against 1,000 performers, "
          f"{times[10000] * 1000:.1f} ms against 10,000 (ratio {times[10000] / times[1000]:.1f}, "
          f"load average {load[0]:.1f})")


def bench_video(args) -> None:
    """ffmpeg extraction of the frames through the real VideoSource, from a local stream URL."""
    import tempfile
    try:
        from stash_sense.frames.video import VideoSource  # noqa: F401
    except ImportError:
        print("frames/video.py is not available: extraction not measured")
        return
    from stash_sense.context import Context
    from stash_sense.frames.types import SceneMedia
    from tests.standin.media import make_video
    from tests.standin.server import FakeStash
    with tempfile.TemporaryDirectory() as tmp, FakeStash() as stash:
        path = make_video(os.path.join(tmp, "clip.mp4"), 60, size=(1280, 720), fps=25)
        sid = stash.add_scene("bench", duration=60, width=1280, height=720, video_path=path)
        stash.set_plugin_config("stash_sense", {"videoFrames": args.frames,
                                                "dataDir": os.path.join(tmp, "data")})
        ctx = Context.from_payload({"server_connection": stash.server_connection(),
                                    "args": {}})
        source = VideoSource.for_context(ctx)
        media = SceneMedia.from_stash(ctx.api.find_scene(sid))
        seconds = timed(lambda: source.frames(media), args.repeat)
        print(f"frame extraction (ffmpeg, {args.frames} frames of a 60 s 1280x720 clip): "
              f"{seconds:.2f} s per scene")


if __name__ == "__main__":
    main()
