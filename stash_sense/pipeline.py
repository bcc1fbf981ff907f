"""The batch: scenes -> frames (decoded ahead) -> analyzers (batched across scenes) -> stored
signals -> findings -> plan -> the writer -> workflow tags, one scene at a time for the writes.

Models load once, before the first scene is touched: a missing weight or dependency stops the task
with an error and changes nothing. A scene that cannot be processed (no sprite, corrupt JPEG, broken
VTT, a rejected mutation) gets the Errored tag and a log line naming it and the reason; the batch
goes on. Stash's Stop is a SIGKILL: every write is recorded per scene (tagging/apply.py), so a
rerun continues and never duplicates.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import log
from .analyzers.base import Analyzer, AnalyzerContext, EmbeddingAnalyzer, build_analyzers
from .errors import FramesUnavailable, SceneError
from .feedback import raised_thresholds
from .findings import Finding
from .frames.prefetch import Prefetcher
from .frames.sprite import SpriteSource
from .frames.types import Frame, FrameSource, SceneMedia
from .models.device import resolve_device
from .references import StashReferences
from .store.ledger import Kind, Ledger
from .store.review import ReviewMemory
from .store.scene_status import ProcessingState
from .store.suggestions import SuggestionStatus
from .tagging.apply import Writer, owned_keys
from .tagging.plan import make_plan
from .tagging.reconcile import check_database, gone_tags, reconcile
from .tagging.state import Owned, SceneState
from .tagging.tags import TagResolver
from .tagging.workflow import WorkflowTags
from .vocabulary import load_vocabulary

if TYPE_CHECKING:
    from .context import Context

GROUP = 4  # scenes whose frames go through the models together


@dataclass
class Loaded:
    scene: dict[str, Any]
    media: SceneMedia
    frames: dict[str, list[Frame]]


@dataclass
class Stats:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    tagged: list[str] = field(default_factory=list)
    errored: list[dict[str, str]] = field(default_factory=list)
    frames: int = 0

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - since
        return now


def load_models(ctx: Context) -> tuple[list[Analyzer], AnalyzerContext]:
    settings = ctx.settings
    vocabulary = load_vocabulary(settings.vocabularyFile)
    actx = AnalyzerContext(settings=settings, vocabulary=vocabulary,
                           references=StashReferences(ctx.api, ctx.store))
    analyzers = build_analyzers(actx)           # unknown names: SettingsError, nothing imported
    if any(a.uses_torch for a in analyzers):
        actx.device = resolve_device(settings.device)
    for analyzer in analyzers:
        started = time.perf_counter()
        analyzer.load()
        log.info(f"loaded {analyzer.name} ({analyzer.model_id}) on {actx.device} "
                 f"in {time.perf_counter() - started:.1f}s")
    return analyzers, actx


def frame_sources(ctx: Context, analyzers: Sequence[Analyzer]) -> dict[str, FrameSource]:
    needed = {a.source for a in analyzers}
    sources: dict[str, FrameSource] = {}
    if "sprite" in needed:
        sources["sprite"] = SpriteSource(ctx.api.client.clone())
    if "video" in needed:
        from .frames.video import VideoSource  # noqa: PLC0415
        sources["video"] = VideoSource.for_context(ctx)
    return sources


def run_batch(ctx: Context, scene_ids: Sequence[str],
              analyzers: Sequence[Analyzer] | None = None) -> dict:
    settings, api, store = ctx.settings, ctx.api, ctx.store
    if analyzers is None:
        analyzers, _ = load_models(ctx)
    sources = frame_sources(ctx, analyzers)     # a missing ffmpeg stops here, before any change
    ledger = Ledger(store)
    check_database(api, ledger, store.path)     # another Stash database: stop before any change
    resolver = TagResolver(api, settings.parentTag, ledger)
    writer = Writer(api, store, resolver, ledger)
    workflow = WorkflowTags.ensure(resolver, settings)
    fetch_api = api.clone()                     # the prefetch thread's own connection
    stats = Stats()
    total = len(scene_ids)
    log.info(f"Stash Sense: {total} scene(s) to analyze with {', '.join(a.name for a in analyzers)}")
    ctx.progress.set(0.0)

    def load(scene_id: str) -> Loaded:
        started = time.perf_counter()
        scene = fetch_api.find_scene(scene_id)
        if scene is None:
            raise SceneError(f"scene {scene_id} does not exist in Stash")
        media = SceneMedia.from_stash(scene)
        frames = {name: src.frames(media) for name, src in sources.items()}
        stats.add("fetch+decode", started)
        return Loaded(scene, media, frames)

    done = 0
    group: list[Loaded] = []

    def flush() -> None:
        nonlocal done
        if not group:
            return
        results = infer(analyzers, group, stats, store)
        for item in group:
            process_scene(ctx, item, analyzers, results[item.media.id], writer, workflow, stats)
            done += 1
            ctx.progress.set(done / total)
        group.clear()

    for scene_id, item, error in Prefetcher(scene_ids, load, depth=GROUP + 1):
        if error is not None:
            if not isinstance(error, SceneError):
                raise error
            fail_scene(ctx, scene_id, None, str(error), writer, workflow, stats)
            done += 1
            ctx.progress.set(done / total)
            continue
        assert item is not None                      # the prefetcher yields an item or an error
        group.append(item)
        if len(group) >= GROUP:
            flush()
    flush()
    ctx.progress.set(1.0)
    timings = {k: round(v, 2) for k, v in stats.seconds.items()}
    log.info(f"Stash Sense: {len(stats.tagged)} tagged, {len(stats.errored)} errored; "
             f"seconds by stage {timings}")
    return {"scenes": total, "tagged": len(stats.tagged), "errored": stats.errored,
            "frames": stats.frames, "seconds": timings, "models": [a.model_id for a in analyzers]}


def infer(analyzers: Sequence[Analyzer], group: list[Loaded], stats: Stats, store) -> dict:
    """Run each analyzer once over the frames of every scene in the group; store raw signals."""
    per_scene: dict[str, dict[str, list]] = {item.media.id: {} for item in group}
    for analyzer in analyzers:
        frames = [f for item in group for f in item.frames.get(analyzer.source, [])]
        started = time.perf_counter()
        embeddings = None
        if frames and isinstance(analyzer, EmbeddingAnalyzer):
            signals, embeddings = analyzer.analyze_with_embeddings(frames)
        else:
            signals = analyzer.analyze(frames) if frames else []
        stats.add(f"infer:{analyzer.name}", started)
        if embeddings is not None and isinstance(analyzer, EmbeddingAnalyzer):
            started = time.perf_counter()
            store_embeddings(store, analyzer, group, frames, embeddings)
            stats.add("store", started)
        stats.frames += len(frames)
        by_scene: dict[str, list] = defaultdict(list)
        for frame, sig in zip(frames, signals):
            by_scene[frame.scene_id].append((frame.time, frame.span, sig))
        started = time.perf_counter()
        for item in group:
            rows = by_scene.get(item.media.id, [])
            store.signals.save(item.media.id, analyzer.name, analyzer.model_id, analyzer.source,
                               rows)
            per_scene[item.media.id][analyzer.name] = [s for _, _, sig in rows for s in sig]
        stats.add("store", started)
    return per_scene


def store_embeddings(store, analyzer: EmbeddingAnalyzer, group: list[Loaded], frames: Sequence[Frame],
                     embeddings) -> None:
    """Keep each scene's frame embeddings (and, once per model, how to re-embed text with it)."""
    import numpy as np  # noqa: PLC0415

    from .store.embeddings import EmbeddingStore  # noqa: PLC0415
    vectors = EmbeddingStore(store)
    if analyzer.spec_saved_for != analyzer.model_id:
        vectors.save_model(analyzer.spec)
        prompts = list(analyzer.prompt_vectors)
        vectors.save_prompts(analyzer.model_id, prompts,
                             np.stack([analyzer.prompt_vectors[p] for p in prompts]))
        analyzer.spec_saved_for = analyzer.model_id
    rows: dict[str, list[int]] = defaultdict(list)
    for i, frame in enumerate(frames):
        rows[frame.scene_id].append(i)
    for item in group:
        idx = rows.get(item.media.id, [])
        vectors.save_scene(item.media.id, analyzer.model_id,
                           [(frames[i].time, frames[i].span) for i in idx], embeddings[idx])


