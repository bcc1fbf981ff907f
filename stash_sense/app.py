"""Payload -> the mode table -> context -> the mode's handler -> one result dict.

This is the one place where the exception tree becomes the plugin's `{"error": ...}`. The mode
table is data: handlers are imported only when their mode runs, so a hook or a scene-tab operation
never imports torch.
"""
from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import log
from .errors import DependencyMissing, SettingsError, StashSenseError

if TYPE_CHECKING:
    from .context import Context


class Mode:
    """One `args.mode`: where its handler is, and whether it is light.

    Light modes are those Stash waits for — hooks, inside the save or scan that fired them, and
    the scene tab's operations — so they import no torch, numpy or other heavy library, make no
    request beyond what they need (no API-key lookup) and use short timeouts. `precheck`, when
    set, answers from the arguments alone before anything connects to Stash (None: go on).
    (A plain class: a dataclass or NamedTuple would cost the hook's fast path a millisecond.)"""

    __slots__ = ("target", "light", "precheck")

    def __init__(self, target: str, light: bool = False, precheck: str | None = None):
        self.target = target            # "package.module:function", imported only when chosen
        self.light = light
        self.precheck = precheck

    def handler(self) -> Callable[[Context], Any]:
        return _load(self.target)


MODES: dict[str, Mode] = {
    "tag_tagme": Mode("stash_sense.tasks.tag:tag_tagme"),
    "tag_scene": Mode("stash_sense.tasks.tag:tag_scene"),
    "undo": Mode("stash_sense.tasks.undo:undo"),
    "cleanup": Mode("stash_sense.tasks.cleanup:cleanup"),
    "hook": Mode("stash_sense.tasks.hooks:hook", light=True,
                 precheck="stash_sense.tasks.hooks:precheck"),
    "status": Mode("stash_sense.tasks.review:status", light=True),
    "accept": Mode("stash_sense.tasks.review:accept", light=True),
    "reject": Mode("stash_sense.tasks.review:reject", light=True),
    "accept_category": Mode("stash_sense.tasks.review:accept_category", light=True),
    "reject_category": Mode("stash_sense.tasks.review:reject_category", light=True),
    "feedback_report": Mode("stash_sense.tasks.review:feedback_report"),
    "build_gallery": Mode("stash_sense.tasks.gallery:build_gallery"),
    "models": Mode("stash_sense.tasks.models:models"),
    # light although they are tasks: they must run in Stash's own Python before any dependency
    # is installed (the first one installs them)
    "install_deps": Mode("stash_sense.tasks.setup:install_deps", light=True),
    "doctor": Mode("stash_sense.tasks.setup:doctor", light=True),
    "cluster_faces": Mode("stash_sense.tasks.unknown_faces:cluster_faces"),
    "face_groups": Mode("stash_sense.tasks.unknown_faces:face_groups", light=True),
    "name_face_group": Mode("stash_sense.tasks.unknown_faces:name_face_group", light=True),
    "ignore_face_group": Mode("stash_sense.tasks.unknown_faces:ignore_face_group", light=True),
    "retag": Mode("stash_sense.tasks.retag:retag"),
    "evaluate": Mode("stash_sense.tasks.evaluate:evaluate"),
    "learn": Mode("stash_sense.tasks.learn:learn"),
    "reports": Mode("stash_sense.tasks.reports:reports", light=True),
    "similar": Mode("stash_sense.tasks.similar:similar", light=True),
    "search": Mode("stash_sense.tasks.similar:search", light=True),
    "duplicates": Mode("stash_sense.tasks.duplicates:duplicates"),
    "duplicate_groups": Mode("stash_sense.tasks.duplicates:duplicate_groups", light=True),
}


def mode_for(args: dict[str, Any]) -> Mode:
    """The mode `args` asks for; a hook's input names none (Stash sends hookContext instead)."""
    mode = "hook" if args.get("hookContext") and "mode" not in args else args.get("mode")
    if not mode or mode not in MODES:
        known = ", ".join(sorted(MODES))
        raise SettingsError(f"unknown mode {mode!r}; known modes: {known}")
    return MODES[mode]


def handler_for(args: dict[str, Any]) -> Callable[[Context], Any]:
    """The handler `args` asks for, imported (tests check what each mode's import pulls in)."""
    return mode_for(args).handler()


def _load(target: str) -> Any:
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)


def run(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        args = payload.get("args") or {}
        mode = mode_for(args)
        if mode.precheck is not None:
            quick = _load(mode.precheck)(args)
            if quick is not None:
                return {"output": quick}
        handler = mode.handler()     # a missing package is named before Stash is asked anything
        from .context import Context  # noqa: PLC0415 - the HTTP client: not for a precheck
        return {"output": handler(Context.from_payload(payload, light=mode.light))}
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
