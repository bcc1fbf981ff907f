"""The benchmark's report as Markdown tables (the README's Benchmark section is pasted from it)."""
from __future__ import annotations

from typing import Any

from .common import table


def render(r: dict[str, Any]) -> str:
    m, p = r["machine"], r["pipeline"]
    n = p["scenes"]
    rows = []
    for name, model in r["models"].items():
        rate = r["analyzers"].get(name, {})
        inferred = p["inference"].get(name, 0.0)
        per_scene = r["frames_per_scene"].get(name, 0)
        rows.append((name, model, f"{per_scene:g}", f"{rate.get('fps', 0):.1f}",
                     f"{per_scene * n / inferred:.1f}" if inferred else "-",
                     f"{inferred / n:.2f}"))
    b = r["bare_clip"]
    if b:
        fps = b["bare_fps"][b["backend"]]
        rows.append((f"bare CLIP image encoder (batch {b['batch']})", f"{r['models']['clip']} on "
                     f"{b['backend']}", "81", f"{fps:.1f}", "-", f"{81 / fps:.2f}"))
        for backend, other in b["bare_fps"].items():
            if backend != b["backend"]:
                rows.append((f"bare CLIP image encoder on {backend} (batch {b['batch']})",
                             r["models"]["clip"], "81", f"{other:.1f}", "-", f"{81 / other:.2f}"))
    inference = sum(p["inference"].values())
    overhead = p["wall"] - inference
    steady = overhead - p["startup_wait"]
    stages = ", ".join(f"{k} {v / n:.3f}" for k, v in sorted(p["stages"].items())
                       if not k.startswith("infer:"))
    requests = sum(v for k, v in r["stash_requests"].items() if k != "GET media")
    lines = [
        f"Stash Sense benchmark: {n} scenes, {m['device']}, {m['cpus']} CPUs "
        f"({m.get('physical_cores', m['cpus'])} physical cores), "
        f"{m['torch_threads']} torch threads, torch {m['torch']}, Python {m['python']}; "
        f"load average {m['load_average'][0]} at start, {m['load_average'][1]} at end; "
        f"matmul yardstick {m['matmul_gflops'][0]} GFLOPS at start, {m['matmul_gflops'][1]} at end",
        "random weights (same architecture and compute, meaningless findings): "
        + (", ".join(r["random_weights"]) or "none"), "",
        table(("analyzer", "model", "frames/scene", "alone: frames/s", "in pipeline: frames/s",
               "inference s/scene"), rows), ""]
    clip_ratio = b["ratio"] if b else None
    clip_inferred = p["inference"].get("clip", 0.0)
    in_pipeline = (r["frames_per_scene"].get("clip", 0) * n / clip_inferred
                   / b["bare_fps"][b["backend"]]) if b and clip_inferred else None
    skipped = p.get("tiles_skipped")
    summary = [
        ("seconds per scene (wall)", f"{p['wall'] / n:.2f}"),
        ("CPU seconds per scene (all threads)", f"{p['cpu'] / n:.2f}"),
        ("inference per scene", f"{inference / n:.2f}"),
        ("overhead outside inference per scene", f"{overhead / n:.3f}"),
        ("  of which waiting for the first frames (once per task)", f"{p['startup_wait'] / n:.3f}"),
        ("  of which steady state (fetch wait, store, aggregate, plan, write)", f"{steady / n:.3f}"),
        ("stage seconds per scene (fetch+decode runs ahead in a thread)", stages),
        ("s per scene, 1st half / 2nd half of the batch",
         " / ".join(f"{x:.2f}" for x in p["halves"]) if p["halves"] else "- (needs 12+ scenes)"),
        ("CLIP analyzer / bare encoder throughput", f"{clip_ratio:.2f}" if clip_ratio else "-"),
        ("  measured as", f"{b['rounds']} passes over {b['frames']} sprite frames, analyzer and "
         f"bare encoder alternating every 81 frames, same backend ({b['backend']}), tile skipping "
         f"off; analyzer {b['analyzer_fps']:.1f} frames/s; per-scene pairs "
         f"{b['pair_range'][0]:.2f}-{b['pair_range'][1]:.2f}" if b else "-"),
        ("CLIP in the pipeline / bare encoder (shares the cores with decode-ahead)",
         f"{in_pipeline:.2f}" if in_pipeline else "-"),
        ("CLIP backends, bare frames/s (x torch; cosine to torch)", ", ".join(
            f"{k} {v:.1f} (x{v / b['bare_fps']['torch']:.2f}; {b['cosine'].get(k, 1.0):.6f})"
            if "torch" in b["bare_fps"] else f"{k} {v:.1f}" for k, v in b["bare_fps"].items())
         if b else "-"),
        ("sprite tiles skipped as near-identical (tileSkipThreshold)",
         f"{skipped[0]} of {skipped[1]} ({skipped[0] / skipped[1]:.0%})" if skipped and skipped[1]
         else "-"),
        ("model loads (load time)", ", ".join(f"{k} {v}" for k, v in r["model_loads"].items())
         + f" ({r['load_seconds']:.1f} s)"),
        ("Stash requests per scene", f"{requests / n:.1f}"),
        ("peak memory (RSS)", f"{r['peak_rss_mb']:.0f} MB (models loaded: "
         f"{r['rss_after_load_mb']:.0f} MB)"),
        ("scenes tagged / errored", f"{p['tagged']} / {len(p['errored'])}"),
    ]
    lines.append(table(("pipeline", "value"), summary))
    if r["yolo_sizes"]:
        lines += ["", table(("YOLO imgsz", "input (sprite tile)", "GFLOP/frame", "frames/s",
                             "detections/frame"),
                            [(s["imgsz"], s["input"], f"{s['gflop']:.2f}", f"{s['fps']:.1f}",
                              f"{s['detections_per_frame']:.2f}") for s in r["yolo_sizes"]])]
        if "objects" in r["random_weights"]:
            lines.append("(random YOLO weights: detections/frame is meaningless; run with real "
                         "weights in modelDir to compare detections)")
    return "\n".join(lines)
