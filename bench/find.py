"""Benchmark of find by look on a synthetic library (default 10,000 scenes x 81 frames x 512 d).

    python bench/find.py [--scenes 10000] [--dir /tmp/find-bench] [--queries 20] [--ann]

Builds (once; reused from --dir) a store the way the pipeline leaves it — 81 float16 frame
vectors and a pooled vector per scene — and a ViT-B-32 checkpoint file (random weights: the real
architecture and loading code, no model hub), then measures with the load average printed:

1. index: rebuild from SQLite, the no-op sync every operation starts with, one new scene;
2. similar: a fresh plugin-like process (python + numpy + store + index sync + top-k);
3. search, warm (the process already has the text vector): brute force over the memory-mapped
   float16 matrix vs pooled prefilter (500 / 1000 scenes) + frame re-rank, with the prefilter's
   recall of the brute-force top 20 scenes;
4. first query: a fresh process that imports torch + open_clip, builds the text tower from the
   checkpoint, encodes the query, syncs the index and searches; then a repeated query in a fresh
   process (its vector is stored: no torch);
5. with --ann: usearch (HNSW, f16) and hnswlib on a 100,000-frame slice: build time, query time,
   recall — extrapolated, because an 810,000-vector HNSW build is the cost that matters.
Synthetic embeddings: 300 looks; a scene mixes 1-3 of them; frames scatter around their look.
Timings are wall seconds with CPU seconds beside them (shared machine: compare within one run).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MODEL_ID = "open_clip:ViT-B-32/bench-checkpoint"
LOOKS = 300


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self):
        return f"{self.wall:.3f} s (cpu {self.cpu:.3f} s)"


def looks(dim: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    c = rng.standard_normal((LOOKS, dim)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def scene_frames(rng, centres, frames: int) -> np.ndarray:
    k = rng.integers(1, 4)
    picks = rng.choice(len(centres), k, replace=False)
    which = picks[np.sort(rng.integers(0, k, frames))]          # stretches of one look
    noise = rng.standard_normal((frames, centres.shape[1])).astype(np.float32) * 0.045
    m = centres[which] + noise
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def build_store(folder: str, scenes: int, frames: int, dim: int) -> None:
    from stash_sense.store import Store
    from stash_sense.store.embeddings import ClipModelSpec, EmbeddingStore
    path = os.path.join(folder, "stash_sense.sqlite")
    if os.path.exists(path):
        return
    store = Store(path)
    emb = EmbeddingStore(store)
    rng, centres = np.random.default_rng(1), looks(dim)
    times = [(i * 600 / frames, 600 / frames) for i in range(frames)]
    for s in range(scenes):
        emb.save_scene(str(s + 1), MODEL_ID, times, scene_frames(rng, centres, frames))
    emb.save_model(ClipModelSpec(MODEL_ID, "ViT-B-32", checkpoint(folder), None, 100.0, dim))
    store.close()


def checkpoint(folder: str) -> str:
    """A ViT-B-32 state dict on disk, loaded by open_clip like a user's local weights file."""
    path = os.path.join(folder, "vit-b-32-random.pt")
    if not os.path.exists(path):
        import open_clip
        import torch
        torch.manual_seed(0)
        model = open_clip.create_model("ViT-B-32", pretrained=None)
        torch.save(model.state_dict(), path)
    return path


FRESH = """
import os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from stash_sense.store import Store
from stash_sense.store.embeddings import EmbeddingStore
from stash_sense.similarity.index import FrameIndex
emb = EmbeddingStore(Store(os.path.join({folder!r}, "stash_sense.sqlite")))
index = FrameIndex.open(emb, {model!r}, {folder!r})
t1 = time.perf_counter()
if {mode!r} == "similar":
    from stash_sense.similarity.similar import similar_scenes
    hits = similar_scenes(index, "17", 12)
    t2 = t1
else:
    from stash_sense.similarity.text import query_vector
    from stash_sense.similarity.search import search
    q, path = query_vector(emb, {model!r}, {query!r}, {folder!r}, {folder!r})
    t2 = time.perf_counter()
    hits = search(index, q, 20)
t3 = time.perf_counter()
print(round(t1 - t0, 3), round(t2 - t1, 3), round(t3 - t2, 3), round(time.process_time(), 3),
      "torch" in sys.modules, path.value if {mode!r} == "search" else "-")
"""


def fresh(folder: str, mode: str, query: str = "") -> dict:
    code = FRESH.format(root=ROOT, folder=folder, model=MODEL_ID, mode=mode, query=query)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, OMP_NUM_THREADS="2"))
    total = time.perf_counter() - started
    open_s, text_s, search_s, cpu, torch, path = out.stdout.split()[-6:]
    return {"total_s": round(total, 3), "open_index_s": float(open_s), "text_s": float(text_s),
            "search_s": float(search_s), "cpu_s": float(cpu), "torch_imported": torch == "True",
            "text_path": path}


