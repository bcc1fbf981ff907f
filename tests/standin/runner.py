"""Run the real plugin process exactly the way Stash runs a raw Python plugin.

``pkg/plugin/raw.go`` + ``pkg/python``: new process per invocation, cwd is
Stash's cwd (NOT the plugin dir), ``PYTHONPATH`` gets the parent of the plugin
dir appended, the input JSON is written to stdin which is then closed, stdout
is read to EOF and decoded as ``{"output", "error"}`` (non-JSON stdout becomes
the raw ``output``), stderr is parsed line by line as the ``\\x01<lvl>\\x02msg``
log protocol, and Stop is a SIGKILL.  Nothing is unbuffered for the plugin:
if it does not flush its logs, they arrive late here too.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .filters import StashError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "stash_sense.py"
LEVELS = {"t": "trace", "d": "debug", "i": "info", "w": "warning", "e": "error", "p": "progress"}
MAX_LINE = 64 * 1024              # Go bufio.Scanner default max token size
MAX_HOOK_DEPTH = 10               # pkg/plugin maxCyclicLoopDepth
_GO_SIGNALS = {signal.SIGKILL: "killed", signal.SIGTERM: "terminated",
               signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
               signal.SIGINT: "interrupt"}


@dataclass
class PluginRun:
    """What Stash saw of one plugin process."""
    returncode: int | None
    output: object
    error: str | None
    logs: list[tuple[str, str]]          # (level char or "unprefixed", message)
    progress: list[float]
    stdout_raw: str
    stderr_raw: str
    duration_s: float
    stdout_was_json: bool
    killed: bool = False
    stderr_overflow: bool = False
    args: dict = field(default_factory=dict)

    def messages(self, level: str) -> list[str]:
        """Messages of one level: "t" "d" "i" "w" "e" "p" (or names) or "unprefixed"."""
        level = {v: k for k, v in LEVELS.items()}.get(level, level)
        return [m for lv, m in self.logs if lv == level]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.error

    def log_text(self) -> str:
        return "\n".join(f"[{lv}] {m}" for lv, m in self.logs)


def parse_output(stdout: str) -> tuple[object, str | None, bool]:
    """Go's json.Unmarshal into PluginOutput{Output any; Error *string}: keys match
    case-insensitively, unknown keys are ignored, a non-object or a non-string error
    fails the decode -> the whole stdout becomes ``output``."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return stdout, None, False
    if not isinstance(data, dict):
        return stdout, None, False
    lowered = {k.lower(): v for k, v in data.items()}
    err = lowered.get("error")
    if err is not None and not isinstance(err, str):
        return stdout, None, False
    return lowered.get("output"), err, True


def parse_log_line(line: str) -> tuple[str, str]:
    """pkg/logger/plugin.go DetectLogLevel."""
    if len(line) >= 4 and line[0] == "\x01" and line[2] == "\x02" and line[1] in LEVELS:
        return line[1], line[3:].strip()
    return "unprefixed", line


def _go_exit_error(code: int) -> str:
    if code < 0:
        sig = signal.Signals(-code)
        return f"signal: {_GO_SIGNALS.get(sig, sig.name.lower())}"
    return f"exit status {code}"


