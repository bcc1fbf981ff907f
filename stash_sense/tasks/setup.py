"""Tasks "Install or repair dependencies" (mode `install_deps`) and "Check setup" (mode `doctor`).

Both are light modes (app.py) — standard library only — because they must work in Stash's own
Python before any dependency exists (the first is how the dependencies get there).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import Context

PATHS_QUERY = "query StashSenseSetupPaths { configuration { general { pluginsPath } } }"


def plugins_path(ctx: Context) -> str:
    data = ctx.api.client.execute(PATHS_QUERY)
    return str(((data.get("configuration") or {}).get("general") or {}).get("pluginsPath") or "")


def install_deps(ctx: Context) -> dict[str, Any]:
    from ..install.deps import InstallRequest, execute, make_plan  # noqa: PLC0415
    s = ctx.settings
    request = InstallRequest(plugin_dir=s.plugin_dir, plugins_path=plugins_path(ctx),
                             env_setting=s.envDir, torch_setting=s.torchBuild,
                             analyzers=s.analyzers)
    ctx.progress.set(0.0)
    result = execute(make_plan(request), request, ctx.progress.set)
    ctx.progress.set(1.0)
    return result


def doctor(ctx: Context) -> dict[str, Any]:
    from ..install.doctor import report, run_checks  # noqa: PLC0415
    checks = run_checks(ctx.settings, plugins_path=plugins_path(ctx), client=ctx.api.client)
    return report(checks)
