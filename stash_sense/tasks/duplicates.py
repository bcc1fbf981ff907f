"""Task "Find near-duplicates": groups of scenes with the same content, from stored embeddings
and duration (stash_sense/similarity/duplicates.py). It reports — task output, Stash's log and
`<dataDir>/reports/duplicates.json` for the search page — and changes nothing in Stash unless
the task is run with `tag: true`; then each grouped scene gets the tag StashSense_Duplicate
through the one writer (ownership recorded, so Undo takes it back). It never deletes or merges.

    {"mode": "duplicates"}                  -> {"groups": [...], "scenes": N, ...}
    {"mode": "duplicates", "tag": true}     -> the same, and the tag on every grouped scene
    {"mode": "duplicate_groups"}            -> the last report (light operation for the UI)
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import log
from .reports import read_report, write_report

if TYPE_CHECKING:
    from ..context import Context

REPORT_FILE = "duplicates.json"
DUPLICATE_TAG = "StashSense_Duplicate"


def duplicates(ctx: Context) -> dict[str, Any]:
    from ..similarity.duplicates import Rules, find_groups  # noqa: PLC0415
    from .similar import open_index, scenes_by_id  # noqa: PLC0415
    started = time.perf_counter()
    _, index = open_index(ctx)
    if index is None:
        log.info("Stash Sense duplicates: no scene has stored embeddings yet")
        return {"groups": [], "scenes": 0}
    floors: dict[str, Any] = {k: float(ctx.args[k]) for k in ("pooled_min", "frame_min", "same_min",
                                                              "contains_min", "duration_tol")
                              if ctx.args.get(k) not in (None, "")}
    rules = Rules(**floors)
    groups = find_groups(index, rules, progress=lambda p: ctx.progress.set(0.9 * p))
    titles: dict[str, dict] = {}
    ids = [sid for g in groups for sid in g.scene_ids]
    for start in range(0, len(ids), 200):
        titles.update(scenes_by_id(ctx.api, ids[start:start + 200]))
    out_groups = []
    for n, g in enumerate(groups, 1):
        scenes = [{"id": sid, "title": (titles.get(sid) or {}).get("title") or f"Scene {sid}",
                   "duration": ((titles.get(sid) or {}).get("files") or [{}])[0].get("duration"),
                   "in_stash": sid in titles} for sid in g.scene_ids]
        pairs = [{"a": p.a, "b": p.b, "relation": p.relation.value,
                  "coverage_ab": round(p.coverage_ab, 3), "coverage_ba": round(p.coverage_ba, 3),
                  "pooled": round(p.pooled, 4)} for p in g.pairs]
        out_groups.append({"group": n, "score": round(g.score, 3), "scenes": scenes,
                           "pairs": pairs})
        log.info(f"duplicate group {n} (score {g.score:.2f}): "
                 + ", ".join(f"{s['id']} {s['title']!r}" for s in scenes))
    tagged = tag_groups(ctx, out_groups) if _truthy(ctx.args.get("tag")) else 0
    result = {"groups": out_groups, "scenes": len(index.scene_ids), "model_id": index.model_id,
              "rules": rules.__dict__, "tagged_scenes": tagged, "generated_at": time.time(),
              "seconds": round(time.perf_counter() - started, 2)}
    write_report(ctx.settings.data_dir, REPORT_FILE, result)
    log.info(f"Stash Sense duplicates: {len(out_groups)} group(s) among {len(index.scene_ids)} "
             f"analysed scene(s){'; tagged ' + str(tagged) + ' scene(s)' if tagged else ''}")
    ctx.progress.set(1.0)
    return result


def tag_groups(ctx: Context, groups: list[dict]) -> int:
    """Put DUPLICATE_TAG on every grouped scene still in Stash, through the one writer and its
    ledger (Undo takes it back; a tag the user removes is not put back)."""
    from ..store.ledger import Ledger  # noqa: PLC0415
    from ..tagging.apply import Writer  # noqa: PLC0415
    from ..tagging.plan import Plan  # noqa: PLC0415
    from ..tagging.reconcile import check_database, reconcile  # noqa: PLC0415
    from ..tagging.state import SceneState  # noqa: PLC0415
    from ..tagging.tags import TagResolver  # noqa: PLC0415
    ledger = Ledger(ctx.store)
    check_database(ctx.api, ledger, ctx.store.path)     # another Stash database: write nothing
    resolver = TagResolver(ctx.api, ctx.settings.parentTag, ledger)
    writer = Writer(ctx.api, ctx.store, resolver, ledger)
    count = 0
    for group in groups:
        for scene in group["scenes"]:
            found = ctx.api.find_scene(scene["id"]) if scene["in_stash"] else None
            if found is None:
                continue
            state = SceneState.from_stash(found)
            reconcile(ledger, state)
            if any(t["name"] == DUPLICATE_TAG for t in found.get("tags") or []):
                continue
            if ("tag", DUPLICATE_TAG.lower()) in ctx.store.suggestions.rejected_keys(scene["id"]):
                continue                                  # the user rejected it once
            writer.apply(Plan(scene["id"], add_tags=[(DUPLICATE_TAG, ())]), state,
                         sync_suggestions=False)
            count += 1
    return count


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def duplicate_groups(ctx: Context) -> dict[str, Any]:
    return {"report": read_report(ctx.settings.data_dir, REPORT_FILE)}
