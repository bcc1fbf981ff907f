"""One BLAS thread for the many tiny per-scene products (81 x 512 by 512 x labels).

Why: a BLAS thread pool costs more to wake than such a product takes, and on a loaded machine its
spinning threads compete with everything else — measured on the 2-core bench box, scoring one
scene's frames took 0.58 ms of CPU with the pool and 0.05 ms with one thread. Large products
(training) keep the pool. threadpoolctl comes with scikit-learn; without it nothing changes.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def one_blas_thread() -> Iterator[None]:
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
