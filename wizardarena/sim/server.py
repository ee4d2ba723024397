"""The simulated arena: an OpenAI-compatible HTTP server on loopback (standard library only).

Quick use (tests run it in a thread, benchmarks in a separate process)::

    from wizardarena.sim import SimArena, SimJudge, SimModel, Faults

    with SimArena({"strong": 1200, "weak": SimModel(1000, verbosity=1.0, markdown=0.8)},
                  judge=SimJudge(position_bias=60.0), rng=0) as sim:
        sim.base_url                 # "http://127.0.0.1:<port>/v1"
        sim.judge_model              # "sim-judge": the model name of the judge
        sim.true_ratings             # pandas Series of the models' skills (Elo scale)
        sim.stats()                  # SimStats: requests / served per (route, key), faults

The routes are in :mod:`wizardarena.sim.app`; the simulation (models, judge, answers,
verdicts) in :mod:`wizardarena.sim.world`; the HTTP in :mod:`wizardarena.sim.http`.

API for other modules (stable)
------------------------------
- **Embeddings** (``POST /v1/embeddings``, any model name): deterministic hashed bag of
  words plus character 3-grams, signed feature hashing into ``dim`` (default 256)
  dimensions, L2-normalised, so texts sharing words get similar vectors
  (:mod:`wizardarena.sim.embeddings`).
- **Extra models**: ``SimArena(..., extra_models={"rater": fn})`` serves ``fn(messages) ->
  str`` (``messages`` is the request's list of ``{"role", "content"}`` dicts) as the chat
  model ``"rater"``; in process mode ``fn`` must be picklable (a module-level function).

Faults (:class:`~wizardarena.sim.faults.Faults`) are drawn per (key, attempt number), so a
retry eventually succeeds: 429 with ``Retry-After``, 500, slow responses, "timeouts" (the
server hangs, then drops the connection without answering), malformed JSON, a 200 that only
carries an ``error`` object, a 200 with empty ``choices``, a 200 far larger than any reply or
one that never ends; and per key (deterministic, not cured by a retry) empty or unparseable
judge verdicts. ``stats()`` counts requests and successfully served responses per (route,
key), where key is ``"<model>:<sha1 of the messages>"``.

What real servers do, imitated (error bodies per ``dialect``, ``"vllm"`` or ``"openai"``:
see :mod:`wizardarena.sim.errors`):

- ``max_context=N``: a chat request whose prompt (4 characters a token) plus ``max_tokens``
  exceeds N tokens gets the server's context-length 400, deterministically per question;
- ``api_key="sk-..."``: requests without that bearer token get the server's 401;
- an unknown model or path gets the server's 404;
- ``echo_key=True``: the received ``Authorization`` value is copied into every field the
  server can put it in (answer and verdict text, ``id``, ``model``, ``system_fingerprint``,
  every error message, a malformed body, an ``X-Echo-Authorization`` response header), as a
  leaky gateway would;
- :func:`closed_port_url`: an address on loopback where nothing listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError
from wizardarena.sim import errors
from wizardarena.sim.app import Handler, State, serve_state
from wizardarena.sim.embeddings import EmbedTiming
from wizardarena.sim.faults import Faults
from wizardarena.sim.world import SimJudge, SimModel

__all__ = ["SimArena", "SimStats", "closed_port_url"]


@dataclass(frozen=True)
class SimStats:
    """Counters of a running :class:`SimArena`.

    Attributes
    ----------
    requests : pandas.DataFrame
        One row per (route, key): columns ``route, key, model, requests, served``
        (``served`` = successful 200 responses with a well-formed body).
    faults : dict of str to int
        Injected faults and error responses by kind (``429``, ``500``, ``timeout``,
        ``malformed``, ``error_200``, ``no_choices``, ``slow``, ``huge_body``,
        ``endless_body``, ``empty_verdict``, ``unparseable``, ``context_length``, ``401``,
        ``404``).
    bad_verdict_keys : frozenset of str
        Judge request keys answered with an empty or unparseable verdict.
    cpu_seconds : float
        CPU time of the server's process so far (its own process with ``process=True``;
        in thread mode, the process it shares with the client).
    """

    requests: pd.DataFrame
    faults: dict[str, int]
    bad_verdict_keys: frozenset[str]
    cpu_seconds: float = 0.0

    def for_model(self, model: str, route: str = "chat") -> pd.DataFrame:
        """Rows of ``requests`` for one model and route."""
        r = self.requests
        return r[(r["model"] == model) & (r["route"] == route)]


def _child_main() -> None:  # pragma: no cover (runs in the child process)
    """Entry point of process mode: read the pickled state on stdin, print the port."""
    state, host, port = pickle.load(sys.stdin.buffer)

    async def main() -> None:
        def ready(p: int) -> None:
            sys.stdout.write(f"{p}\n")
            sys.stdout.flush()

        await serve_state(state, host, port, ready, asyncio.Event())

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


class SimArena:
    """A simulated OpenAI-compatible arena on loopback; use as a context manager.

    Parameters
    ----------
    models : mapping of str to SimModel or float
        Answering models; a float is shorthand for ``SimModel(skill=value)``.
    judge : SimJudge, optional
        The judge (default ``SimJudge()``).
    extra_models : mapping of str to callable, optional
        Additional chat models served by ``handler(messages) -> str``.
    faults : Faults, optional
        Fault injection (default none).
    latency : float, default 0.0
        Seconds every chat / embeddings response is delayed.
    embed_seconds_per_text : float, default 0.0
        Compute time of ``/embeddings`` per input text, on one of ``embed_workers`` workers
        (requests queue for a free worker; an abandoned request still occupies it).
    embed_workers : int, default 1
    embed_seconds_per_request : float, default 0.0
        Compute time of every ``/embeddings`` request on its worker, besides the time per
        text.
    embed_contention : float, default 0.0
        A request's compute time grows by this share for every other embeddings request
        in the server (queued or computing) when it starts: a server whose latency grows
        with concurrent requests, not only with the batch.
    embed_cpu : bool, default False
        Compute by keeping a CPU busy (one thread per worker) instead of sleeping, as a CPU
        embedding server does: with ``process=True`` the server's CPU time
        (:attr:`SimStats.cpu_seconds`) is then that compute, and a client that burns CPU
        takes it from the server.
    rng : int, numpy.random.Generator or None, default None
        Seed of every simulated draw (answers, verdicts, faults).
    dialect : {"vllm", "openai"}, default "vllm"
        Whose error bodies the server sends (:mod:`wizardarena.sim.errors`).
    api_key : str, optional
        Require ``Authorization: Bearer <api_key>``; other requests get the dialect's 401.
    echo_key : bool, default False
        Copy the received ``Authorization`` value into every field the server can (see the
        module docstring), to test that it is scrubbed everywhere.
    max_context : int, optional
        Context length in tokens (4 characters each): a chat request whose prompt plus
        ``max_tokens`` is longer gets the dialect's context-length 400.
    process : bool, default False
        Serve from a separate process (a fresh interpreter) instead of a background thread, so the
        client does not share the CPU/GIL with the server (benchmarks).
    host : str, default "127.0.0.1"
    port : int, default 0
        0 picks a free ephemeral port.
    """

    def __init__(
        self,
        models: Mapping[str, SimModel | float],
        *,
        judge: SimJudge | None = None,
        extra_models: Mapping[str, Handler] | None = None,
        faults: Faults | None = None,
        latency: float = 0.0,
        embed_seconds_per_text: float = 0.0,
        embed_workers: int = 1,
        embed_seconds_per_request: float = 0.0,
        embed_contention: float = 0.0,
        embed_cpu: bool = False,
        rng: int | np.random.Generator | None = None,
        dialect: str = "vllm",
        api_key: str | None = None,
        echo_key: bool = False,
        max_context: int | None = None,
        process: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        parsed: dict[str, SimModel] = {}
        for name, m in dict(models).items():
            if isinstance(m, SimModel):
                parsed[str(name)] = m
            elif isinstance(m, (int, float)) and not isinstance(m, bool) and math.isfinite(m):
                parsed[str(name)] = SimModel(skill=float(m))
            else:
                raise ValidationError(
                    f"models[{name!r}] must be a SimModel or a finite skill; got {m!r}"
                )
        judge = judge or SimJudge()
        extra = dict(extra_models or {})
        clash = sorted(set(parsed) & ({judge.name} | set(extra)) | (set(extra) & {judge.name}))
        if clash:
            raise ValidationError(f"model names must be unique across models, judge and "
                                  f"extra_models; {clash} appear twice")
        for name, fn in extra.items():
            if not callable(fn):
                raise ValidationError(f"extra_models[{name!r}] must be callable; got {fn!r}")
        if latency < 0:
            raise ValidationError(f"latency must be >= 0 seconds; got {latency!r}")
        embed = EmbedTiming(float(embed_seconds_per_text), embed_workers,
                            float(embed_seconds_per_request), float(embed_contention),
                            bool(embed_cpu))
        if dialect not in errors.DIALECTS:
            raise ValidationError(f"dialect must be one of {list(errors.DIALECTS)}; "
                                  f"got {dialect!r}")
        if max_context is not None and (not isinstance(max_context, int) or max_context < 1):
            raise ValidationError(f"max_context must be a positive number of tokens; "
                                  f"got {max_context!r}")
        seed = int(np.random.default_rng(rng).integers(2**62))
        self._state = State(seed, parsed, judge, extra, faults or Faults(), float(latency),
                            embed=embed, dialect=dialect, api_key=api_key,
                            echo_key=bool(echo_key), max_context=max_context)
        self.process = process
        self.host = host
        self._port_req = port
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._proc: Any = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> SimArena:
        """Start serving (idempotent); returns ``self``."""
        if self.port is not None:
            return self
        if self.process:
            self._proc = subprocess.Popen(
                [sys.executable, "-c",
                 "from wizardarena.sim.server import _child_main; _child_main()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )
            stdin, stdout = self._proc.stdin, self._proc.stdout
            if stdin is None or stdout is None:  # pragma: no cover (PIPE always gives both)
                raise RuntimeError("cannot talk to the simulated arena process")
            pickle.dump((self._state, self.host, self._port_req), stdin)
            stdin.close()
            line = stdout.readline()
            if not line.strip():
                self._proc.wait(10)
                self._proc = None
                raise RuntimeError("the simulated arena process failed to start")
            self.port = int(line)
            return self
        ready = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            stop = asyncio.Event()
            self._stop = stop

            def on_ready(port: int) -> None:
                box["port"] = port
                ready.set()

            try:
                loop.run_until_complete(serve_state(self._state, self.host, self._port_req,
                                                    on_ready, stop))
            except BaseException as exc:  # reported to start()
                box["error"] = exc
                ready.set()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="wizardarena-sim", daemon=True)
        self._thread.start()
        ready.wait(30)
        if "error" in box:
            raise box["error"]
        self.port = int(box["port"])
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except Exception:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._thread is not None and self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None
        self.port = None

    def __enter__(self) -> SimArena:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- information --------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """API root, ``http://127.0.0.1:<port>/v1``."""
        if self.port is None:
            raise RuntimeError("the simulated arena is not running; use it as a context manager")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def judge_model(self) -> str:
        """The model name of the simulated judge."""
        return self._state.judge.name

    @property
    def models(self) -> dict[str, SimModel]:
        """The answering models."""
        return dict(self._state.models)

    @property
    def true_ratings(self) -> pd.Series:
        """True skills (Elo scale), indexed by model, sorted descending."""
        s = pd.Series({k: m.skill for k, m in self._state.models.items()}, name="true_rating")
        s.index.name = "model"
        return s.sort_values(ascending=False)

    def stats(self) -> SimStats:
        """Fetch the server's counters (over HTTP, so it works in process mode too)."""
        r = httpx.get(f"http://{self.host}:{self.port}/sim/stats", timeout=30)
        r.raise_for_status()
        body = r.json()
        frame = pd.DataFrame(body["requests"], columns=["route", "key", "requests", "served"])
        frame.insert(2, "model", frame["key"].str.split(":", n=1).str[0])
        return SimStats(frame, {str(k): int(v) for k, v in body["faults"].items()},
                        frozenset(body["bad_verdicts"]), float(body["cpu_seconds"]))


def closed_port_url(host: str = "127.0.0.1") -> str:
    """``http://<host>:<port>/v1`` where nothing listens (connections are refused).

    The port is taken from the operating system and released at once, so it stays closed
    unless another program happens to bind it in between.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"http://{host}:{port}/v1"
