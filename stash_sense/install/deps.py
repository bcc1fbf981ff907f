"""Build or repair the dependency environment: run the plan from plan.py, with progress, then check
that every analyzer imports in the new environment, then leave the pointer the entry reads.

Shared by the task "Install or repair dependencies" (tasks/setup.py) and `python -m stash_sense
setup` (the Docker recipe runs the same steps at image build time). Standard library only: this runs
in whatever Python Stash has, before any dependency exists. Stash's own Python is never modified:
every pip runs with the environment's interpreter.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .. import log
from ..errors import EnvironmentProblem, SettingsError
from .location import env_python, folder_size, resolve_env_dir, write_pointer
from .machine import Machine, detect_machine
from .pip_progress import PipProgress, worth_logging
from .plan import REQUIREMENTS_FILE, Plan, StepKind, env_state, plan_install, read_requirements

OnProgress = Callable[[float], None]
TAIL_LINES = 15
VENV_HINT = (" This Python cannot create environments: install its venv module (Debian/Ubuntu: "
             "apt-get install python3-venv), then run the task again.")


class InstallFailed(EnvironmentProblem):
    pass


@dataclass(frozen=True)
class InstallRequest:
    plugin_dir: str
    plugins_path: str            # Stash's plugins folder ("" = the plugin folder's parent)
    env_setting: str = ""        # setting envDir
    torch_setting: str = "auto"  # setting torchBuild
    analyzers: tuple[str, ...] = ("clip", "objects", "ocr")


def python_works(python: str) -> bool:
    if not os.path.isfile(python):
        return False
    try:
        return subprocess.run([python, "-c", "import sys, venv"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def base_python(env_dir: str) -> str:
    """The interpreter that creates the venv: never the venv's own python (repairing it)."""
    from .location import running_in  # noqa: PLC0415
    if running_in(env_dir):
        return getattr(sys, "_base_executable", "") or sys.executable
    return sys.executable


def facenet_pin() -> str:
    from ..models.faces import FACENET_PIN  # noqa: PLC0415 - a constant; imports no torch
    return FACENET_PIN


def make_plan(request: InstallRequest, machine: Machine | None = None) -> Plan:
    machine = machine or detect_machine()
    try:
        env_dir = resolve_env_dir(request.env_setting, request.plugins_path, request.plugin_dir)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    requirements = read_requirements(os.path.join(request.plugin_dir, REQUIREMENTS_FILE))
    state = env_state(env_dir, python_works(env_python(env_dir, machine.system)))
    try:
        return plan_install(machine, env_dir=env_dir, state=state, base_python=base_python(env_dir),
                            plugin_dir=request.plugin_dir, requirements=requirements,
                            torch_setting=request.torch_setting, facenet_pin=facenet_pin())
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _die_with_parent() -> None:
    """Linux: pip dies with us. Stash stops a task with SIGKILL of our process only; without this
    a cancelled install would go on downloading in the background."""
    try:
        import ctypes  # noqa: PLC0415
        import signal  # noqa: PLC0415
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort (not Linux, no libc.so.6)
        pass


def run_step(argv: tuple[str, ...], extra_env: dict[str, str], on_line: Callable[[str], None],
             cwd: str) -> tuple[int, list[str]]:
    """Run one command, stdout and stderr merged, one line at a time. (exit code, last lines)"""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)          # Stash's plugins root: not for pip or the new env
    env.update(extra_env)
    env["PYTHONUNBUFFERED"] = "1"
    env["PIP_NO_COLOR"] = "1"
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, cwd=cwd, text=True, errors="replace",
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        tail.append(line)
        on_line(line)
    return proc.wait(), list(tail)


def show(argv: tuple[str, ...]) -> str:
    if argv[1:2] == ("-c",):             # python -c SCRIPT: its text is noise in the log
        argv = argv[:2] + ("<script>",) + argv[3:]
    return " ".join(shlex.quote(a) for a in argv)


def execute(plan: Plan, request: InstallRequest, progress: OnProgress) -> dict:
    """Run every step; stop at the first that fails with its last lines of output."""
    log.info(f"Dependency environment: {plan.env_dir}")
    log.info(f"PyTorch: {plan.torch.value} build — {plan.torch_reason}")
    started, done, verify_report = time.monotonic(), 0.0, {}
    for number, step in enumerate(plan.steps, 1):
        log.info(f"[{number}/{len(plan.steps)}] {step.title}")
        log.debug(show(step.argv))
        pip = PipProgress()
        captured: list[str] = []

        def on_line(line: str, step=step, pip=pip, captured=captured, base=done) -> None:
            if step.kind is StepKind.VERIFY:
                captured.append(line)
                return
            (log.info if worth_logging(line) else log.debug)(line)
            progress(base + step.weight * pip.feed(line))

        os.makedirs(os.path.dirname(plan.env_dir) or ".", exist_ok=True)
        code, tail = run_step(step.argv, step.env, on_line, cwd=request.plugin_dir)
        if step.kind is StepKind.VERIFY:
            verify_report = parse_verify(captured)
        elif code != 0:
            hint = VENV_HINT if step.kind is StepKind.CREATE_ENV and \
                any("ensurepip" in line for line in tail) else ""
            raise InstallFailed(f"{step.title} failed (exit status {code}); nothing else was "
                                f"changed.{hint} Last output: {' | '.join(tail[-6:])}")
        done += step.weight
        progress(done)
    failed = {part: r for part, r in verify_report.items() if not r.get("ok")}
    if "core" in failed or not verify_report:
        raise InstallFailed("the environment was built but its packages do not import: "
                            + "; ".join(f"{p}: {r.get('error')}" for p, r in failed.items()))
    torch_version = verify_report.get("clip", {}).get("versions", {}).get("torch", "")
    pointer = write_pointer(request.plugin_dir, plan.env_dir, plan.python, torch_version)
    for part, result in verify_report.items():
        if result.get("ok"):
            log.info(f"  {part}: imports ({', '.join(f'{k} {v}' for k, v in result['versions'].items())})")
        else:
            (log.error if part in request.analyzers else log.warning)(
                f"  {part}: does NOT import: {result.get('error')}")
    size = folder_size(plan.env_dir)
    log.info(f"Environment ready: {plan.env_dir} ({size / 1e6:.0f} MB) in "
             f"{time.monotonic() - started:.0f} s. Stash Sense now runs with {plan.python}.")
    summary = {"env": plan.env_dir, "python": plan.python, "torch_build": plan.torch.value,
               "torch_reason": plan.torch_reason, "torch": torch_version, "pointer": pointer,
               "size_bytes": size, "analyzers": {p: bool(r.get("ok")) for p, r in verify_report.items()}}
    broken = [p for p in request.analyzers if p in failed]
    if broken:
        raise InstallFailed(f"environment built at {plan.env_dir}, but these enabled analyzers do "
                            f"not import: {', '.join(broken)} (see the log); run the task again, or "
                            "remove them from the analyzers setting")
    return summary


def parse_verify(lines: list[str]) -> dict:
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    log.error("the import check printed no result: " + " | ".join(lines[-6:]))
    return {}
