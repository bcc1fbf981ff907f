"""Task `build_gallery`: the face gallery from the performers already in Stash.

1. Every performer (paged, any number) with a profile image: the image is fetched through
   Performer.image_path with the session's auth, the largest face (MTCNN) is embedded
   (InceptionResnetV1) and stored with the embedding model's id. The image's `t=` stamp (Stash
   bumps it when the image changes) is the version: a rerun skips unchanged performers, so only
   new performers and new images cost model time. Performers deleted from Stash are forgotten.
2. With galleryFromScenes: frames of up to SCENES_PER_PERFORMER scenes each performer is tagged
   in (fewest performers first) add faces that form one cluster with the profile face and are
   closer to it than to anyone else (faces.match.consistent_faces). Each scene is decoded once
   however many performers it has; a scene processed once is not processed again.
Nothing leaves the machine: images come from Stash, the model runs locally.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from .. import log
from ..errors import FramesUnavailable, SceneError
from ..faces.match import consistent_faces
from ..frames.prefetch import Prefetcher
from ..frames.types import SceneMedia
from ..models.device import resolve_device
from ..models.faces import import_facenet
from ..store.faces import FaceStore

if TYPE_CHECKING:
    from ..context import Context

PER_PAGE = 250
SCENES_PER_PERFORMER = 3
MAX_SCENE_FACES = 4          # faces one scene may add to one performer
PROFILE_SHARE = 0.6          # of the progress bar, when scenes follow
MAX_SIDE = 1600              # profile images are decoded at most this large
MAX_IMAGE_BYTES = 64 * 2**20           # a bigger "photo" is a damaged file (issue #8, case 7)
MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485   # Pillow's own bomb limit, as an error


@dataclass
class Summary:
    performers: int = 0
    with_face: int = 0
    without_face: list[str] = field(default_factory=list)
    no_image: int = 0
    unreadable: list[dict[str, str]] = field(default_factory=list)
    skipped_unchanged: int = 0
    processed: int = 0
    removed: int = 0
    from_scenes: int = 0
    scenes_checked: int = 0
    notes: list[str] = field(default_factory=list)


def image_version(performer: dict[str, Any]) -> str | None:
    """The image's version from image_path's `t=` (Stash: the performer's updated_at as Unix
    time), or None when Stash only has its default silhouette (`default=true`)."""
    url = performer.get("image_path") or ""
    if not url:
        return None
    query = parse_qs(urlsplit(url).query)
    if (query.get("default") or [""])[0].lower() == "true":
        return None
    return (query.get("t") or [""])[0] or str(performer.get("updated_at") or "")


def all_performers(api) -> list[dict[str, Any]]:
    """Every performer, snapshotted page by page before any work."""
    out, page = [], 1
    while True:
        _, batch = api.performers_page(page, PER_PAGE)
        out.extend(batch)
        if len(batch) < PER_PAGE:
            return out
        page += 1


def fetch_image(client, url: str) -> Image.Image:
    """GET a Stash image with the session's auth -> RGB. A bad file (HTTP error, too large,
    corrupt, a decompression bomb) -> ValueError: that performer is skipped with the reason."""
    from ..frames.decode import decode_image  # noqa: PLC0415
    from ..frames.download import download  # noqa: PLC0415
    fix = "replace the performer's image in Stash"
    try:
        image = decode_image(download(client, url, "image", max_bytes=MAX_IMAGE_BYTES, fix=fix),
                             "image", fix, max_pixels=MAX_IMAGE_PIXELS,
                             draft=(MAX_SIDE, MAX_SIDE))   # JPEG: decode big photos reduced
    except FramesUnavailable as exc:
        raise ValueError(str(exc)) from None
    image.thumbnail((MAX_SIDE, MAX_SIDE))          # a profile face is large: bound memory/time
    return image


def build_gallery(ctx: Context) -> dict[str, Any]:
    settings = ctx.settings
    import_facenet()
    from ..faces.engine import FaceEngine  # noqa: PLC0415 - imports torch
    device = resolve_device(settings.device)
    engine = FaceEngine.load(settings, device)
    faces = FaceStore(ctx.store)
    performers = all_performers(ctx.api)
    summary = Summary(performers=len(performers))
    summary.removed = faces.forget_performers(p["id"] for p in performers)
    faces.set_names((str(p["id"]), p["name"]) for p in performers)
    log.info(f"face gallery: {len(performers)} performers in Stash, model {engine.model_id}")
    ctx.progress.set(0.0)
    share = PROFILE_SHARE if settings.galleryFromScenes else 1.0
    _profiles(ctx, engine, faces, performers, summary, share)
    if settings.galleryFromScenes:
        _from_scenes(ctx, engine, faces, summary, share)
    ctx.progress.set(1.0)
    counts = faces.counts(engine.model_id)
    log.info(f"face gallery: {summary.with_face} performers with a face, "
             f"{len(summary.without_face)} images without a usable face, {summary.no_image} "
             f"without an image, {summary.skipped_unchanged} unchanged, {summary.from_scenes} "
             f"faces added from scenes; gallery now {counts}")
    if summary.without_face:
        log.info("no usable face in the image of: " + ", ".join(summary.without_face))
    return {"performers": summary.performers, "with_face": summary.with_face,
            "without_face": summary.without_face, "no_image": summary.no_image,
            "unreadable": summary.unreadable, "skipped_unchanged": summary.skipped_unchanged,
            "processed": summary.processed, "removed": summary.removed,
            "from_scenes": summary.from_scenes, "scenes_checked": summary.scenes_checked,
            "model": engine.model_id, "gallery": counts, "notes": summary.notes}


def _profiles(ctx: Context, engine, faces: FaceStore, performers: list[dict], summary: Summary,
              share: float) -> None:
    todo: dict[str, tuple[dict, str]] = {}
    processed_before = faces.performers_with_faces()
    for p in performers:
        pid, version = str(p["id"]), image_version(p)
        if version is None:
            summary.no_image += 1
            if pid in processed_before:
                faces.drop_gallery([pid])         # the image was removed in Stash
            continue
        known = faces.source(pid, "profile", "image", engine.model_id)
        if known is not None and known.version == version:
            summary.skipped_unchanged += 1
            _count(summary, p["name"], known.faces)
            continue
        todo[pid] = (p, version)
    total, done = max(1, len(todo)), 0
    client = ctx.api.client.clone()
    batch: list[tuple[dict, str, Image.Image]] = []

    def load(pid: str) -> Image.Image:
        return fetch_image(client, todo[pid][0]["image_path"])

    def flush() -> None:
        nonlocal done
        detected = engine.detect([img for _, _, img in batch])
        chosen = [(item, found[0]) for item, found in zip(batch, detected) if found]
        emb = engine.embed([face.crop for _, face in chosen])
        by_pid = {item[0]["id"]: (face, emb[k]) for k, (item, face) in enumerate(chosen)}
        for p, version, _ in batch:
            pid = str(p["id"])
            hit = by_pid.get(p["id"])
            note = None if hit else "no face found"
            faces.replace_profile(pid, engine.model_id, version,
                                  [hit[1]] if hit else [], [hit[0].prob] if hit else [], note)
            _count(summary, p["name"], 1 if hit else 0)
            summary.processed += 1
            done += 1
        ctx.progress.set(share * done / total)
        batch.clear()

    for pid, image, error in Prefetcher(list(todo), load, depth=engine.batch_size):
        p, version = todo[pid]
        if error is not None:
            if not isinstance(error, ValueError):
                raise error                      # Stash unreachable etc.: stop the task
            summary.unreadable.append({"id": pid, "name": p["name"], "reason": str(error)})
            log.warning(f"performer {p['name']} ({pid}): image {error}")
            done += 1
            continue
        batch.append((p, version, image))
        if len(batch) >= engine.batch_size:
            flush()
    if batch:
        flush()
    ctx.progress.set(share)


def _count(summary: Summary, name: str, faces: int) -> None:
    if faces:
        summary.with_face += 1
    else:
        summary.without_face.append(name)


def _from_scenes(ctx: Context, engine, faces: FaceStore, summary: Summary, share: float) -> None:
    try:
        from ..frames.video import VideoSource  # noqa: PLC0415
    except ImportError:
        summary.notes.append("galleryFromScenes: full-resolution frames are not available in "
                             "this version; only profile images were used")
        log.warning(summary.notes[-1])
        return
    source = VideoSource.for_context(ctx)
    gallery = faces.gallery(engine.model_id)
    wanted: dict[str, list[str]] = {}        # scene id -> performers to learn from it
    scenes: dict[str, dict] = {}
    for pid in gallery.performer_ids:
        if not len(faces.embeddings(pid, engine.model_id, "profile")):
            continue
        for scene in ctx.api.scenes_of_performer(pid, SCENES_PER_PERFORMER):
            sid = str(scene["id"])
            if faces.source(pid, "scene", sid, engine.model_id) is None:
                wanted.setdefault(sid, []).append(pid)
                scenes[sid] = scene
    if not wanted:
        return
    log.info(f"face gallery: learning from {len(wanted)} scene(s) with tagged performers")

    def load(sid: str):
        media = SceneMedia.from_stash(scenes[sid])
        return media, source.frames(media)

    done = 0
    for sid, item, error in Prefetcher(list(wanted), load, depth=2):
        done += 1
        if error is not None:
            if not isinstance(error, (FramesUnavailable, SceneError)):
                raise error
            log.warning(f"face gallery: scene {sid} skipped: {error}")
            for pid in wanted[sid]:
                faces.add_scene_faces(pid, sid, engine.model_id, [], [], [], note=str(error))
            continue
        assert item is not None                      # the prefetcher yields an item or an error
        _, frames = item
        found = engine.faces_with_embeddings([f.image for f in frames])
        times = [f.time for f, fs in zip(frames, found) for _ in fs]
        probs = [face.prob for fs in found for face, _ in fs]
        emb = np.stack([e for fs in found for _, e in fs]) if times else np.zeros((0, 512))
        summary.scenes_checked += 1
        for pid in wanted[sid]:
            anchor = faces.embeddings(pid, engine.model_id, "profile")
            others = gallery.matrix[gallery.owners != gallery.performer_ids.index(pid)]
            rule = _rule(ctx, engine.model_id)
            # joining the gallery asks more than a match: halfway from the threshold to `strong`
            keep = consistent_faces(anchor, emb, rule, others,
                                    agree=(rule.threshold + rule.strong) / 2)
            keep = sorted(keep, key=lambda i: -float(emb[i] @ anchor.mean(axis=0)))[:MAX_SCENE_FACES]
            faces.add_scene_faces(pid, sid, engine.model_id, [emb[i] for i in keep],
                                  [probs[i] for i in keep], [times[i] for i in keep])
            summary.from_scenes += len(keep)
        ctx.progress.set(share + (1.0 - share) * done / len(wanted))


def _rule(ctx: Context, model_id: str):
    from ..analyzers.faces import rule_from_settings  # noqa: PLC0415
    return rule_from_settings(ctx.settings, model_id)