def extra_findings(ctx: Context, media: SceneMedia, scene: dict[str, Any],
                   findings: list[Finding]) -> list[Finding]:
    """`findings` plus those that come from stored data rather than a model run: active learned
    tags (the same ones `retag` proposes, so a normal run does not take them back)."""
    from .learn.predict import combine  # noqa: PLC0415 - numpy only
    return combine(findings, ctx.learned.findings(media, scene))


def workflow_settled(workflow: WorkflowTags, tag_ids, review: bool) -> bool:
    """The scene already carries exactly the workflow tags a successful run would leave."""
    ids = workflow.ids
    if ids["tagged"] not in tag_ids or (ids["review"] in tag_ids) != review:
        return False
    return not any(ids[r] in tag_ids for r in ("tagme", "reprocess", "errored"))


def process_scene(ctx: Context, item: Loaded, analyzers: Sequence[Analyzer],
                  signals: dict[str, list], writer: Writer, workflow: WorkflowTags,
                  stats: Stats) -> None:
    media = item.media
    try:
        started = time.perf_counter()
        findings: list[Finding] = []
        for analyzer in analyzers:
            findings.extend(analyzer.findings(media, signals.get(analyzer.name, [])))
        scene = ctx.api.find_scene(media.id) or item.scene   # fresh: the user may have edited it
        findings = extra_findings(ctx, media, scene, findings)
        stats.add("aggregate", started)
        write_findings(ctx, media, scene, findings, writer, workflow, stats,
                       [a.model_id for a in analyzers])
    except SceneError as exc:
        fail_scene(ctx, media.id, media, str(exc), writer, workflow, stats)


