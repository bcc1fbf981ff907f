"""Benchmark: what the switch to Stash Sense's own environment costs a hook (a figure, never an
assertion). The entry started by Stash's Python reads python_env.json and exec()s the
environment's interpreter, so every run pays one more interpreter start-up. Runs the real plugin
process the way Stash does (stand-in, installed package folder), alternating the two cases in the
same run so machine load hits both alike:

    direct    no environment: Stash's Python runs the plugin
    switched  python_env.json points at a venv: Stash's Python re-runs the entry in it

for the "own update" hook (answered from the input alone, the most frequent hook) and the scene
tab's status operation (one GraphQL round trip and the store).

Run: python -m tests.bench_reexec [runs]   (from the repository root)
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from stash_sense.install.location import POINTER_NAME, write_pointer
from stash_sense.install.package import build
from tests.e2e import configure
from tests.standin.runner import run_plugin
from tests.standin.server import FakeStash

ROOT = Path(__file__).resolve().parents[1]


def main(runs: int = 15) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-reexec-"))
    package = build(ROOT, tmp / "source")
    folder = tmp / "plugins" / "stash_sense"
    with zipfile.ZipFile(package.zip_path) as archive:
        archive.extractall(folder)
    env = tmp / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    with FakeStash() as stash:
        tagme = stash.add_tag("StashSense_TagMe")
        sid = stash.add_scene(title="bench")
        configure(stash, tmp)
        own = {"id": sid, "type": "Scene.Update.Post",
               "input": {"clientMutationId": "stash_sense", "ids": [sid],
                         "tag_ids": {"ids": [tagme], "mode": "ADD"}},
               "inputFields": ["clientMutationId", "ids", "tag_ids"]}
        cases = {"own update hook": lambda: run_plugin(stash, {"mode": "hook"}, hook_context=own,
                                                       plugin_dir=folder),
                 "status op": lambda: run_plugin(stash, {"mode": "status", "scene_id": sid},
                                                 plugin_dir=folder)}
        print(f"re-exec overhead, {runs} runs per case, alternating (python "
              f"{sys.version.split()[0]}; load average {open('/proc/loadavg').read().split()[:3]})")
        for label, once in cases.items():
            times: dict[str, list[float]] = {"direct": [], "switched": []}
            for _ in range(runs):
                for mode in ("direct", "switched"):
                    pointer = folder / POINTER_NAME
                    if mode == "switched":
                        write_pointer(str(folder), str(env), str(python), "")
                    elif pointer.exists():
                        pointer.unlink()
                    started = time.perf_counter()
                    run = once()
                    times[mode].append((time.perf_counter() - started) * 1000)
                    assert run.error is None, run.log_text()
            direct, switched = (statistics.median(times[m]) for m in ("direct", "switched"))
            print(f"{label:<16} direct {direct:5.0f} ms   switched {switched:5.0f} ms   "
                  f"overhead {switched - direct:+5.0f} ms ({switched / direct:.2f}x)")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
