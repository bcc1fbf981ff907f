"""Fetch one weight file into the model directory, with progress, atomically.

Why our own downloader instead of each library's: ultralytics downloads into the current directory
(Stash's cwd, not ours) and facenet-pytorch into torch's hub cache; we want every weight in
`modelDir`, a progress bar on Stash's Tasks page, and — when the machine is offline — one message
that names the URL and the exact path to put the file at. A download goes to `<target>.part` and is
renamed only when complete, so a killed task never leaves a truncated weight that looks present.
"""
from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request
from typing import Callable

from .. import log
from ..errors import ModelUnavailable

CHUNK = 1 << 20
TIMEOUT = 30  # seconds without data before giving up


def offline_hint(url: str, target: str, then: str = "") -> str:
    return (f"download {url} on a machine with internet access and place it at {target} "
            f"(create the folder if needed){', ' + then if then else ''}, then run the task again")


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def fetch(url: str, target: str, *, min_bytes: int = 100_000,
          progress: Callable[[float], None] | None = None, what: str = "") -> str:
    """Download `url` to `target` unless it is already there. Returns `target`.

    Raises ModelUnavailable naming the URL and `target` when the download fails for any reason
    (no network, HTTP error, a file too small to be a weight)."""
    if os.path.isfile(target):
        return target
    label = what or os.path.basename(target)
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    part = target + ".part"
    log.info(f"downloading {label} from {url} to {target}")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "stash-sense"})
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            done, last_report = 0, 0.0
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                now = time.monotonic()
                if total and progress:
                    progress(done / total)
                if now - last_report >= 2.0:
                    last_report = now
                    share = f" ({100 * done / total:.0f} %)" if total else ""
                    log.info(f"{label}: {human_size(done)} of {human_size(total)}{share}")
        if total is not None and done != total:
            raise OSError(f"connection closed after {done} of {total} bytes")
        if done < min_bytes:
            raise OSError(f"only {done} bytes received; that is not a weight file")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        _remove(part)
        reason = getattr(exc, "reason", None) or exc
        raise ModelUnavailable(f"could not download {label} from {url} ({type(exc).__name__}: "
                               f"{reason}). Offline? {offline_hint(url, target)}") from None
    except BaseException:
        _remove(part)
        raise
    shutil.move(part, target)
    log.info(f"{label}: downloaded {human_size(os.path.getsize(target))} to {target}")
    if progress:
        progress(1.0)
    return target


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