class PluginProcess:
    """A running plugin: live ``logs``/``progress``, ``kill()`` (SIGKILL), ``wait()``."""

    def __init__(self, cmd: list[str], payload: dict, env: dict, cwd: str, *,
                 on_progress: Callable[[float], None] | None = None,
                 cleanup_cwd: bool = False):
        self.args = payload.get("args", {})
        self.logs: list[tuple[str, str]] = []
        self.progress: list[float] = []
        self.stderr_overflow = False
        self.killed = False
        self._on_progress = on_progress
        self._cwd, self._cleanup_cwd = cwd, cleanup_cwd
        self._stdout = b""
        self._stderr = bytearray()
        self._start = time.monotonic()
        self.popen = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, cwd=cwd, env=env)
        data = json.dumps(payload).encode()
        self._threads = [threading.Thread(target=f, daemon=True, args=a) for f, a in (
            (self._write_stdin, (data,)), (self._read_stdout, ()), (self._read_stderr, ()))]
        for t in self._threads:
            t.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _write_stdin(self, data: bytes) -> None:
        try:
            self.popen.stdin.write(data)
        except OSError:
            pass
        finally:
            try:
                self.popen.stdin.close()
            except OSError:
                pass

    def _read_stdout(self) -> None:
        self._stdout = self.popen.stdout.read()

    def _read_stderr(self) -> None:
        stream = self.popen.stderr
        while True:
            raw = stream.readline(MAX_LINE + 1)
            if not raw:
                break
            self._stderr += raw
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                # Stash's scanner gives up on a >64 KiB line and closes the pipe:
                # the plugin's next stderr write fails with a broken pipe.
                self.stderr_overflow = True
                self.logs.append(("e", "FakeStash: stderr line longer than 64 KiB; "
                                       "Stash stops reading plugin logs here"))
                stream.close()
                return
            level, msg = parse_log_line(raw.decode("utf-8", "replace").rstrip("\n").rstrip("\r"))
            self.logs.append((level, msg))
            if level == "p":
                try:
                    value = float(msg)
                except ValueError:
                    continue
                self.progress.append(value)
                if self._on_progress:
                    self._on_progress(value)

    def kill(self) -> None:
        """Stash's Stop / job cancel: SIGKILL of the process only (children are orphaned)."""
        self.killed = True
        try:
            self.popen.kill()
        except ProcessLookupError:
            pass

    def wait_for(self, predicate: Callable[[PluginProcess], bool], timeout: float = 60) -> bool:
        """Poll until ``predicate(self)`` (e.g. ``lambda p: p.progress``) or the process ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            if self.popen.poll() is not None:
                return predicate(self)
            time.sleep(0.02)
        return False

    def wait(self, timeout: float | None = 600) -> PluginRun:
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.popen.wait()
            for t in self._threads:
                t.join(timeout=5)
            tail = "\n".join(f"[{lv}] {m}" for lv, m in self.logs[-20:])
            raise TimeoutError(f"plugin still running after {timeout}s; last logs:\n{tail}") from None
        for t in self._threads:
            t.join(timeout=10)
        if self._cleanup_cwd:
            shutil.rmtree(self._cwd, ignore_errors=True)
        stdout = self._stdout.decode("utf-8", "replace")
        output, error, was_json = parse_output(stdout)
        if code != 0 and error is None:
            error = _go_exit_error(code)
        return PluginRun(returncode=code, output=output, error=error, logs=list(self.logs),
                         progress=list(self.progress), stdout_raw=stdout,
                         stderr_raw=self._stderr.decode("utf-8", "replace"),
                         duration_s=time.monotonic() - self._start, stdout_was_json=was_json,
                         killed=self.killed, stderr_overflow=self.stderr_overflow,
                         args=self.args)


def plugin_env(plugin_dir: Path, env: dict | None = None) -> dict:
    """os.Environ() + overrides, with PYTHONPATH=<existing>:<parent of plugin dir>."""
    out = dict(os.environ)
    out.update(env or {})
    parent = str(Path(plugin_dir).resolve().parent)
    existing = out.get("PYTHONPATH")
    out["PYTHONPATH"] = f"{existing}{os.pathsep}{parent}" if existing else parent
    return out


def resolve_python(stash) -> str:
    """exec[0] "python": Stash uses config pythonPath when it is an existing file."""
    configured = stash.general.get("pythonPath") or ""
    return configured if os.path.isfile(configured) else sys.executable


def start_plugin(stash, args: dict, *, plugin_dir: str | Path = REPO_ROOT,
                 env: dict | None = None, hook_context: dict | None = None,
                 script: str = SCRIPT, python: str | None = None, visited=(),
                 cwd: str | None = None,
                 on_progress: Callable[[float], None] | None = None) -> PluginProcess:
    """Spawn the plugin (without waiting).  ``hook_context`` = {"id", "type", "input",
    "inputFields"} becomes ``args["hookContext"]`` (id omitted when 0, inputFields when empty).
    ``python`` defaults to the stand-in's pythonPath config if set, else this interpreter."""
    plugin_dir = Path(plugin_dir).resolve()
    python = python or resolve_python(stash)
    args = dict(args)
    if hook_context is not None:
        hc = {"type": hook_context["type"], "input": hook_context.get("input")}
        if hook_context.get("id"):
            hc = {"id": int(hook_context["id"]), **hc}
        if hook_context.get("inputFields"):
            hc["inputFields"] = list(hook_context["inputFields"])
        args["hookContext"] = hc
    payload = {"server_connection": stash.server_connection(plugin_dir, visited=visited),
               "args": args}
    own_cwd = cwd is None
    cwd = cwd or tempfile.mkdtemp(prefix="stash-cwd-")
    return PluginProcess([python, str(plugin_dir / script)], payload,
                         plugin_env(plugin_dir, env), cwd, on_progress=on_progress,
                         cleanup_cwd=own_cwd)


def run_plugin(stash, args: dict, *, plugin_dir: str | Path = REPO_ROOT, env: dict | None = None,
               timeout: float = 600, hook_context: dict | None = None, script: str = SCRIPT,
               python: str | None = None, visited=(),
               on_progress: Callable[[float], None] | None = None) -> PluginRun:
    """Run the plugin to completion and return what Stash would have seen."""
    return start_plugin(stash, args, plugin_dir=plugin_dir, env=env, hook_context=hook_context,
                        script=script, python=python, visited=visited,
                        on_progress=on_progress).wait(timeout)


# ---------------------------------------------------------------- attach to the stand-in
def load_manifest(plugin_dir: Path, plugin_id: str | None) -> tuple[str, dict]:
    """(plugin_id, parsed yml or {}).  The id is the yml file name, like Stash."""
    ymls = sorted(Path(plugin_dir).glob("*.yml"))
    if plugin_id is None:
        plugin_id = ymls[0].stem if len(ymls) == 1 else "stash_sense"
    path = Path(plugin_dir) / f"{plugin_id}.yml"
    try:
        import yaml
    except ImportError:
        return plugin_id, {}
    if not path.is_file():
        return plugin_id, {}
    return plugin_id, yaml.safe_load(path.read_text()) or {}


