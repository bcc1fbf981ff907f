"""Payload -> context -> the handler for `args.mode` (or the hook handler) -> one result dict.

This is the one place where the exception tree becomes the plugin's `{"error": ...}`. Handlers are
imported lazily so a hook or a UI operation never imports torch.
"""
from __future__ import annotations

import importlib
import traceback
from typing import TYPE_CHECKING, Any, Callable

from . import log
from .errors import DependencyMissing, SettingsError, StashSenseError

if TYPE_CHECKING:
    from .context import TaskContext

MODES: dict[str, str] = {
    "tag_tagme": "stash_sense.tasks.tag:tag_tagme",
    "tag_scene": "stash_sense.tasks.tag:tag_scene",
    "undo": "stash_sense.tasks.undo:undo",
    "cleanup": "stash_sense.tasks.cleanup:cleanup",
    "hook": "stash_sense.tasks.hooks:hook",
    "status": "stash_sense.tasks.review:status",
    "accept": "stash_sense.tasks.review:accept",
    "reject": "stash_sense.tasks.review:reject",
    "accept_category": "stash_sense.tasks.review:accept_category",
    "reject_category": "stash_sense.tasks.review:reject_category",
    "feedback_report": "stash_sense.tasks.review:feedback_report",
    "build_gallery": "stash_sense.tasks.gallery:build_gallery",
    "models": "stash_sense.tasks.models:models",
    "install_deps": "stash_sense.tasks.setup:install_deps",
    "doctor": "stash_sense.tasks.setup:doctor",
    "cluster_faces": "stash_sense.tasks.unknown_faces:cluster_faces",
    "face_groups": "stash_sense.tasks.unknown_faces:face_groups",
    "name_face_group": "stash_sense.tasks.unknown_faces:name_face_group",
    "ignore_face_group": "stash_sense.tasks.unknown_faces:ignore_face_group",
    "retag": "stash_sense.tasks.retag:retag",
    "evaluate": "stash_sense.tasks.evaluate:evaluate",
    "learn": "stash_sense.tasks.learn:learn",
    "reports": "stash_sense.tasks.reports:reports",
    "similar": "stash_sense.tasks.similar:similar",
    "search": "stash_sense.tasks.similar:search",
    "duplicates": "stash_sense.tasks.duplicates:duplicates",
    "duplicate_groups": "stash_sense.tasks.duplicates:duplicate_groups",
}


def handler_for(args: dict[str, Any]) -> Callable[[TaskContext], Any]:
    mode = "hook" if args.get("hookContext") and "mode" not in args else args.get("mode")
    if not mode or mode not in MODES:
        known = ", ".join(sorted(MODES))
        raise SettingsError(f"unknown mode {mode!r}; known modes: {known}")
    module_name, _, func = MODES[mode].partition(":")
    return getattr(importlib.import_module(module_name), func)


def run(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        args = payload.get("args") or {}
        handler = handler_for(args)
        standalone = getattr(handler, "standalone", None)
        if standalone is not None:   # hooks, scene-tab operations: stdlib client (stash/light.py)
            return {"output": standalone(payload)}
        from .context import TaskContext  # noqa: PLC0415 - requests is imported only when needed
        ctx = TaskContext.from_payload(payload)
        return {"output": handler(ctx)}
    except StashSenseError as exc:
        log.error(str(exc))
        return {"error": str(exc)}
    except ImportError as exc:   # a package not in this Python: name the task that installs it
        message = str(DependencyMissing(exc.name or str(exc), "python -m pip install -r "
                                        "requirements-plugin.txt"))
        log.error(message)
        return {"error": message}
    except Exception as exc:  # noqa: BLE001 - a bug: report it with a trace, never crash silently
        log.error(traceback.format_exc())
        return {"error": f"internal error ({type(exc).__name__}: {exc}); see Stash's log"}
