"""Face recognition accuracy on real photographs: where the match threshold, the margin, the
minimum face size and the confidence anchors in stash_sense/faces/match.py come from.

    python bench/face_accuracy.py [--weights casia-webface] [--margins 0,20] [--sizes 24,32,40,56,80]

Reads ../shared/data/faces (real photos, several per person, and a real 10 s video clip; never
copied into the project). With the real pipeline (MTCNN, the crop, InceptionResnetV1 with the
chosen weights) it measures:
- verification: cosine similarity of every same-person and every different-person pair of
  labelled faces -> TPR at a fixed FPR (empirical), and the threshold where a normal fitted to the
  different-person similarities gives a per-comparison FPR of 1e-5 (a face compared with 1000
  performers then has a ~1% chance of a false candidate, before the margin and the N-frame rule);
- identification: a gallery from train/ (+ Lin-Manuel Miranda's photo), probes from test/, more/
  and faces in frames of the video: the right person first? best score, margin over the second;
- strangers: each person removed from the gallery in turn, their probes' best (wrong) score;
- face size: probes shrunk until the face is N px, the share still identified at the threshold.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FPRS = (0.01, 0.001)
TAIL_FPR = 1e-5


def video_faces(engine, step: float = 0.5):
    """(time, face, embedding) for the faces in frames of the Hamilton clip, every `step` s,
    decoded by ffmpeg at full resolution."""
    import subprocess

    from PIL import Image

    from tests.helpers.faces import HAMILTON
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ffmpeg", "-v", "error", "-i", HAMILTON, "-vf", f"fps={1 / step}",
                        os.path.join(tmp, "f%03d.png")], check=True)
        names = sorted(os.listdir(tmp))
        images = [Image.open(os.path.join(tmp, n)).convert("RGB") for n in names]
    # fps filter: frame k shows time (k + 0.5) * step (it picks the frame nearest each midpoint)
    for k, found in enumerate(engine.faces_with_embeddings(images)):
        for face, emb in found:
            out.append(((k + 0.5) * step, face, emb))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default="casia-webface")
    parser.add_argument("--margins", default="")
    parser.add_argument("--sizes", default="24,32,40,56,80")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch

    from stash_sense.faces import engine as engine_mod
    from stash_sense.faces.match import DEFAULT_RULES, Gallery, match_faces
    from stash_sense.models import faces as models
    from tests.helpers import faces as data
    if not data.real_available():
        sys.exit(f"{data.REAL_DIR} is absent")
    torch.set_num_threads(args.threads)
    model_dir = os.environ.get("STASH_SENSE_MODEL_DIR", os.path.join(tempfile.gettempdir(),
                                                                     "stash-sense-models"))
    weights = models.resolve_weights(args.weights, model_dir)
    model_id = models.embedder_id(weights)
    engine_mod.MIN_FACE_PX = 16       # measure small faces too; the size sweep reports them
    engine = engine_mod.FaceEngine(models.load_detector("cpu", 16),
                                   models.load_embedder(weights, "cpu"), model_id, "cpu")
    started = time.time()
    for margin in [int(m) for m in args.margins.split(",") if m] or [None]:
        if margin is not None:
            engine.crop_margin = margin
        report(engine, data, np, Gallery, match_faces, margin)
    rule = DEFAULT_RULES.get(model_id)
    print(f"\nrule in match.py for {model_id}: {rule}")
    size_sweep(engine, data, np, Gallery, match_faces, [int(s) for s in args.sizes.split(",")],
               rule)
    load = os.getloadavg()
    print(f"\n{time.time() - started:.0f} s, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def report(engine, data, np, Gallery, match_faces, margin) -> None:
    gallery_faces = data.gallery_faces(engine)
    probes = data.labelled(engine, data.PROBE_PHOTOS)
    video = video_faces(engine)
    lo, hi = data.HAMILTON_LIN
    # a face on screen while Lin is: his when it is the largest face of the frame
    by_time: dict[float, list] = {}
    for t, face, emb in video:
        by_time.setdefault(t, []).append((face, emb))
    for t, found in sorted(by_time.items()):
        if lo + 0.5 <= t <= hi - 0.5:
            face, emb = max(found, key=lambda fe: fe[0].area)
            probes.append(("lin_manuel_miranda", f"video@{t:.2f}s", face, emb))
    everyone = [(n, e) for n, _, _, e in gallery_faces] + [(n, e) for n, _, _, e in probes]
    names = [n for n, _ in everyone]
    emb = np.stack([e for _, e in everyone])
    sims = emb @ emb.T
    iu = np.triu_indices(len(names), 1)
    same_mask = np.array([names[i] == names[j] for i, j in zip(*iu)])
    same, diff = sims[iu][same_mask], sims[iu][~same_mask]
    print(f"\n== crop margin {engine.crop_margin} px: {len(names)} labelled faces of "
          f"{len(set(names))} people ({len(probes)} probes, "
          f"{sum(1 for p in probes if p[1].startswith('video'))} from video frames)")
    print(f"same person  ({len(same)} pairs): cosine mean {same.mean():.3f}, median "
          f"{np.median(same):.3f}, min {same.min():.3f}, 5th pct {np.percentile(same, 5):.3f}")
    print(f"different    ({len(diff)} pairs): cosine mean {diff.mean():.3f}, std {diff.std():.3f}, "
          f"max {diff.max():.3f}, 99th pct {np.percentile(diff, 99):.3f}")
    for fpr in FPRS:
        t = float(np.quantile(diff, 1 - fpr))
        print(f"TPR at FPR {fpr:g} (threshold {t:.3f}): {(same > t).mean():.3f}")
    z = 4.265   # one-sided normal quantile for 1e-5
    tail = float(diff.mean() + z * diff.std())
    print(f"normal tail threshold at per-comparison FPR {TAIL_FPR:g}: {tail:.3f} -> TPR "
          f"{(same >= tail).mean():.3f}")
    gal = Gallery.from_rows((n, n, e) for n, _, _, e in gallery_faces)
    matches = match_faces(np.stack([e for *_, e in probes]), gal)
    right = [m for (n, *_), m in zip(probes, matches) if m.best == n]
    print(f"identification: {len(right)}/{len(probes)} probes rank-1 correct; best score min "
          f"{min(m.score for m in right):.3f} median {np.median([m.score for m in right]):.3f}; "
          f"margin over the 2nd min {min(m.score - m.second_score for m in right):.3f} median "
          f"{np.median([m.score - m.second_score for m in right]):.3f}")
    for (n, photo, face, _), m in zip(probes, matches):
        if m.best != n or m.score < tail:
            print(f"  {photo} ({n}, face {face.size:.0f} px): best {m.best} {m.score:.3f}, "
                  f"2nd {m.second} {m.second_score:.3f}")
    worst = []
    for person in sorted(set(n for n, *_ in probes)):
        g = Gallery.from_rows((n, n, e) for n, _, _, e in gallery_faces if n != person)
        mine = [e for n, *_, e in probes if n == person]
        worst += [(m.score, person, m.best) for m in match_faces(np.stack(mine), g)]
    worst.sort(reverse=True)
    print(f"strangers (person left out of the gallery, {len(worst)} probes): best wrong score max "
          f"{worst[0][0]:.3f} ({worst[0][1]} -> {worst[0][2]}), median "
          f"{np.median([w[0] for w in worst]):.3f}")


def size_sweep(engine, data, np, Gallery, match_faces, sizes, rule) -> None:
    from PIL import Image
    gallery_faces = data.gallery_faces(engine)
    gal = Gallery.from_rows((n, n, e) for n, _, _, e in gallery_faces)
    probes = data.labelled(engine, data.PROBE_PHOTOS)
    print("\nface size (probe photos shrunk so the face's shorter side is N px):")
    for size in sizes:
        hits = found = total = 0
        scores = []
        for name, photo, face, _ in probes:
            image = data.real_photo(photo)
            factor = size / face.size
            small = image.resize((max(1, round(image.width * factor)),
                                  max(1, round(image.height * factor))), Image.BILINEAR)
            (faces,) = engine.faces_with_embeddings([small])
            total += 1
            cx = (face.box[0] + face.box[2]) / 2 * factor
            near = [fe for fe in faces if fe[0].box[0] <= cx <= fe[0].box[2]]
            if not near:
                continue
            found += 1
            (m,) = match_faces(near[0][1][None], gal)
            scores.append(m.score if m.best == name else 0.0)
            if rule and m.best == name and m.verdict(rule) == "vote":
                hits += 1
        print(f"  {size:3d} px: detected {found}/{total}, right person's score median "
              f"{np.median(scores) if scores else 0:.3f}, identified at the rule {hits}/{total}")


if __name__ == "__main__":
    main()
