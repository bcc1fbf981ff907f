"""Task `evaluate`: the quality report of the plugin's tags against the user's own tagging.

evaluate: for every tag the plugin can produce (vocabulary labels, object tags) that the user also
uses (a tag of theirs with that name or one of its aliases, on at least one analysed scene), the
plugin's findings recomputed from stored results with the current settings are compared with the
user's own tagging (learn/evaluate.py says which scenes count and why). Nothing is written to
Stash. The report is the task's output, one log line per tag, and a file the UI reads.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from .. import log
from ..frames.types import SceneMedia
from ..learn.evaluate import tag_quality
from ..learn.labels import read_labels
from ..learn.stored import StoredFindings
from ..learn.threads import one_blas_thread
from .reports import QUALITY_FILE, write_report

if TYPE_CHECKING:
    from ..context import Context


def producible(vocabulary) -> dict[str, tuple[str, ...]]:
    """The plugin's tag names -> their aliases."""
    out: dict[str, tuple[str, ...]] = {}
    for category in vocabulary.categories:
        for label in category.labels:
            if label.tag:
                out.setdefault(label.tag, label.aliases)
    for oc in vocabulary.objects.values():
        out[oc.tag] = tuple(dict.fromkeys(out.get(oc.tag, ()) + oc.aliases))
    return out


def evaluate(ctx: Context) -> dict:
    started = time.perf_counter()
    settings = ctx.settings
    stored = StoredFindings(ctx, learned=False)
    stored.prepare()
    labels = read_labels(ctx.api, ctx.store, settings)
    by_name = labels.tag_by_name()
    analysed = stored.analysed_scene_ids()
    names = producible(stored.vocabulary)        # + whatever the analyzers found (custom ones)
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    with one_blas_thread():
        for n, sid in enumerate(analysed, 1):
            media = SceneMedia(sid, "", labels.duration.get(sid, 0.0), 0, 0, None, None, None,
                               None)
            findings, _ = stored.findings(media, None, with_learned=False)
            for f in findings:
                if f.kind == "tag":
                    names.setdefault(f.name, f.aliases)
                    scores[f.key][sid] = max(scores[f.key].get(sid, 0.0), f.confidence)
            ctx.progress.set(0.95 * n / max(len(analysed), 1))
    analysed_ids = set(analysed)
    pairs = []                                   # (plugin tag, the user's tag)
    for name, aliases in names.items():
        user = next((by_name[n.lower()] for n in (name, *aliases) if n.lower() in by_name), None)
        if user is not None and labels.positives.get(user.id, set()) & analysed_ids:
            pairs.append((name, user))
    rows = []
    for name, user in sorted(pairs, key=lambda p: p[0].lower()):
        truth = labels.positives.get(user.id, set()) & analysed_ids
        evaluated = analysed_ids & (truth | labels.organized)
        rows.append(tag_quality(name, user.name, scores[name.lower()], truth, evaluated,
                                settings.targetPrecision).as_dict())
    for r in rows:
        p = "n/a" if r["precision"] is None else f"{r['precision']:.2f}"
        rc = "n/a" if r["recall"] is None else f"{r['recall']:.2f}"
        at = (f"threshold {r['threshold']:.2f} gives precision {r['precision_at']:.2f}, recall "
              f"{r['recall_at']:.2f}" if r["threshold"] is not None else r["note"])
        log.info(f"quality {r['name']!r} (your tag {r['user_tag']!r}): {r['evaluated']} scenes, "
                 f"{r['positives']} tagged by you; precision {p}, recall {rc}; {at}")
    result = {"target_precision": settings.targetPrecision, "analysed_scenes": len(analysed_ids),
              "organized_scenes": len(labels.organized & analysed_ids), "tags": rows,
              "generated_at": time.time(), "seconds": round(time.perf_counter() - started, 2)}
    if not rows:
        result["message"] = ("none of your tags matches a tag the plugin can produce on an "
                             "analysed scene (by name or alias)")
        log.info(f"Stash Sense: {result['message']}")
    write_report(settings.data_dir, QUALITY_FILE, result)
    ctx.progress.set(1.0)
    return result
