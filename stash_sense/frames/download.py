"""Downloading one scene file (sprite, VTT) or performer image from Stash, bounded in size and time.

Why bounded: the files come from the user's disk through Stash, and a batch runs unattended for
hours. A VTT of gigabytes (a damaged file), a sprite on a network share that hangs mid-transfer, or
a server trickling one byte a minute (which no per-read timeout catches) must fail that one scene
with a reason, not hold the batch or exhaust memory. A stalled or broken transfer is a problem of
that file (FramesUnavailable); only a Stash that refuses connections stops the task.
"""
from __future__ import annotations

import os
import time

from ..errors import FramesUnavailable, TransferFailed
from ..stash.client import StashClient

CONNECT_TIMEOUT = 10.0
DEADLINE = 120.0            # seconds for a whole file; STASH_SENSE_FETCH_TIMEOUT overrides it
CHUNK = 256 * 1024


def deadline_from_env() -> float:
    """The whole-file deadline: STASH_SENSE_FETCH_TIMEOUT (seconds) for slow links, else DEADLINE."""
    raw = os.environ.get("STASH_SENSE_FETCH_TIMEOUT", "")
    try:
        value = float(raw)
    except ValueError:
        return DEADLINE
    return value if 0 < value < 86400 else DEADLINE


def download(client: StashClient, url: str, what: str, *, max_bytes: int,
             deadline: float | None = None, not_found: str | None = None,
             fix: str = "replace the file") -> bytes:
    """The body of a 200 answer, at most `max_bytes`, within `deadline` seconds in all (default:
    deadline_from_env()).

    Raises FramesUnavailable naming `what` for any other status (`not_found` is the reason given
    for a 404), a body over the limit, or a transfer that stalls, breaks off or runs out of time."""
    deadline = deadline or deadline_from_env()
    started = time.monotonic()
    try:
        response = client.open_stream(url, (CONNECT_TIMEOUT, deadline))
    except TransferFailed:
        raise FramesUnavailable(_stalled(what, deadline)) from None
    with response:
        if response.status == 404 and not_found:
            raise FramesUnavailable(not_found)
        if response.status != 200:
            raise FramesUnavailable(f"Stash answered HTTP {response.status} for the {what}")
        declared = response.headers.get("Content-Length") or ""
        if declared.isdigit() and int(declared) > max_bytes:
            raise FramesUnavailable(_too_big(what, int(declared), max_bytes, fix))
        body = bytearray()
        try:
            for chunk in response.chunks(CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise FramesUnavailable(_too_big(what, None, max_bytes, fix))
                if time.monotonic() - started > deadline:
                    raise FramesUnavailable(_stalled(what, deadline))
        except TransferFailed as exc:   # a read timeout or a connection cut mid-body
            raise FramesUnavailable(f"{_stalled(what, deadline)} ({exc.cause})") from None
    return bytes(body)


def _too_big(what: str, size: int | None, limit: int, fix: str) -> str:
    actual = f" ({size / 2**20:.1f} MiB)" if size else ""
    return (f"the {what} is larger than {limit / 2**20:.0f} MiB{actual}, far larger than a real "
            f"one (a damaged file): {fix}")


def _stalled(what: str, deadline: float) -> str:
    return (f"the transfer of the {what} stalled or took longer than {deadline:.0f}s: check the "
            "disk or network share that holds Stash's generated files")
