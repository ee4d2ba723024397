"""Keep BLAS / LAPACK on one thread inside the package's numerical kernels.

The matrices here are small (M × M systems, SVD sketches, k-means distance blocks) or
already processed on our own worker threads, and OpenBLAS's threads spin: on this project's
2-core machines a multi-threaded BLAS was measured 3–10× *slower* on these kernels (a batch
of 131 × 131 solves: 8.85 s vs 0.83 s; 100k-prompt test set: 149 s vs 58 s). Entry points
therefore run under :func:`single_threaded_blas`; the caller's own BLAS settings are restored
on exit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

__all__ = ["single_threaded_blas", "with_single_threaded_blas"]

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS/LAPACK to one thread for the duration of the block."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def with_single_threaded_blas(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`single_threaded_blas`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with single_threaded_blas():
            return func(*args, **kwargs)

    return wrapper
