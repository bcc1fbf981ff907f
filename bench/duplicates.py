"""Near-duplicates vs a Stash-style phash on generated re-encodes, crops and trims.

    python bench/duplicates.py [--dir /tmp/dup-bench] [--sources 4] [--seconds 60]
                               [--model ViT-B-32 | --model tests/fixtures/tiny-clip.json]

Sources are ffmpeg's moving test patterns (lavfi: testsrc2, mandelbrot, life, cellauto, ...), each
`--seconds` long. Variants of each: a re-encode at another resolution and a low bitrate, a 10 %
crop (scaled back), a trim (the middle 60 %), and a trim that is also re-encoded.
- phash: Stash's videophash — 25 frames from 5 % to 95 % of the duration in a 5x5 montage of
  160-px frames, then a 64-bit DCT perceptual hash; duplicates by Hamming distance (Stash's
  duplicate checker: 0 exact, 4 high, 8 medium, 10 low accuracy).
- embeddings: 81 frames spread like Stash's sprite, CLIP image vectors through open_clip with
  random weights (no model hub here: the real architecture, not the real semantics — figures with
  trained weights will differ), then stash_sense.similarity.duplicates' coverage both ways.
For every pair (variant, source) and every unrelated pair the script prints phash distance and
coverage, and whether a threshold separates the duplicates from the rest for each method.
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PATTERNS = ["testsrc2", "mandelbrot", "life=s=320x180:mold=10:r=25:ratio=0.1:death_color=#C83232"
            ":life_color=#00ff00", "cellauto=rule=110:s=320x180", "smptehdbars", "rgbtestsrc"]
VARIANTS = {
    "reencode": ["-vf", "scale=480:270", "-b:v", "150k"],
    "crop": ["-vf", "crop=iw*0.9:ih*0.9,scale=320:180"],
    "trim": "trim",
    "trim_reencode": "trim_reencode",
}


def ffmpeg(*args: str) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True,
                          capture_output=True).stdout


def make_videos(folder: str, sources: int, seconds: float) -> dict[str, tuple[str, str]]:
    """{video name: (path, source name)}."""
    os.makedirs(folder, exist_ok=True)
    videos = {}
    for n, pattern in enumerate(PATTERNS[:sources]):
        name = f"src{n}"
        src = os.path.join(folder, name + ".mp4")
        spec = pattern if "=" in pattern.split(":")[0] else f"{pattern}=s=320x180:r=25"
        if not os.path.exists(src):
            ffmpeg("-f", "lavfi", "-i", f"{spec}", "-t", str(seconds), "-pix_fmt", "yuv420p",
                   "-c:v", "libx264", "-preset", "veryfast", src)
        videos[name] = (src, name)
        for variant, args in VARIANTS.items():
            out = os.path.join(folder, f"{name}_{variant}.mp4")
            if not os.path.exists(out):
                if args == "trim":
                    ffmpeg("-ss", str(seconds * 0.2), "-i", src, "-t", str(seconds * 0.6),
                           "-c:v", "libx264", "-preset", "veryfast", out)
                elif args == "trim_reencode":
                    ffmpeg("-ss", str(seconds * 0.25), "-i", src, "-t", str(seconds * 0.5),
                           "-vf", "scale=480:270", "-b:v", "150k", "-c:v", "libx264",
                           "-preset", "veryfast", out)
                else:
                    ffmpeg("-i", src, *args, "-c:v", "libx264", "-preset", "veryfast", out)
            videos[f"{name}_{variant}"] = (out, name)
    return videos


def duration(path: str) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", path], check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def frames_at(path: str, times: list[float], width: int = 160) -> list[Image.Image]:
    images = []
    for t in times:
        data = ffmpeg("-ss", f"{t:.3f}", "-i", path, "-frames:v", "1", "-vf", f"scale={width}:-2",
                      "-f", "image2pipe", "-vcodec", "png", "-")
        images.append(Image.open(io.BytesIO(data)).convert("RGB"))
    return images


def phash(path: str) -> int:
    """Stash's videophash: 5x5 montage of frames at 5 %..95 %, DCT perceptual hash."""
    d = duration(path)
    step = 0.9 * d / 25
    tiles = frames_at(path, [0.05 * d + i * step for i in range(25)])
    w, h = tiles[0].size
    montage = Image.new("RGB", (5 * w, 5 * h))
    for i, tile in enumerate(tiles):
        montage.paste(tile.resize((w, h)), ((i % 5) * w, (i // 5) * h))
    gray = np.asarray(montage.convert("L").resize((64, 64), Image.BILINEAR), np.float64)
    n = 64
    k = np.arange(n)
    basis = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))
    dct = basis @ gray @ basis.T
    low = dct[:8, :8].flatten()
    bits = low > np.median(low)
    return int("".join("1" if b else "0" for b in bits), 2)


def embed(paths: dict[str, str], model_name: str, batch: int = 27) -> dict[str, tuple]:
    import open_clip
    import torch
    torch.manual_seed(0)
    arch = model_name
    if model_name.endswith(".json"):
        open_clip.add_model_config(model_name)
        arch = os.path.splitext(os.path.basename(model_name))[0]
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=None)
    model.eval()
    out = {}
    for name, path in paths.items():
        d = duration(path)
        times = [(i + 0.5) * d / 81 for i in range(81)]
        images = frames_at(path, times)
        vecs = []
        with torch.no_grad():
            for s in range(0, len(images), batch):
                x = torch.stack([preprocess(im) for im in images[s:s + batch]])
                v = model.encode_image(x).float()
                vecs.append((v / v.norm(dim=-1, keepdim=True)).numpy())
        out[name] = ([(t, d / 81) for t in times], np.concatenate(vecs))
        print(f"embedded {name}", file=sys.stderr, flush=True)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="/tmp/dup-bench")
    ap.add_argument("--sources", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--model", default="ViT-B-32")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    from stash_sense.similarity.duplicates import coverage
    videos = make_videos(args.dir, args.sources, args.seconds)
    hashes = {name: phash(path) for name, (path, _) in videos.items()}
    vectors = embed({name: path for name, (path, _) in videos.items()}, args.model)
    rows = []
    for a, b in itertools.combinations(sorted(videos), 2):
        same_source = videos[a][1] == videos[b][1]
        related = same_source and (a == videos[a][1] or b == videos[b][1])   # variant vs source
        if same_source and not related:
            continue                                     # variant vs variant: not scored
        ab, ba = coverage(vectors[a][1], vectors[b][1], 0.0 + FRAME_MIN)
        sims = vectors[a][1] @ vectors[b][1].T
        rows.append({"a": a, "b": b, "duplicate": related,
                     "kind": (b if a == videos[a][1] else a).split("_", 1)[1] if related else "-",
                     "phash_distance": bin(hashes[a] ^ hashes[b]).count("1"),
                     "coverage_min": round(min(ab, ba), 3), "coverage_max": round(max(ab, ba), 3),
                     "best_frame_mean": round(float(np.mean(np.max(sims, axis=1))), 4)})
    dup = [r for r in rows if r["duplicate"]]
    other = [r for r in rows if not r["duplicate"]]
    summary = {"model": args.model, "frame_min": FRAME_MIN, "by_kind": {}}
    for kind in VARIANTS:
        k = [r for r in dup if r["kind"] == kind]
        summary["by_kind"][kind] = {
            "phash_distance": [r["phash_distance"] for r in k],
            "found_by_phash_at_8": sum(r["phash_distance"] <= 8 for r in k),
            "coverage_max": [r["coverage_max"] for r in k],
            "found_by_coverage_0.85": sum(r["coverage_max"] >= 0.85 for r in k),
            "best_frame_mean": [r["best_frame_mean"] for r in k],
            "of": len(k)}
    summary["unrelated_pairs"] = len(other)
    summary["unrelated_min_phash_distance"] = min(r["phash_distance"] for r in other)
    summary["unrelated_max_coverage"] = max(r["coverage_max"] for r in other)
    summary["unrelated_max_best_frame_mean"] = max(r["best_frame_mean"] for r in other)
    # threshold-free: does some cut put every duplicate on one side and every other pair on the
    # other? (phash: distance, lower = closer; embeddings: mean best-frame cosine, higher = closer)
    summary["phash_separates"] = max(r["phash_distance"] for r in dup) < summary[
        "unrelated_min_phash_distance"]
    summary["embeddings_separate"] = min(r["best_frame_mean"] for r in dup) > summary[
        "unrelated_max_best_frame_mean"]
    report = {"summary": summary, "pairs": rows}
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


FRAME_MIN = 0.9

if __name__ == "__main__":
    main()
