"""One BLAS thread for everything the stored-results tasks compute (retag, evaluate, learn).

Why: their products are small (one scene's 81 x 512 frames by 512 x labels; a tag's ~4,000 x 512
training rows), so a BLAS thread pool costs more to wake than the work, and on a machine shared
with other processes its threads spin waiting for each other. Measured on the 2-core bench box
under load: scoring one scene's frames took 0.58 ms of CPU with OpenBLAS's 2 threads and 0.05 ms
with one; training 10 tags over 10,000 scenes 16.0 s of CPU with 2 threads and 0.48 s with one
(same models, same cross-validated figures). threadpoolctl comes with scikit-learn; without it
nothing changes.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_blas_thread() -> Iterator[None]:
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
