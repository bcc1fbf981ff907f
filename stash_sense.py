#!/usr/bin/env python3
"""Stash Sense entry point. Stash runs this with JSON on stdin; we print exactly one JSON object
({"output": ...} or {"error": ...}) on stdout. Logs go to stderr with Stash's level prefixes."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # Stash's cwd is not our folder


def main() -> int:
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
