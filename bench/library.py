"""Benchmark of "analyze once, decide forever" on a synthetic 10,000-scene library.

    python bench/library.py [--scenes 10000] [--tags 100] [--frames 81] [--dim 512] [--json out]

Builds a store the way the pipeline leaves it — per scene 81 frame embeddings (512-d, ViT-B-32's
size) with a pooled vector, raw objects detections for every frame, and the vocabulary's prompt
vectors — then measures, in one process, with the load average printed beside the figures:

1. storage: bytes per scene and the store's size for all scenes;
2. re-tag: every scene's findings recomputed from the store (CLIP re-scored from embeddings against
   the bundled vocabulary, objects from stored detections, learned tags) and planned against the
   scene (learn/stored.py + tagging/plan.make_plan) — everything `retag` does except Stash's
   requests and writes;
3. learn: `--tags` tags (each the scenes of one latent concept, 10 % of them left untagged)
   trained and cross-validated on the pooled vectors (tasks/learn.train_all);
4. predict: the active learned tags over all pooled vectors, then confidence and segments
   (frame blobs read) for every scene a tag passes on — the learn task's proposal step; and
   per-scene prediction as retag does it (LearnedPredictor.findings over every scene);
5. peak memory (VmHWM) of the process.

Wall seconds and CPU seconds (process_time: all threads) are printed side by side: on a machine
shared with other work the wall time overstates; a single-threaded stage's CPU seconds are what an
idle core would take.

Embeddings are synthetic (no image model is involved in anything measured here): scenes belong to
one of `--tags` concepts, frames scatter around their scene's direction.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MODEL_ID = "open_clip:ViT-B-32/laion2b_s34b_b79k"


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def peak_rss_mb() -> float:
    from stash_sense.tasks.retag import peak_rss_mb as peak
    return peak()


def build(store, vocabulary, n_scenes: int, n_tags: int, n_frames: int, dim: int, seed: int = 0):
    """Fill the store; returns {scene id: concept} and the concept directions."""
    from stash_sense.findings import Signal
    from stash_sense.store.embeddings import ClipModelSpec, EmbeddingStore
    rng = np.random.default_rng(seed)
    vectors = EmbeddingStore(store)
    vectors.save_model(ClipModelSpec(MODEL_ID, "ViT-B-32", "laion2b_s34b_b79k", None, 100.0, dim))
    prompts = list(dict.fromkeys(vocabulary.all_prompts))
    vectors.save_prompts(MODEL_ID, prompts, rng.standard_normal((len(prompts), dim)))
    concepts = rng.standard_normal((n_tags, dim)).astype(np.float32)
    concepts /= np.linalg.norm(concepts, axis=1, keepdims=True)
    coco = list(vocabulary.objects)[:6] or ["couch"]
    of_scene = {}
    duration = 1800.0
    step = duration / n_frames
    times = [(i * step, step) for i in range(n_frames)]
    for s in range(n_scenes):
        sid = str(s + 1)
        c = int(rng.integers(0, n_tags))
        of_scene[sid] = c
        base = concepts[c] + 0.9 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim) * 6
        frames = base + rng.standard_normal((n_frames, dim)).astype(np.float32) / np.sqrt(dim) * 8
        vectors.save_scene(sid, MODEL_ID, times, frames)
        store.signals.save(sid, "clip", MODEL_ID, "sprite", [])   # the run record (scores: embeddings)
        detections = []
        for i, (t, span) in enumerate(times):
            sigs = []
            if (i + s) % 3 == 0:
                cls = coco[(s + i) % len(coco)]
                sigs.append(Signal(t, span, cls, 0.6, {"n": 1, "boxes": [[0.1, 0.1, 0.5, 0.6,
                                                                           0.6, 0.2]]}))
            detections.append((t, span, sigs))
        store.signals.save(sid, "objects", "ultralytics:yolo11n.pt/in2x", "sprite", detections)
    return of_scene, duration


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=10_000)
    parser.add_argument("--tags", type=int, default=100)
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--keep", default="", help="build/reuse the store in this folder")
    args = parser.parse_args()

    from stash_sense.context import Context
    from stash_sense.frames.types import SceneMedia
    from stash_sense.learn.labels import LibraryLabels, TagInfo
    from stash_sense.learn.model import LearnedModels
    from stash_sense.learn.predict import LearnedPredictor, predict_pooled, scene_findings
    from stash_sense.learn.stored import StoredFindings
    from stash_sense.learn.threads import one_blas_thread
    from stash_sense.settings import load_settings
    from stash_sense.stash.api import StashAPI
    from stash_sense.stash.client import StashClient
    from stash_sense.store import Store
    from stash_sense.store.embeddings import EmbeddingStore
    from stash_sense.tagging.plan import make_plan
    from stash_sense.tagging.state import Owned, SceneState
    from stash_sense.tasks.learn import train_all
    from stash_sense.vocabulary import load_vocabulary

    figures: dict = {"scenes": args.scenes, "tags": args.tags, "frames": args.frames,
                     "dim": args.dim, "cpus": os.cpu_count(), "load_start": loadavg()}
    folder = args.keep or tempfile.mkdtemp(prefix="ss-bench-library-")
    settings = load_settings({}, {"dataDir": folder, "modelDir": folder,
                                  "analyzers": "clip,objects"}, folder)
    store = Store.in_dir(folder)
    vocabulary = load_vocabulary()
    t0 = time.perf_counter()
    if EmbeddingStore(store).count(MODEL_ID) != args.scenes:
        of_scene, duration = build(store, vocabulary, args.scenes, args.tags, args.frames, args.dim)
        json.dump({"of_scene": of_scene, "duration": duration},
                  open(os.path.join(folder, "truth.json"), "w"))
    truth = json.load(open(os.path.join(folder, "truth.json")))
    of_scene, duration = truth["of_scene"], truth["duration"]
    figures["build_seconds"] = round(time.perf_counter() - t0, 1)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    vectors = EmbeddingStore(store)
    per_scene = vectors.bytes_per_scene(MODEL_ID)
    figures["storage"] = {"embedding_bytes_per_scene": round(per_scene),
                          "embedding_bytes_per_frame": round(per_scene / args.frames),
                          "store_file_mb": round(os.path.getsize(store.path) / 1e6, 1),
                          "embeddings_mb_total": round(per_scene * args.scenes / 1e6, 1)}
    print(f"storage: {figures['storage']}", flush=True)

    # learn -----------------------------------------------------------------------------------
    rng = np.random.default_rng(1)
    # no Stash is asked anything here: an unconnected client, the store the same file as `store`
    ctx = Context(payload={}, settings=settings, api=StashAPI(StashClient({})))
    t0 = time.perf_counter()
    ids, pooled = vectors.pooled_matrix(MODEL_ID)
    t_read = time.perf_counter() - t0
    positives: dict[str, set[str]] = {str(t): set() for t in range(args.tags)}
    for sid, c in of_scene.items():
        if rng.random() >= 0.10:                      # 10 % of each concept left untagged
            positives[str(c)].add(sid)
    labels = LibraryLabels(tags={t: TagInfo(t, f"tag {t}") for t in positives},
                           positives=positives)
    t0, c0 = time.perf_counter(), time.process_time()
    with one_blas_thread():
        learned, reports = train_all(labels, ids, pooled, settings)
    t_train, c_train = time.perf_counter() - t0, time.process_time() - c0
    active = [t for t in learned if t.active]
    figures["learn"] = {"seconds_read_pooled": round(t_read, 2), "seconds_train": round(t_train, 2),
                        "cpu_seconds_train": round(c_train, 2),
                        "tags_fitted": len(learned), "tags_active": len(active),
                        "median_cv_precision": round(float(np.median(
                            [r["cv_precision"] for r in reports])), 3),
                        "median_cv_recall": round(float(np.median([r["cv_recall"] for r in reports])), 3),
                        "load": loadavg()}
    print(f"learn: {figures['learn']}", flush=True)
    LearnedModels(MODEL_ID, learned, time.time()).save(folder)
    del pooled

    # predict ---------------------------------------------------------------------------------
    t0, c0 = time.perf_counter(), time.process_time()
    ids, pooled = vectors.pooled_matrix(MODEL_ID)
    hits: dict[str, list[int]] = {}
    with one_blas_thread():
        for row, col, _ in predict_pooled(active, pooled):
            hits.setdefault(ids[row], []).append(col)
        t_pooled = time.perf_counter() - t0
        found = 0
        for vec in vectors.iter_scenes(MODEL_ID, hits):
            found += len(scene_findings([active[c] for c in hits[vec.scene_id]], vec, duration,
                                        settings))
    t_proposals, c_proposals = time.perf_counter() - t0, time.process_time() - c0
    del pooled
    predictor = LearnedPredictor(store, settings)
    t0, c0 = time.perf_counter(), time.process_time()
    per_scene_found = 0
    with one_blas_thread():
        for sid in ids:
            media = SceneMedia(sid, "", duration, 0, 0, None, None, None, None)
            per_scene_found += len(predictor.findings(media, {"id": sid, "tags": []}))
    t_each, c_each = time.perf_counter() - t0, time.process_time() - c0
    figures["predict"] = {"seconds_pooled_all_scenes": round(t_pooled, 2),
                          "seconds_with_segments": round(t_proposals, 2),
                          "scenes_with_a_learned_tag": len(hits), "findings": found,
                          "cpu_seconds_with_segments": round(c_proposals, 2),
                          "seconds_per_scene_path_all_scenes": round(t_each, 2),
                          "cpu_seconds_per_scene_path": round(c_each, 2),
                          "load": loadavg()}
    print(f"predict: {figures['predict']}", flush=True)

    # retag (findings + plan, no Stash) ----------------------------------------------------------
    stored = StoredFindings(ctx)
    t0, c0 = time.perf_counter(), time.process_time()
    n_findings = n_changes = 0
    blas = one_blas_thread()
    blas.__enter__()
    for sid in stored.analysed_scene_ids():
        scene = {"id": sid, "tags": [], "scene_markers": [], "performers": [], "studio": None,
                 "files": [{"duration": duration}]}
        media = SceneMedia.from_stash(scene)
        findings, _ = stored.findings(media, scene)
        plan = make_plan(SceneState.from_stash(scene), findings, Owned.from_rows([]), settings,
                         {}, set())
        n_findings += len(findings)
        n_changes += bool(plan.changes_stash)
    t_retag, c_retag = time.perf_counter() - t0, time.process_time() - c0
    blas.__exit__(None, None, None)
    figures["retag"] = {"seconds": round(t_retag, 2), "cpu_seconds": round(c_retag, 2),
                        "findings": n_findings,
                        "scenes_with_changes": n_changes, "load": loadavg(),
                        "heavy_modules": sorted(m for m in ("torch", "open_clip", "ultralytics",
                                                            "rapidocr_onnxruntime")
                                                if m in sys.modules)}
    print(f"retag: {figures['retag']}", flush=True)
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["load_end"] = loadavg()
    print(json.dumps(figures, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
