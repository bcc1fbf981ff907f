#!/usr/bin/env python3
"""Stash Sense entry point. Stash runs this with JSON on stdin; we print exactly one JSON object
({"output": ...} or {"error": ...}) on stdout. Logs go to stderr with Stash's level prefixes.

Standard library only, and it imports nothing of ours before deciding which Python runs us: once
the task "Install or repair dependencies" has built Stash Sense's own environment, it leaves
`python_env.json` here, and every run started by Stash's Python re-runs itself with that
environment's interpreter (so Stash's own Python is never modified). The check is one small file
read; stdin is not touched before the switch, so the payload reaches the new interpreter intact.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # Stash's cwd is not our folder

ENV_POINTER = "python_env.json"       # stash_sense/install/location.py POINTER_NAME
REEXEC_FLAG = "STASH_SENSE_IN_ENV"    # stash_sense/install/location.py REEXEC_FLAG


def environment_python():
    """The environment's interpreter when we should switch to it, else None."""
    if os.environ.get(REEXEC_FLAG):
        return None                   # already switched once: never loop
    try:
        with open(os.path.join(HERE, ENV_POINTER), encoding="utf-8") as handle:
            pointer = json.load(handle)
        env, python = str(pointer["env"]), str(pointer["python"])
    except (OSError, ValueError, KeyError, TypeError):
        return None                   # no environment yet: run here, missing packages are named
    if not os.path.isfile(python):
        return None
    if os.path.normcase(os.path.realpath(sys.prefix)) == os.path.normcase(os.path.realpath(env)):
        return None                   # this interpreter is the environment's
    return python


def switch_to(python):
    """Run this script again with `python`. On POSIX exec replaces this process (same pid, so
    Stash's Stop still kills the worker; stdin/stdout/stderr are the same pipes). Elsewhere a
    child with the inherited pipes, and its exit code. Returns only if exec itself failed."""
    os.environ[REEXEC_FLAG] = "1"
    argv = [python, os.path.abspath(__file__)] + sys.argv[1:]
    if os.name == "posix":
        try:
            os.execv(python, argv)
        except OSError as exc:
            os.environ.pop(REEXEC_FLAG, None)
            sys.stderr.write(f"\x01w\x02cannot start {python} ({exc}); running with "
                             f"{sys.executable}\n")
            return None
    import subprocess
    return subprocess.call(argv)


def main() -> int:
    python = environment_python()
    if python:
        code = switch_to(python)
        if code is not None:
            return code
    raw = sys.stdin.read() if not sys.stdin.isatty() else ""
    try:
        payload = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        sys.stdout.write(json.dumps({"error": f"stdin is not the JSON Stash sends: {exc}"}) + "\n")
        return 0
    # stdout belongs to Stash and must carry only our JSON: anything a library prints (to Python's
    # stdout or straight to file descriptor 1) is sent to stderr instead, where Stash logs it.
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from stash_sense.app import run  # after sys.path is set
    result = run(payload)
    with os.fdopen(result_fd, "w") as out:
        out.write(json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
