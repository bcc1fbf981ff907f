"""Stash's plugin log protocol on stderr.

Each line is `\\x01<level>\\x02<message>`; level is one of t d i w e, and `p` carries job progress as a
float in [0, 1]. Stash reads stderr with a 64 KiB line limit, so long messages are cut. stdout is
reserved for the single JSON result and is never written here.
"""
from __future__ import annotations

import sys
import threading
from typing import TextIO

_MAX_LINE = 60000
_lock = threading.Lock()
_stream: TextIO | None = None  # None -> sys.stderr at call time (tests may swap sys.stderr)
_plain = False  # CLI mode: human-readable lines instead of Stash's control characters


def use_plain_output(plain: bool = True) -> None:
    global _plain
    _plain = plain


def _emit(level: str, message: object) -> None:
    stream = _stream or sys.stderr
    text = str(message)
    with _lock:
        for line in text.splitlines() or [""]:
            line = line[:_MAX_LINE]
            if _plain:
                if level != "p":
                    stream.write(f"[{_NAMES[level]}] {line}\n")
            else:
                stream.write(f"\x01{level}\x02{line}\n")
        stream.flush()


_NAMES = {"t": "trace", "d": "debug", "i": "info", "w": "warning", "e": "error", "p": "progress"}


def trace(msg: object) -> None:
    _emit("t", msg)


def debug(msg: object) -> None:
    _emit("d", msg)


def info(msg: object) -> None:
    _emit("i", msg)


def warning(msg: object) -> None:
    _emit("w", msg)


def error(msg: object) -> None:
    _emit("e", msg)


class Progress:
    """Job-bar progress that never goes backwards and is always inside [0, 1]."""

    def __init__(self) -> None:
        self._last = -1.0

    def set(self, fraction: float) -> None:
        value = min(1.0, max(0.0, float(fraction)))
        if value <= self._last:
            return
        self._last = value
        _emit("p", f"{value:.4f}")

    @property
    def value(self) -> float:
        return max(self._last, 0.0)
