"""Embeddings of the simulated arena: hashed vectors, and the time a real server takes.

:func:`hashed_embedding` is what ``POST /v1/embeddings`` answers, for any model name.
:class:`EmbedTiming` is how long it takes to answer, like a real embedding server: a fixed
number of workers with a queue in front of them, a compute time per request and per text,
latency that grows with the requests crowding the server, and, optionally, compute that
keeps a CPU busy instead of sleeping. :class:`EmbedWorkers` runs that model in the server's
event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import time
import zlib
from dataclasses import dataclass

import numpy as np

from wizardarena.exceptions import ValidationError

__all__ = ["EmbedTiming", "EmbedWorkers", "hashed_embedding"]


def hashed_embedding(text: str, *, dim: int = 256) -> np.ndarray:
    """Deterministic embedding: signed hashing of words and character 3-grams, L2-normalised.

    Parameters
    ----------
    text : str
    dim : int, default 256

    Returns
    -------
    numpy.ndarray, shape (dim,), float64
    """
    vec = np.zeros(dim, dtype=np.float64)
    low = text.lower()
    words = re.findall(r"\w+", low)
    feats = [f"w:{w}" for w in words]
    padded = f" {' '.join(words)} "
    feats += [f"c:{padded[i:i + 3]}" for i in range(max(0, len(padded) - 2))]
    for f in feats:
        h = zlib.crc32(f.encode())
        vec[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    norm = float(np.linalg.norm(vec))
    if norm > 0:
        vec /= norm
    return vec


def _burn(seconds: float) -> None:
    """Keep one CPU busy for ``seconds`` of this thread's CPU time (a CPU-bound model)."""
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for _ in range(2000):
            x += 1


@dataclass(frozen=True)
class EmbedTiming:
    """How long the simulated server computes an embeddings request.

    Parameters
    ----------
    seconds_per_text : float, default 0.0
        Compute time per input text.
    workers : int, default 1
        Requests computed at once; the others queue for a free worker, and an abandoned
        request still occupies its worker until computed.
    seconds_per_request : float, default 0.0
        Compute time of every request, besides the time per text.
    contention : float, default 0.0
        A request's compute time grows by this share for every other embeddings request in
        the server (queued or computing) when it starts.
    cpu : bool, default False
        Compute by keeping a CPU busy (one thread per worker) instead of sleeping.
    """

    seconds_per_text: float = 0.0
    workers: int = 1
    seconds_per_request: float = 0.0
    contention: float = 0.0
    cpu: bool = False

    def __post_init__(self) -> None:
        # the messages name the keyword arguments of SimArena, which builds this
        if self.seconds_per_text < 0 or not isinstance(self.workers, int) or self.workers < 1:
            raise ValidationError(
                "embed_seconds_per_text must be >= 0 and embed_workers an integer >= 1; got "
                f"{self.seconds_per_text!r}, {self.workers!r}"
            )
        if not (self.seconds_per_request >= 0 and self.contention >= 0):
            raise ValidationError(
                "embed_seconds_per_request and embed_contention must be >= 0; got "
                f"{self.seconds_per_request!r}, {self.contention!r}")

    @property
    def computes(self) -> bool:
        """Whether a request takes any compute time."""
        return bool(self.seconds_per_text or self.seconds_per_request)

    def seconds(self, n_texts: int, in_server: int) -> float:
        """Compute time of a batch of ``n_texts`` with ``in_server`` requests in the server
        (itself included)."""
        return ((self.seconds_per_request + self.seconds_per_text * n_texts)
                * (1.0 + self.contention * (in_server - 1)))


class EmbedWorkers:
    """The workers of a running server that compute embeddings requests by :class:`EmbedTiming`.

    Parameters
    ----------
    timing : EmbedTiming
    """

    def __init__(self, timing: EmbedTiming) -> None:
        self.timing = timing
        self.slots = asyncio.Semaphore(timing.workers)
        #: embeddings requests in the server, queued or computing
        self.in_server = 0
        # the threads that compute (cpu): one per worker, as a CPU server has
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None

    async def compute(self, n_texts: int) -> None:
        """Wait for a worker, then take the compute time of a batch of ``n_texts``."""
        t = self.timing
        if not t.computes:
            return
        self.in_server += 1
        try:
            async with self.slots:
                seconds = t.seconds(n_texts, self.in_server)
                if t.cpu:
                    if self.pool is None:
                        self.pool = concurrent.futures.ThreadPoolExecutor(
                            t.workers, thread_name_prefix="sim-embed")
                    await asyncio.get_running_loop().run_in_executor(self.pool, _burn, seconds)
                else:
                    await asyncio.sleep(seconds)
        finally:
            self.in_server -= 1

    def close(self) -> None:
        """Let the compute threads end once idle."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