def write_findings(ctx: Context, media: SceneMedia, scene: dict[str, Any], findings: list[Finding],
                   writer: Writer, workflow: WorkflowTags, stats: Stats,
                   models: Sequence[str], skip_unchanged: bool = False) -> bool:
    """Plan and write one scene's findings through the one writer (ledger, rejections, review
    mode). With skip_unchanged (re-tagging from stored results) a scene whose plan changes nothing
    in Stash and whose workflow tags are already right costs no Stash write. True if written."""
    store, settings = ctx.store, ctx.settings
    resolver, ledger = writer.resolver, writer.ledger
    started = time.perf_counter()
    state = SceneState.from_stash(scene)
    reconcile(ledger, state)                  # what a killed run left half-done, by evidence
    owned = Owned.from_rows(ledger.rows(media.id))
    owned.gone_tags = gone_tags(resolver, owned.tags, state)
    known = resolver.known([(f.name, f.aliases) for f in findings if f.kind == "tag"])
    raised = raised_thresholds(store.feedback.all()) if settings.learnFromRejections else {}
    plan = make_plan(state, findings, owned, settings, known,
                     store.suggestions.rejected_keys(media.id),
                     incorrect_tag_id=workflow.ids.get("incorrect"),
                     raised_thresholds=raised,
                     accepted=store.suggestions.keys_with_status(media.id,
                                                                 SuggestionStatus.ACCEPTED),
                     rejected_spans=ReviewMemory(store).rejected_spans(media.id),
                     rejected_tag_ids=ledger.rejected_objects(media.id, Kind.TAG))
    for note in plan.notes:
        log.info(f"{media.label}: {note}")
    quiet = (skip_unchanged and not plan.changes_stash and not plan.forget and not plan.release
             and not plan.drop)
    if quiet:
        store.suggestions.sync(media.id, plan.applied, plan.suggestions,
                               owned_keys(ledger, media.id))
    else:
        writer.apply(plan, state)
    review = settings.reviewMode and bool(
        store.suggestions.of_scene(media.id, SuggestionStatus.OPEN))
    if quiet and workflow_settled(workflow, state.tag_ids, review):
        stats.add("plan+write", started)
        return False
    workflow.succeeded(writer, media.id, review=review)
    store.scene_status.set(media.id, ProcessingState.ANALYZED, None, list(models),
                           scene_created_at=state.created_at)
    stats.add("plan+write", started)
    stats.tagged.append(media.id)
    log.debug(f"{media.label}: {plan.summary()}")
    return True


def fail_scene(ctx: Context, scene_id: str, media: SceneMedia | None, reason: str, writer: Writer,
               workflow: WorkflowTags, stats: Stats) -> None:
    label = media.label if media else f"scene {scene_id}"
    log.error(f"{label}: {reason}")
    stats.errored.append({"id": scene_id, "title": media.title if media else "", "reason": reason})
    ctx.store.scene_status.set(scene_id, ProcessingState.ERROR, reason)
    try:
        workflow.failed(writer, scene_id)
    except SceneError as exc:
        log.error(f"{label}: could not mark it {ctx.settings.erroredTag}: {exc}")


__all__ = ["run_batch", "load_models", "FramesUnavailable"]