def warm_search(index, queries, candidates_list) -> dict:
    from stash_sense.similarity.search import Strategy, search
    result = {}
    truth = []
    with Timer() as t:
        for q in queries:
            truth.append([r.scene_id for r in search(index, q, 20, strategy=Strategy.BRUTE)])
    result["brute"] = {"per_query_s": round(t.wall / len(queries), 4),
                       "cpu_per_query_s": round(t.cpu / len(queries), 4)}
    for k in candidates_list:
        got = []
        with Timer() as t:
            for q in queries:
                got.append([r.scene_id for r in search(index, q, 20, strategy=Strategy.PREFILTER,
                                                       candidates=k)])
        recall = np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(truth, got)])
        result[f"prefilter_{k}"] = {"per_query_s": round(t.wall / len(queries), 4),
                                    "cpu_per_query_s": round(t.cpu / len(queries), 4),
                                    "recall_at_20": round(float(recall), 3)}
    return result


def ann(index, queries, n: int = 100_000) -> dict:
    """HNSW libraries on the first n frames (building 810,000 is the cost to extrapolate)."""
    sys.path.insert(0, "/tmp/annlib")      # bench-only install: pip install --target /tmp/annlib
    data = np.asarray(index.frames[:n], np.float32)
    n = len(data)
    exact = [set(np.argsort(-(data @ q))[:50].tolist()) for q in queries]
    out = {}
    try:
        from usearch.index import Index
        idx = Index(ndim=data.shape[1], metric="ip", dtype="f16")
        with Timer() as t:
            idx.add(np.arange(n), data, threads=2)
        with Timer() as tq:
            found = [set(idx.search(q, 50).keys.tolist()) for q in queries]
        out["usearch"] = {"frames": n, "build_s": round(t.wall, 2), "build_cpu_s": round(t.cpu, 2),
                          "query_s": round(tq.wall / len(queries), 5),
                          "recall_at_50": round(float(np.mean([len(a & b) / 50 for a, b in
                                                               zip(exact, found)])), 3),
                          "extrapolated_build_810k_s": round(t.wall * 810_000 / n * 1.2, 0)}
    except ImportError as exc:
        out["usearch"] = f"not installed ({exc})"
    try:
        import hnswlib
        idx = hnswlib.Index(space="ip", dim=data.shape[1])
        idx.init_index(max_elements=n, ef_construction=100, M=16)
        idx.set_num_threads(2)
        with Timer() as t:
            idx.add_items(data, np.arange(n))
        idx.set_ef(100)
        with Timer() as tq:
            found = [set(idx.knn_query(q, 50)[0][0].tolist()) for q in queries]
        out["hnswlib"] = {"frames": n, "build_s": round(t.wall, 2), "build_cpu_s": round(t.cpu, 2),
                          "query_s": round(tq.wall / len(queries), 5),
                          "recall_at_50": round(float(np.mean([len(a & b) / 50 for a, b in
                                                               zip(exact, found)])), 3),
                          "extrapolated_build_810k_s": round(t.wall * 810_000 / n * 1.2, 0)}
    except ImportError as exc:
        out["hnswlib"] = f"not installed ({exc})"
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=10_000)
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--dir", default="/tmp/find-bench")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--ann", action="store_true")
    ap.add_argument("--no-warm", action="store_true", help="skip the warm brute/prefilter runs")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    os.makedirs(args.dir, mode=0o700, exist_ok=True)
    from stash_sense.similarity.index import FrameIndex
    from stash_sense.store import Store
    from stash_sense.store.embeddings import EmbeddingStore

    report: dict = {"load_before": loadavg(), "scenes": args.scenes, "frames": args.frames,
                    "dim": args.dim}
    with Timer() as t:
        build_store(args.dir, args.scenes, args.frames, args.dim)
    report["store_build_s"] = round(t.wall, 1)
    emb = EmbeddingStore(Store(os.path.join(args.dir, "stash_sense.sqlite")))
    index = FrameIndex(emb, MODEL_ID, args.dir)
    with Timer() as t:
        index.sync()
    report["index_first_sync"] = {"s": round(t.wall, 2), "cpu_s": round(t.cpu, 2),
                                  "rows": int(len(index.frames))}
    with Timer() as t:
        FrameIndex.open(emb, MODEL_ID, args.dir)
    report["index_noop_sync_s"] = round(t.wall, 3)
    with Timer() as t:
        ids, pooled = emb.pooled_matrix(MODEL_ID)
    report["pooled_from_sqlite_s"] = round(t.wall, 3)
    rng = np.random.default_rng(7)
    centres = looks(args.dim)
    emb.save_scene("new", MODEL_ID, [(i, 1.0) for i in range(args.frames)],
                   scene_frames(rng, centres, args.frames))
    with Timer() as t:
        index = FrameIndex.open(emb, MODEL_ID, args.dir)
    report["index_sync_one_new_scene_s"] = round(t.wall, 3)

    queries = []
    for _ in range(args.queries):
        q = centres[rng.integers(LOOKS)] + rng.standard_normal(args.dim).astype(np.float32) * 0.04
        queries.append(q / np.linalg.norm(q))
    if not args.no_warm:
        report["warm_search"] = warm_search(index, queries, (500, 1000))
    report["similar_fresh_process"] = [fresh(args.dir, "similar") for _ in range(3)]
    word = f"a red neon bedroom {int(time.time())}"
    report["first_query_ever_fresh_process"] = fresh(args.dir, "search", word)   # torch + export
    report["first_query_fresh_process"] = fresh(args.dir, "search", word + " again")  # onnx
    report["repeat_query_fresh_process"] = fresh(args.dir, "search", word)
    if args.ann:
        report["ann"] = ann(index, queries)
    report["load_after"] = loadavg()
    report["cpus"] = os.cpu_count()
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
