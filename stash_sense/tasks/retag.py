"""Task `retag` ("Re-tag from stored results"): every analysed scene's findings recomputed from
the store with the current settings, vocabulary and learned tags, then written exactly as a normal
run writes them (pipeline.write_findings: same plan, writer, ledger, rejections, review mode).

Why: a new threshold, a new label or a newly learned tag should take seconds, not the days that
looking at a library's frames again costs on a CPU. No image model is loaded (the clip text tower
only for prompts never embedded before); scenes are read from Stash 100 per request, and a scene
whose plan changes nothing costs no Stash write.
The output says which heavy modules the process imported and its peak memory, so "no image
model" is checked, not assumed.
"""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from .. import log
from ..errors import SceneError
from ..frames.types import SceneMedia
from ..learn.stored import StoredFindings
from ..learn.threads import one_blas_thread
from ..pipeline import Stats, fail_scene, write_findings
from ..store.ledger import Ledger
from ..tagging.apply import Writer
from ..tagging.reconcile import check_database
from ..tagging.tags import TagResolver
from ..tagging.workflow import WorkflowTags

if TYPE_CHECKING:
    from ..context import Context

FETCH = 100      # scenes read from Stash per request
HEAVY = ("torch", "open_clip", "ultralytics", "rapidocr", "rapidocr_onnxruntime", "facenet_pytorch",
         "openvino")


def retag(ctx: Context, scene_ids: list[str] | None = None) -> dict:
    """Every analysed scene, or `scene_ids` (the learn task's proposals)."""
    started = time.perf_counter()
    stored = StoredFindings(ctx)                      # unknown analyzers stop here, before any change
    scene_ids = scene_ids if scene_ids is not None else stored.analysed_scene_ids()
    stored.prepare()                                  # a text encoder that cannot load: stop here
    ctx.api.client.enable_api_key_fallback()
    ledger = Ledger(ctx.store)
    check_database(ctx.api, ledger, ctx.store.path)   # another Stash database: stop before any change
    resolver = TagResolver(ctx.api, ctx.settings.parentTag, ledger)
    writer = Writer(ctx.api, ctx.store, resolver, ledger)
    workflow = WorkflowTags.ensure(resolver, ctx.settings)
    stats = Stats()
    unchanged = missing = 0
    log.info(f"Stash Sense: re-tagging {len(scene_ids)} analysed scene(s) from stored results")
    ctx.progress.set(0.0)
    fetched: dict[str, dict] = {}
    with one_blas_thread():
        for done, scene_id in enumerate(scene_ids, 1):
            media = None
            if (done - 1) % FETCH == 0:    # the next FETCH scenes as Stash has them now
                fetched = ctx.api.find_scenes(scene_ids[done - 1:done - 1 + FETCH])
            try:
                scene = fetched.get(str(scene_id))
                if scene is None:          # deleted in Stash since: nothing to write, no error
                    log.info(f"scene {scene_id} no longer exists in Stash; skipped")
                    missing += 1
                    ctx.progress.set(done / max(len(scene_ids), 1))
                    continue
                media = SceneMedia.from_stash(scene)
                t0 = time.perf_counter()
                findings, models = stored.findings(media, scene)
                stats.add("findings", t0)
                if not write_findings(ctx, media, scene, findings, writer, workflow, stats,
                                      models, skip_unchanged=True):
                    unchanged += 1
            except SceneError as exc:
                fail_scene(ctx, scene_id, media, str(exc), writer, workflow, stats)
            ctx.progress.set(done / max(len(scene_ids), 1))
    ctx.progress.set(1.0)
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    result = {"scenes": len(scene_ids), "changed": len(stats.tagged), "unchanged": unchanged,
              "missing": missing,
              "errored": stats.errored, "prompts_encoded": stored.encoded_prompts,
              "seconds": {k: round(v, 2) for k, v in stats.seconds.items()},
              "total_seconds": round(time.perf_counter() - started, 2),
              "heavy_modules": heavy, "peak_rss_mb": peak_rss_mb()}
    log.info(f"Stash Sense: re-tagged {len(scene_ids)} scene(s): {len(stats.tagged)} changed, "
             f"{unchanged} unchanged, {len(stats.errored)} errored; modules loaded: "
             f"{', '.join(heavy) or 'no model library'}; peak memory {result['peak_rss_mb']} MB")
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource  # noqa: PLC0415
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
