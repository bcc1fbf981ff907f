"""Find-by-look operations (runPluginOperation from ui/search.js):

    {"mode": "similar", "scene_id": "12", "limit": 12}
        -> {"scenes": [{"id", "score", "title", "thumbnail": {url,x,y,w,h,time}}], "model_id", ...}
    {"mode": "search", "query": "red neon bedroom", "limit": 20,
     "tags": [ids], "performers": [ids], "studio": id, "organized": true|false}
        -> {"scenes": [{"id", "score", "title", "moments": [{"time", "score", "thumbnail"}]}], ...}

Both are light modes (app.py). `similar` imports numpy and nothing heavier; `search` imports
torch only for a query it has never seen (the text tower; see similarity/text.py). Each call
first brings the frame index up to date with what analysis stored since (similarity/index.py).
"""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from ..errors import SettingsError

if TYPE_CHECKING:
    from ..context import Context

MAX_LIMIT = 100
HEAVY = ("torch", "open_clip", "requests", "sklearn", "onnxruntime")   # reported: the light path stays light
SCENES_DOC = ("query StashSenseFindScenes($ids: [ID!], $p: FindFilterType) {"
              " findScenes(ids: $ids, filter: $p) { scenes { id title organized"
              " files { duration } paths { sprite vtt } } } }")
FILTER_DOC = ("query StashSenseFindFilter($f: SceneFilterType, $p: FindFilterType) {"
              " findScenes(scene_filter: $f, filter: $p) { count scenes { id } } }")


def _limit(args: dict, default: int) -> int:
    try:
        value = int(args.get("limit") or default)
    except (TypeError, ValueError):
        raise SettingsError(f"limit must be a number, not {args.get('limit')!r}") from None
    return max(1, min(MAX_LIMIT, value))


def _sync_info(index) -> dict[str, Any]:
    r = index.last_sync
    return {"scenes": len(index.scene_ids), "frames": int(len(index.frames)), "added": r.added,
            "removed": r.removed, "rebuilt": r.rebuilt, "compacted": r.compacted}


def open_index(ctx: Context):
    """(FrameIndex of the model with the most stored scenes, or None when nothing is stored)."""
    from ..similarity.index import FrameIndex  # noqa: PLC0415
    from ..store.embeddings import EmbeddingStore  # noqa: PLC0415
    embeddings = EmbeddingStore(ctx.store)
    model_id = ctx.args.get("model_id") or next(iter(embeddings.model_ids()), None)
    if model_id is None:
        return embeddings, None
    return embeddings, FrameIndex.open(embeddings, model_id, ctx.settings.data_dir)


def scenes_by_id(api, ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    data = api.client.execute(SCENES_DOC, {"ids": ids, "p": {"per_page": len(ids)}})
    return {str(s["id"]): s for s in data["findScenes"]["scenes"]}


def filtered_ids(api, args: dict) -> list[str] | None:
    """Scene ids matching the optional Stash filters (None when no filter is set)."""
    f: dict[str, Any] = {}
    if args.get("tags"):
        f["tags"] = {"value": [str(t) for t in args["tags"]], "modifier": "INCLUDES_ALL"}
    if args.get("performers"):
        f["performers"] = {"value": [str(p) for p in args["performers"]],
                           "modifier": "INCLUDES_ALL"}
    if args.get("studio"):
        f["studios"] = {"value": [str(args["studio"])], "modifier": "INCLUDES"}
    if args.get("organized") is not None and args.get("organized") != "":
        f["organized"] = bool(args["organized"])
    if not f:
        return None
    data = api.client.execute(FILTER_DOC, {"f": f, "p": {"per_page": -1}})
    return [str(s["id"]) for s in data["findScenes"]["scenes"]]


def _heavy() -> list[str]:
    return sorted(m for m in HEAVY if m in sys.modules)


def _describe(scene: dict | None, sid: str) -> dict[str, Any]:
    scene = scene or {}
    files = scene.get("files") or [{}]
    return {"id": sid, "title": scene.get("title") or f"Scene {sid}",
            "duration": files[0].get("duration") if files else None}


def similar(ctx: Context) -> dict[str, Any]:
    from ..similarity.similar import similar_scenes  # noqa: PLC0415
    from ..similarity.thumbs import SpriteTiles  # noqa: PLC0415
    sid = str(ctx.args.get("scene_id") or "")
    if not sid:
        raise SettingsError("similar needs scene_id")
    started = time.perf_counter()
    _, index = open_index(ctx)
    if index is None:
        return {"scenes": [], "reason": "no scene has stored embeddings yet (task Tag TagMe scenes "
                "with the clip analyzer)"}
    hits = similar_scenes(index, sid, _limit(ctx.args, 12))
    if hits is None:
        return {"scenes": [], "model_id": index.model_id,
                "reason": "this scene has not been analysed with the clip analyzer yet"}
    scenes = scenes_by_id(ctx.api, [h.scene_id for h in hits])
    tiles = SpriteTiles(ctx.api.client)
    out = []
    for hit in hits:
        if hit.scene_id not in scenes:
            continue                           # deleted in Stash since it was analysed
        scene = scenes[hit.scene_id]
        out.append({**_describe(scene, hit.scene_id), "score": round(hit.score, 4),
                    "thumbnail": tiles.thumbnail(scene, hit.time)})
    return {"scenes": out, "model_id": index.model_id, "heavy_modules": _heavy(),
            "index": _sync_info(index), "seconds": round(time.perf_counter() - started, 3)}


def search(ctx: Context) -> dict[str, Any]:
    from ..similarity.search import allowed_mask  # noqa: PLC0415
    from ..similarity.search import search as run_search  # noqa: PLC0415
    from ..similarity.text import query_vector  # noqa: PLC0415
    from ..similarity.thumbs import SpriteTiles  # noqa: PLC0415
    text = str(ctx.args.get("query") or "").strip()
    if not text:
        raise SettingsError("search needs a query")
    started = time.perf_counter()
    embeddings, index = open_index(ctx)
    if index is None:
        return {"scenes": [], "query": text, "reason": "no scene has stored embeddings yet "
                "(task Tag TagMe scenes with the clip analyzer)"}
    vector, text_path = query_vector(embeddings, index.model_id, text, ctx.settings.model_dir,
                                     ctx.settings.data_dir)
    allowed = allowed_mask(index, filtered_ids(ctx.api, ctx.args))
    moments = max(1, min(10, int(ctx.args.get("moments") or 3)))
    results = run_search(index, vector, _limit(ctx.args, 20), moments, allowed)
    scenes = scenes_by_id(ctx.api, [r.scene_id for r in results])
    tiles = SpriteTiles(ctx.api.client)
    out = []
    for r in results:
        if r.scene_id not in scenes:
            continue
        scene = scenes[r.scene_id]
        out.append({**_describe(scene, r.scene_id), "score": round(r.score, 4),
                    "moments": [{"time": round(m.time, 2), "score": round(m.score, 4),
                                 "thumbnail": tiles.thumbnail(scene, m.time)}
                                for m in r.moments]})
    return {"scenes": out, "query": text, "model_id": index.model_id,
            "text_encoded": text_path.value != "stored", "text_path": text_path.value,
            "heavy_modules": _heavy(),
            "index": _sync_info(index), "seconds": round(time.perf_counter() - started, 3)}
