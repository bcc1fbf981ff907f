"""Decode ahead: a worker thread loads the next scenes' frames into a small bounded queue while the
models work on the current ones. Errors travel with their item and are re-raised in the consumer;
the worker is always joined."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class Prefetcher(Generic[T]):
    def __init__(self, ids: Sequence[str], load: Callable[[str], T], depth: int = 4):
        self._ids = list(ids)
        self._load = load
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="stash-sense-prefetch", daemon=True)

    def _work(self) -> None:
        try:
            for item_id in self._ids:
                if self._stop.is_set():
                    return
                try:
                    item: tuple[str, object, BaseException | None] = (item_id, self._load(item_id), None)
                except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                    item = (item_id, None, exc)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        finally:
            self._queue.put(_DONE)

    def __iter__(self) -> Iterator[tuple[str, T | None, BaseException | None]]:
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                yield item
        finally:
            self._stop.set()
            while self._thread.is_alive():
                try:
                    self._queue.get(timeout=0.1)
                except queue.Empty:
                    pass
            self._thread.join()
