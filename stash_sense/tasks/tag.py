"""Tasks `tag_tagme` (every scene tagged TagMe or Reprocess) and `tag_scene` (args.scene_id)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SettingsError
from ..pipeline import load_models, run_batch
from ..tagging.tags import TagResolver

if TYPE_CHECKING:
    from ..context import Context


def tag_tagme(ctx: Context) -> dict:
    ctx.api.client.enable_api_key_fallback()  # a long batch outlives Stash's one-hour session
    analyzers, _ = load_models(ctx)   # environment problems stop here, before any change
    resolver = TagResolver(ctx.api, ctx.settings.parentTag)
    wanted = [t for t in (resolver.find(n) for n in (ctx.settings.tagMeTag, ctx.settings.reprocessTag))
              if t]
    scene_ids = ctx.api.scene_ids_with_tags(wanted) if wanted else []
    if not scene_ids:
        ctx.progress.set(1.0)
        return {"scenes": 0, "tagged": 0, "errored": [],
                "message": f"no scene carries {ctx.settings.tagMeTag} or {ctx.settings.reprocessTag}"}
    return run_batch(ctx, scene_ids, analyzers)


def tag_scene(ctx: Context) -> dict:
    scene_id = str(ctx.args.get("scene_id") or "").strip()
    if not scene_id:
        raise SettingsError("tag_scene needs args.scene_id (the id of the scene to analyze)")
    ctx.api.client.enable_api_key_fallback()
    analyzers, _ = load_models(ctx)
    return run_batch(ctx, [scene_id], analyzers)
