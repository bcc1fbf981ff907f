"""Benchmark: how long Stash waits for Stash Sense's hooks (a figure, never an assertion).

Stash runs hooks synchronously: a scene save (and each scene update a task makes) waits until the
hook process exits. Each case below runs the real plugin process N times the way Stash does, against
the stand-in, and prints the median and 90th percentile wall time:

    own update      Scene.Update.Post fired by the plugin's own write (the most frequent case):
                    answered from the input alone, without importing the HTTP client
    user, no TagMe  the user added some other tag: one tag lookup
    user adds TagMe the user added TagMe: tag lookup + runPluginTask (the task itself is queued)
    new scene       Scene.Create.Post with autoTagNew on: adds TagMe, which fires the plugin's
                    own-update hook inside (so it includes one nested hook run)
    status op       runPluginOperation {"mode": "status"} for the scene tab

The time is taken to the exit of the process (a blocking wait, as Stash's Go side waits), not
through the runner's polling wait, whose growing sleeps round every figure up to one of 36, 68,
120, 170, 220 ms. The nested hook inside "new scene" is run by the stand-in, with that polling.

Run: python -m tests.bench_hooks [runs]   (from the repository root)
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e import configure
from tests.standin.runner import attach_plugin, start_plugin
from tests.standin.server import FakeStash


def run_timed(stash, args: dict, hook_context: dict | None = None) -> float:
    """Milliseconds from starting the plugin process to its exit; fails on an error answer."""
    started = time.perf_counter()
    process = start_plugin(stash, args, hook_context=hook_context)
    process.popen.wait()
    elapsed = (time.perf_counter() - started) * 1000
    run = process.wait()
    assert run.error is None, run.log_text()
    return elapsed


def measure(label: str, runs: int, once) -> None:
    times = sorted(once() for _ in range(runs))
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    print(f"{label:<16} median {statistics.median(times):6.0f} ms   p90 {p90:6.0f} ms   (n={runs})")


def main(runs: int = 20) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    with FakeStash() as stash:
        tagme = stash.add_tag("StashSense_TagMe")
        other = stash.add_tag("Outdoor")
        sid = stash.add_scene(title="bench")
        configure(stash, tmp, autoTagNew=True)
        attach_plugin(stash, run_tasks=False)

        def hook(context):
            return lambda: run_timed(stash, {"mode": "hook"}, context)

        own = {"id": sid, "type": "Scene.Update.Post",
               "input": {"clientMutationId": "stash_sense", "ids": [sid],
                         "tag_ids": {"ids": [tagme], "mode": "ADD"}},
               "inputFields": ["clientMutationId", "ids", "tag_ids"]}
        user_other = {"id": sid, "type": "Scene.Update.Post",
                      "input": {"id": sid, "tag_ids": [other]}, "inputFields": ["id", "tag_ids"]}
        user_tagme = {"id": sid, "type": "Scene.Update.Post",
                      "input": {"ids": [sid], "tag_ids": {"ids": [tagme], "mode": "ADD"}},
                      "inputFields": ["ids", "tag_ids"]}
        print(f"Stash Sense hook path, {runs} runs each (python {sys.version.split()[0]})")
        measure("own update", runs, hook(own))
        measure("user, no TagMe", runs, hook(user_other))
        measure("user adds TagMe", runs, hook(user_tagme))
        measure("new scene", runs, lambda: hook({"id": stash.add_scene(title="new"),
                                                 "type": "Scene.Create.Post", "input": None})())
        measure("status op", runs, lambda: run_timed(stash, {"mode": "status", "scene_id": sid}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
