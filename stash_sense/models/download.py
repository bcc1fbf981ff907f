"""The one downloader: fetch a weight file into the model directory, with progress, atomically.

Why our own downloader instead of each library's: ultralytics downloads into the current directory
(Stash's cwd, not ours) and facenet-pytorch into torch's hub cache; we want every weight in
`modelDir`, a progress bar on Stash's Tasks page, and — when the machine is offline — one message
that names the URL and the exact path to put the file at. A download goes to `<target>.part` and is
renamed only when complete, so a killed task never leaves a truncated weight that looks present.
Standard library only (urllib): every model family fetches through `fetch`, none brings a client.
"""
from __future__ import annotations

import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from .. import log
from ..errors import ModelUnavailable

CHUNK = 1 << 20
CONNECT_TIMEOUT = 15   # seconds to reach the host (each redirect hop)
READ_TIMEOUT = 60      # seconds without data once the transfer runs
MIN_BYTES = 100_000    # anything smaller is an error page, not a weight

OnProgress = Callable[[float], None]


def offline_hint(url: str, target: str, then: str = "") -> str:
    return (f"download {url} on a machine with internet access and place it at {target} "
            f"(create the folder if needed){', ' + then if then else ''}, then run the task again")


def reachable(url: str) -> bool:
    """Can the URL's host be resolved? A cheap check before a client with long retries."""
    try:
        socket.getaddrinfo(urlsplit(url).hostname or "", 443)
        return True
    except OSError:
        return False


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def fetch(url: str, target: str, *, min_bytes: int = MIN_BYTES, progress: OnProgress | None = None,
          what: str = "", then: str = "") -> str:
    """Download `url` to `target` unless it is already there. Returns `target`.

    Raises ModelUnavailable naming the URL and `target` (plus `then`, another way out, e.g. a
    setting to point elsewhere) when the download fails for any reason: no network, HTTP error,
    a stalled or cut transfer, a file too small to be a weight. Folder and file are owner-only,
    like every file the plugin writes."""
    if os.path.isfile(target):
        return target
    label = what or os.path.basename(target)
    part = target + ".part"
    log.info(f"downloading {label} from {url} to {target}")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(target)), mode=0o700, exist_ok=True)
        request = urllib.request.Request(url, headers={"User-Agent": "stash-sense"})
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT) as response, \
                os.fdopen(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            _set_read_timeout(response)
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
                               f"{reason}). Offline? {offline_hint(url, target, then)}") from None
    except BaseException:
        _remove(part)
        raise
    os.replace(part, target)
    log.info(f"{label}: downloaded {human_size(os.path.getsize(target))} to {target}")
    if progress:
        progress(1.0)
    return target


def _set_read_timeout(response: object) -> None:
    """urlopen has one timeout for connecting and reading; once connected, a large file on a slow
    line may pause longer than a host may take to answer, so reads get their own limit."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(READ_TIMEOUT)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
