"""How many sprite tiles tile skipping saves, and what it changes, on real and static-shot footage.

    python bench/tile_skip.py [--thresholds 0.01,0.02,0.03,0.05] [--model ViT-B-32|tiny]

Sprites are made the way Stash makes them (81 tiles, 160 px wide, tests/standin/media.py) from
  * the real 10 s video ../shared/data/faces/more/short_hamilton_clip.mp4 (skipped if absent);
  * a generated 10-minute scene of long static shots: scikit-image photographs held 40-150 s each
    with temporal sensor noise, one slow zoom, and a black stretch.
For each threshold it prints the share of tiles skipped, the largest change in any stored score
(every label of the vocabulary, every tile) and the lowest cosine between a reused embedding and
the tile's own. Embeddings come from the real CLIP analyzer with random weights (no CLIP weights
are obtainable here): the image side is the real architecture, but random weights are less
sensitive to small picture changes than trained ones, so the score changes are a lower bound.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

HAMILTON = os.path.join(ROOT, "..", "shared", "data", "faces", "more", "short_hamilton_clip.mp4")


def static_shots_video(path: str) -> str:
    """10 minutes at 2 fps, 640x360: held photographs with noise, a slow zoom, a black stretch."""
    from PIL import Image
    from skimage import data
    work = os.path.dirname(path)
    shots = [("astronaut", 90), ("coffee", 150), ("chelsea", 60), ("rocket", 120), ("camera", 40)]
    inputs, filters = [], []
    for k, (name, seconds) in enumerate(shots):
        still = os.path.join(work, f"{name}.png")
        Image.fromarray(getattr(data, name)()).convert("RGB").resize((640, 360)).save(still)
        inputs += ["-loop", "1", "-t", str(seconds), "-framerate", "2", "-i", still]
        filters.append(f"[{k}:v]scale=640:360,setsar=1,format=yuv420p,"
                       f"noise=alls=6:allf=t{',zoompan=z=1+0.002*on:d=1:s=640x360:fps=2' if k == 3 else ''}"
                       f"[v{k}]")
    inputs += ["-f", "lavfi", "-t", "60", "-i", "color=c=black:s=640x360:r=2"]
    filters.append(f"[{len(shots)}:v]format=yuv420p,setsar=1[v{len(shots)}]")
    concat = "".join(f"[v{k}]" for k in range(len(shots) + 1))
    filters.append(f"{concat}concat=n={len(shots) + 1}:v=1:a=0[out]")
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", ";".join(filters),
                    "-map", "[out]", "-r", "2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-crf", "23", path], check=True)
    return path


def tiles_of(sprite: bytes, vtt: str, scene_id: str):
    from stash_sense.frames.sprite import decode_sprite, slice_tiles
    from stash_sense.frames.vtt import parse_vtt
    return slice_tiles(decode_sprite(sprite), parse_vtt(vtt), scene_id)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--thresholds", default="0.01,0.02,0.03,0.05")
    parser.add_argument("--model", default="ViT-B-32", help="ViT-B-32 (random weights) or tiny")
    parser.add_argument("--model-dir", default="", help="reuse this modelDir (the ONNX export)")
    args = parser.parse_args(argv)
    from stash_sense.analyzers.base import AnalyzerContext
    from stash_sense.analyzers.clip import ClipAnalyzer
    from stash_sense.frames import dedupe
    from stash_sense.settings import load_settings
    from stash_sense.vocabulary import load_vocabulary
    from tests.standin.media import sprite_from_video

    work = tempfile.mkdtemp(prefix="tile-skip-")
    scenes = {}
    if os.path.isfile(HAMILTON):
        scenes["hamilton (real, 10 s)"] = tiles_of(*sprite_from_video(HAMILTON), "ham")
    static = static_shots_video(os.path.join(work, "static.mp4"))
    scenes["static shots (generated, 10 min)"] = tiles_of(*sprite_from_video(static), "static")

    model = os.path.join(ROOT, "tests", "fixtures", "tiny-clip.json") if args.model == "tiny" \
        else args.model
    settings = load_settings({}, {"clipModel": model, "clipPretrained": "none",
                                  "modelDir": args.model_dir or os.path.join(work, "models"),
                                  "tileSkipThreshold": 0}, work)
    clip = ClipAnalyzer(AnalyzerContext(settings, load_vocabulary(), device="cpu"))
    clip.load()
    thresholds = [float(t) for t in args.thresholds.split(",")]
    print(f"model {clip.model_id} on {clip.encoder.label}; load average {os.getloadavg()[0]:.2f}")
    print("| footage | consecutive-tile difference p10 / p50 / p90 | threshold | tiles skipped "
          "| largest score change | lowest cosine reused/own |")
    print("|---|---|---|---|---|---|")
    for label, frames in scenes.items():
        sigs = [dedupe.signature(f.image) for f in frames]
        diffs = [dedupe.difference(a, b) for a, b in zip(sigs, sigs[1:])]
        spread = " / ".join(f"{np.percentile(diffs, q):.3f}" for q in (10, 50, 90))
        own = clip._encode(frames)
        base = clip.scores(own)
        for t in thresholds:
            plan = dedupe.reuse_plan(frames, t)
            reused = own[plan]
            change = float(np.abs(clip.scores(reused) - base).max())
            cosine = float((reused * own).sum(axis=1).min())
            print(f"| {label} | {spread} | {t:g} | {dedupe.skipped(plan)}/{len(frames)} "
                  f"({dedupe.skipped(plan) / len(frames):.0%}) | {change:.4f} | {cosine:.5f} |")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