@dataclass
class AttachedPlugin:
    """Result of :func:`attach_plugin`; ``runs`` collects every PluginRun it started."""
    plugin_id: str
    manifest: dict
    runs: list[PluginRun] = field(default_factory=list)
    skipped_hooks: list[dict] = field(default_factory=list)


def attach_plugin(stash, plugin_dir: str | Path = REPO_ROOT, env: dict | None = None, *,
                  plugin_id: str | None = None, run_tasks: bool | str = True,
                  hooks: bool = True, script: str = SCRIPT, timeout: float = 600
                  ) -> AttachedPlugin:
    """Wire the stand-in's GraphQL to the real plugin, for end-to-end / UI tests.

    * ``runPluginOperation`` spawns the plugin with exactly the given args (no
      defaultArgs) and returns its ``output``; its ``error`` becomes a GraphQL error.
    * ``runPluginTask`` records the job; with ``run_tasks=True`` it runs the task
      synchronously inside the mutation (job READY -> RUNNING -> FINISHED/FAILED),
      with ``run_tasks="background"`` on a single worker thread (Stash runs one job
      at a time; ``stopJob`` SIGKILLs it).  The task's ``defaultArgs`` from the yml
      fill keys missing from ``args_map``.
    * with ``hooks`` and a yml declaring hooks, ``*.Post`` hooks run synchronously
      after the mutation, with Stash's loop cut-off (same plugin+hook visited 10x).
    """
    plugin_dir = Path(plugin_dir).resolve()
    plugin_id, manifest = load_manifest(plugin_dir, plugin_id)
    attached = AttachedPlugin(plugin_id, manifest)
    tasks = {t["name"]: t for t in manifest.get("tasks") or []}
    if manifest:
        stash.register_plugin(
            plugin_id, manifest.get("name"), version=str(manifest.get("version") or ""),
            description=manifest.get("description"),
            tasks=[{"name": t["name"], "description": t.get("description")} for t in tasks.values()],
            hooks=[{"name": h["name"], "description": h.get("description"),
                    "hooks": list(h.get("triggeredBy") or [])} for h in manifest.get("hooks") or []],
            settings=[{"name": k, "display_name": v.get("displayName"),
                       "description": v.get("description"), "type": v.get("type", "STRING")}
                      for k, v in sorted((manifest.get("settings") or {}).items())])

    def run(args, visited, hook_context=None, on_progress=None) -> PluginRun:
        result = run_plugin(stash, args, plugin_dir=plugin_dir, env=env, timeout=timeout,
                            hook_context=hook_context, script=script, visited=visited,
                            on_progress=on_progress)
        attached.runs.append(result)
        return result

    def on_operation(args, cookie):
        result = run(args, stash.visited_hooks(cookie))
        if result.error:
            raise StashError(result.error)
        return result.output

    def execute_job(job):
        name = job.get("task_name")
        args = dict(job.get("args") or {})
        if name is not None and tasks and name not in tasks:
            stash.set_job(job["id"], status="FAILED", error=f"task {name} not found")
            return
        for k, v in ((tasks.get(name) or {}).get("defaultArgs") or {}).items():
            args.setdefault(k, str(v))          # defaultArgs are map[string]string
        stash.set_job(job["id"], status="RUNNING")
        proc = start_plugin(stash, args, plugin_dir=plugin_dir, env=env, script=script,
                            visited=job.get("_visited", []),
                            on_progress=lambda p: stash.set_job(job["id"], progress=p))
        job["_stop"] = proc.kill
        result = proc.wait(timeout)
        attached.runs.append(result)
        if proc.killed:
            stash.set_job(job["id"], status="CANCELLED")
        elif result.error:
            stash.set_job(job["id"], status="FAILED", error=result.error)
        else:
            stash.set_job(job["id"], status="FINISHED", progress=1.0)

    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stash-jobs")

    def on_task(job, cookie):
        if run_tasks == "background":
            worker.submit(execute_job, job)
        elif run_tasks:
            execute_job(job)

    def on_hook(event, visited):
        for hook in manifest.get("hooks") or []:
            if event["type"] not in (hook.get("triggeredBy") or []):
                continue
            key = [plugin_id, event["type"]]
            if sum(1 for v in visited if list(v) == key) >= MAX_HOOK_DEPTH:
                attached.skipped_hooks.append(event)
                continue
            args = {k: str(v) for k, v in (hook.get("defaultArgs") or {}).items()}
            run(args, list(visited) + [key], hook_context=event)

    stash.on_run_plugin_operation = on_operation
    stash.on_run_plugin_task = on_task
    if hooks and manifest.get("hooks"):
        stash.on_hook = on_hook
    return attached
