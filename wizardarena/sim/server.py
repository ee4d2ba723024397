"""The simulated arena: an OpenAI-compatible HTTP server on loopback (standard library only).

Quick use (tests run it in a thread, benchmarks in a separate process)::

    from wizardarena.sim.server import SimArena, SimJudge, SimModel, Faults

    with SimArena({"strong": 1200, "weak": SimModel(1000, verbosity=1.0, markdown=0.8)},
                  judge=SimJudge(position_bias=60.0), rng=0) as sim:
        sim.base_url                 # "http://127.0.0.1:<port>/v1"
        sim.judge_model              # "sim-judge": the model name of the judge
        sim.true_ratings             # pandas Series of the models' skills (Elo scale)
        sim.stats()                  # SimStats: requests / served per (route, key), faults

Routes: ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models``, and
``GET /sim/stats`` (counters, not counted itself). Like vLLM, the ``/v1`` prefix is required:
any other path is a 404 with the server's own body.

API for other modules (stable)
------------------------------
- **Embeddings** (``POST /v1/embeddings``, any model name): deterministic hashed bag of
  words plus character 3-grams, signed feature hashing into ``dim`` (default 256)
  dimensions, L2-normalised, so texts sharing words get similar vectors.
- **Extra models**: ``SimArena(..., extra_models={"rater": fn})`` serves ``fn(messages) ->
  str`` (``messages`` is the request's list of ``{"role", "content"}`` dicts) as the chat
  model ``"rater"``; in process mode ``fn`` must be picklable (a module-level function).

The simulation (models, judge, answers, verdicts) lives in :mod:`wizardarena.sim.world`.

Faults (:class:`Faults`) are drawn per (key, attempt number), so a retry eventually succeeds:
429 with ``Retry-After``, 500, slow responses, "timeouts" (the server hangs, then drops the
connection without answering), malformed JSON, a 200 that only carries an ``error`` object,
a 200 with empty ``choices``; and per key (deterministic, not cured by a retry) empty or
unparseable judge verdicts. ``stats()`` counts requests and successfully served responses per
(route, key), where key is ``"<model>:<sha1 of the messages>"``.

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
import concurrent.futures
import contextlib
import hashlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError
from wizardarena.sim import errors
from wizardarena.sim.world import (
    SimJudge,
    SimModel,
    answer_text,
    hashed_embedding,
    request_key,
    uniforms,
    verdict_text,
)

__all__ = [
    "Faults",
    "SimArena",
    "SimJudge",
    "SimModel",
    "SimStats",
    "closed_port_url",
    "hashed_embedding",
    "request_key",
]

Handler = Callable[[list[dict[str, Any]]], str]

@dataclass(frozen=True)
class Faults:
    """Fault injection rates (each a probability in [0, 1]).

    Transport faults (drawn per request key and attempt, so retries eventually succeed):
    ``rate_429`` (with ``Retry-After: retry_after``), ``rate_500``, ``rate_timeout`` (hang
    ``hang_seconds`` then drop the connection), ``rate_malformed`` (200 with broken JSON),
    ``rate_error_200`` (200 whose body is only an ``error`` object, as some gateways send),
    ``rate_no_choices`` (200 with an empty ``choices`` list), ``rate_slow`` (answer after an
    extra ``slow_seconds``), ``rate_huge_body`` (a 200 whose body, streamed, is
    ``huge_body_bytes`` long: an answer far larger than any reply), ``rate_endless_body`` (a
    200 whose chunked body never ends, until the client hangs up). Their sum must be <= 1.

    Verdict faults (judge only, drawn per request key, so a retry gets the same text):
    ``rate_empty_verdict`` (empty content) and ``rate_unparseable`` (text without a verdict).
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_malformed: float = 0.0
    rate_error_200: float = 0.0
    rate_no_choices: float = 0.0
    rate_slow: float = 0.0
    rate_huge_body: float = 0.0
    rate_endless_body: float = 0.0
    rate_empty_verdict: float = 0.0
    rate_unparseable: float = 0.0
    retry_after: float = 0.01
    hang_seconds: float = 0.2
    slow_seconds: float = 0.2
    huge_body_bytes: int = 256 << 20

    def __post_init__(self) -> None:
        for name in (
            "rate_429", "rate_500", "rate_timeout", "rate_malformed", "rate_error_200",
            "rate_no_choices", "rate_slow", "rate_huge_body", "rate_endless_body",
            "rate_empty_verdict", "rate_unparseable",
        ):
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0):
                raise ValidationError(f"Faults.{name} must be in [0, 1]; got {v!r}")
        if not isinstance(self.huge_body_bytes, int) or self.huge_body_bytes < 64:
            raise ValidationError(f"Faults.huge_body_bytes must be an integer >= 64; got "
                                  f"{self.huge_body_bytes!r}")
        total = (self.rate_429 + self.rate_500 + self.rate_timeout + self.rate_malformed
                 + self.rate_error_200 + self.rate_no_choices + self.rate_huge_body
                 + self.rate_endless_body)
        if total + self.rate_slow > 1.0:
            raise ValidationError(f"transport fault rates must sum to <= 1; got {total}")
        if self.rate_empty_verdict + self.rate_unparseable > 1.0:
            raise ValidationError("rate_empty_verdict + rate_unparseable must be <= 1")


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


# -- the server -----------------------------------------------------------------------------
@dataclass
class _State:
    seed: int
    models: dict[str, SimModel]
    judge: SimJudge
    extra: dict[str, Handler]
    faults: Faults
    latency: float
    embed_seconds_per_text: float = 0.0
    embed_workers: int = 1
    embed_seconds_per_request: float = 0.0
    embed_contention: float = 0.0
    embed_cpu: bool = False
    embed_in_flight: int = 0
    dialect: str = "vllm"
    api_key: str | None = None
    echo_key: bool = False
    max_context: int | None = None
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    served: Counter[tuple[str, str]] = field(default_factory=Counter)
    fault_counts: Counter[str] = field(default_factory=Counter)
    bad_verdicts: set[str] = field(default_factory=set)


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error"}


def _burn(seconds: float) -> None:
    """Keep one CPU busy for ``seconds`` of this thread's CPU time (a CPU-bound model)."""
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for _ in range(2000):
            x += 1


def _raw_response(status: int, payload: bytes, extra_headers: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        f"{extra_headers}Connection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


#: bytes per write of a streamed body
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Streamed:
    """A 200 response whose body is streamed: ``size`` bytes of a chat completion whose
    answer is padding (``Content-Length`` given), or, with ``size`` None, a chunked body
    that never ends. Either stops when the client hangs up."""

    size: int | None

    async def send(self, writer: asyncio.StreamWriter) -> None:
        if self.size is None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")
            chunk = b"%x\r\n" % _CHUNK + b"a" * _CHUNK + b"\r\n"
            writer.write(b'10\r\n{"choices": [{"m\r\n')
            while True:  # until the client disconnects (a write then fails)
                writer.write(chunk)
                await writer.drain()
        head = b'{"choices": [{"message": {"role": "assistant", "content": "'
        tail = b'"}}]}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % self.size
                     + head)
        left = self.size - len(head) - len(tail)
        block = b"a" * _CHUNK
        while left > 0:
            n = min(left, _CHUNK)
            writer.write(block[:n])
            await writer.drain()
            left -= n
        writer.write(tail)


class _Server:
    def __init__(self, state: _State) -> None:
        self.state = state
        # like a real embedding server: a fixed number of workers, a queue in front of them,
        # and a request keeps its worker until computed even if its client has gone
        self.embed_workers = asyncio.Semaphore(state.embed_workers)
        # the threads that compute (embed_cpu): one per worker, as a CPU server has
        self.cpu: concurrent.futures.ThreadPoolExecutor | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = ([*lines[0].split(" "), "", ""])[:3]
                length = 0
                auth = ""
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    low = name.strip().lower()
                    if low == "content-length":
                        length = int(value.strip())
                    elif low == "authorization":
                        auth = value.strip()
                body = await reader.readexactly(length) if length else b""
                response = await self.dispatch(method, path, body, auth)
                if response is None:  # injected timeout: drop the connection
                    return
                if isinstance(response, _Streamed):
                    await response.send(writer)
                else:
                    writer.write(response)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    # -- responses ------------------------------------------------------------------------
    def echo(self, text: str, auth: str) -> str:
        """``text`` with the caller's Authorization value appended (``echo_key`` mode)."""
        if self.state.echo_key and auth:
            return f"{text} [Authorization: {auth}]"
        return text

    def respond(self, status: int, body: Any, auth: str, extra_headers: str = "") -> bytes:
        """A JSON response; in ``echo_key`` mode the key goes into the error message and a
        response header too."""
        if self.state.echo_key and auth:
            err = body.get("error") if isinstance(body, dict) else None
            if isinstance(err, dict) and "message" in err:
                err["message"] = self.echo(str(err["message"]), auth)
            elif isinstance(err, str):
                body["error"] = self.echo(err, auth)
            elif isinstance(body, dict) and "detail" in body:
                body["detail"] = self.echo(str(body["detail"]), auth)
            extra_headers += f"X-Echo-Authorization: {auth}\r\n"
        payload = json.dumps(body, ensure_ascii=False).encode()
        return _raw_response(status, payload, extra_headers)

    def fail(self, kind: str, made: tuple[int, dict[str, Any]], auth: str,
             extra_headers: str = "") -> bytes:
        """Count an error response of ``kind`` and send it."""
        self.state.fault_counts[kind] += 1
        status, body = made
        return self.respond(status, body, auth, extra_headers)

    async def dispatch(self, method: str, path: str, body: bytes,
                       auth: str) -> bytes | _Streamed | None:
        st = self.state
        route = path.split("?", 1)[0]
        if method == "GET" and route == "/sim/stats":
            return self.respond(200, self.stats_body(), "")
        if not route.startswith("/v1/"):
            return self.fail("404", errors.unknown_route(st.dialect, method, route), auth)
        route = route[3:]
        if st.api_key is not None and auth != f"Bearer {st.api_key}":
            given = auth.removeprefix("Bearer ").strip() if auth else None
            return self.fail("401", errors.bad_key(st.dialect, given, echo=st.echo_key), auth)
        if method == "GET" and route == "/models":
            names = [*st.models, st.judge.name, *st.extra]
            return self.respond(200, {"object": "list", "data": [
                {"id": n, "object": "model"} for n in names]}, auth)
        if method != "POST" or route not in ("/chat/completions", "/embeddings"):
            return self.fail("404", errors.unknown_route(st.dialect, method, path), auth)
        try:
            req = json.loads(body)
            model = str(req["model"])
        except (ValueError, KeyError, TypeError):
            return self.respond(400, {"error": {"message": "request body must be JSON with a "
                                                "'model' field", "type": "BadRequestError",
                                                "param": None, "code": 400}}, auth)
        if route == "/embeddings":
            return await self.embeddings(model, req, auth)
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.respond(400, {"error": {"message": "'messages' must be a non-empty "
                                                "list", "type": "BadRequestError",
                                                "param": "messages", "code": 400}}, auth)
        if model not in st.models and model not in st.extra and model != st.judge.name:
            return self.fail("404", errors.unknown_model(st.dialect, model), auth)
        key = request_key(model, messages)
        ck = ("chat", key)
        st.requests[ck] += 1
        prompt_text = "\n".join(str(m.get("content", "")) for m in messages)
        if st.max_context is not None:
            pt = _tokens(prompt_text)
            ct = int(req.get("max_tokens") or req.get("max_completion_tokens") or 0)
            if pt + ct > st.max_context:
                return self.fail("context_length",
                                 errors.context_length(st.dialect, st.max_context, pt, ct), auth)
        fault = await self.transport_fault(ck, auth, model)
        if fault is not None:
            return fault or None
        if st.latency:
            await asyncio.sleep(st.latency)
        if model == st.judge.name:
            # the format is read from the system message when there is one (answers are in
            # the user message and must not change which format the judge answers in)
            first = messages[0]
            fmt_text = str(first.get("content", "")) if first.get("role") == "system" \
                else prompt_text
            text = self.judge_text(key, prompt_text, fmt_text)
        elif model in st.extra:
            text = str(st.extra[model](messages))
        else:
            text = answer_text(st.seed, model, st.models[model], messages)
        st.served[ck] += 1
        return self.respond(200, {
            "id": self.echo(f"chatcmpl-{key[-12:]}", auth),
            "object": "chat.completion",
            "model": self.echo(model, auth),
            "system_fingerprint": self.echo("fp_sim", auth),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.echo(text, auth)}}],
            "usage": {"prompt_tokens": _tokens(prompt_text), "completion_tokens": _tokens(text),
                      "total_tokens": _tokens(prompt_text) + _tokens(text)},
        }, auth)

    def judge_text(self, key: str, prompt_text: str, fmt_text: str) -> str:
        st = self.state
        u = uniforms(st.seed, "verdict-fault", key)[0]
        f = st.faults
        if u < f.rate_empty_verdict:
            st.fault_counts["empty_verdict"] += 1
            st.bad_verdicts.add(key)
            return ""
        if u < f.rate_empty_verdict + f.rate_unparseable:
            st.fault_counts["unparseable"] += 1
            st.bad_verdicts.add(key)
            return "Both answers have merits and I cannot decide between them."
        return verdict_text(st.seed, st.judge, key, prompt_text, fmt_text)

    async def transport_fault(self, ck: tuple[str, str], auth: str,
                              model: str) -> bytes | _Streamed | None:
        """Return a fault response, ``b""`` to drop the connection, or ``None`` to proceed."""
        st = self.state
        f = st.faults
        u = uniforms(st.seed, "fault", ck[1], st.requests[ck])[0]
        edge = f.rate_429
        if u < edge:
            return self.fail("429", errors.rate_limited(st.dialect), auth,
                             f"Retry-After: {f.retry_after}\r\n")
        edge += f.rate_500
        if u < edge:
            return self.fail("500", errors.server_error(st.dialect), auth)
        edge += f.rate_timeout
        if u < edge:
            st.fault_counts["timeout"] += 1
            await asyncio.sleep(f.hang_seconds)
            return b""
        edge += f.rate_malformed
        if u < edge:
            st.fault_counts["malformed"] += 1
            return _raw_response(200, self.echo(
                '{"choices": [{"message": {"content": "trunc', auth).encode())
        edge += f.rate_error_200
        if u < edge:
            return self.fail("error_200", (200, errors.error_in_200()), auth)
        edge += f.rate_no_choices
        if u < edge:
            st.fault_counts["no_choices"] += 1
            body = errors.no_choices(self.echo(model, auth), ck[1])
            return self.respond(200, body, auth)
        edge += f.rate_huge_body
        if u < edge:
            st.fault_counts["huge_body"] += 1
            return _Streamed(f.huge_body_bytes)
        edge += f.rate_endless_body
        if u < edge:
            st.fault_counts["endless_body"] += 1
            return _Streamed(None)
        edge += f.rate_slow
        if u < edge:
            st.fault_counts["slow"] += 1
            await asyncio.sleep(f.slow_seconds)
        return None

    async def embeddings(self, model: str, req: dict[str, Any],
                         auth: str) -> bytes | _Streamed | None:
        st = self.state
        inputs = req.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return self.respond(400, {"error": {"message": "'input' must be a string or a list "
                                                "of strings", "type": "BadRequestError",
                                                "param": "input", "code": 400}}, auth)
        dim = int(req.get("dimensions") or 256)
        key = f"{model}:" + hashlib.sha1(
            json.dumps(inputs, ensure_ascii=False).encode()
        ).hexdigest()[:20]
        ck = ("embeddings", key)
        st.requests[ck] += 1
        fault = await self.transport_fault(ck, auth, model)
        if fault is not None:
            return fault or None
        if st.latency:
            await asyncio.sleep(st.latency)
        if st.embed_seconds_per_text or st.embed_seconds_per_request:
            st.embed_in_flight += 1
            try:
                async with self.embed_workers:
                    # the compute of a batch, slower when more requests crowd the server
                    seconds = ((st.embed_seconds_per_request
                                + st.embed_seconds_per_text * len(inputs))
                               * (1.0 + st.embed_contention * (st.embed_in_flight - 1)))
                    if st.embed_cpu:
                        if self.cpu is None:
                            self.cpu = concurrent.futures.ThreadPoolExecutor(
                                st.embed_workers, thread_name_prefix="sim-embed")
                        await asyncio.get_running_loop().run_in_executor(
                            self.cpu, _burn, seconds)
                    else:
                        await asyncio.sleep(seconds)
            finally:
                st.embed_in_flight -= 1
        data = [
            {"object": "embedding", "index": i,
             "embedding": [round(x, 6) for x in hashed_embedding(t, dim=dim).tolist()]}
            for i, t in enumerate(inputs)
        ]
        st.served[ck] += 1
        n_tok = sum(_tokens(t) for t in inputs)
        return self.respond(200, {"object": "list", "data": data,
                                  "model": self.echo(model, auth),
                                  "usage": {"prompt_tokens": n_tok, "total_tokens": n_tok}},
                            auth)

    def stats_body(self) -> dict[str, Any]:
        st = self.state
        rows = [[r, k, n, st.served.get((r, k), 0)] for (r, k), n in st.requests.items()]
        return {"requests": rows, "faults": dict(st.fault_counts),
                "bad_verdicts": sorted(st.bad_verdicts), "cpu_seconds": time.process_time()}


async def _serve(state: _State, host: str, port: int, ready: Callable[[int], None],
                 stop: asyncio.Event) -> None:
    sim = _Server(state)
    open_connections: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a connection handler runs in its own task
        open_connections.add(task)
        try:
            await sim.handle(reader, writer)
        except asyncio.CancelledError:
            if not stop.is_set():
                raise
            # cancelled by the shutdown below: the connection simply ends (asyncio would
            # otherwise log every such handler as a failed callback)
            writer.close()
        finally:
            open_connections.discard(task)

    server = await asyncio.start_server(handle, host, port, backlog=1024)
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await stop.wait()
        # like a real server shutting down: close the connections clients keep alive
        for task in list(open_connections):
            task.cancel()
        await asyncio.gather(*open_connections, return_exceptions=True)


def _child_main() -> None:  # pragma: no cover (runs in the child process)
    """Entry point of process mode: read the pickled state on stdin, print the port."""
    import pickle
    import sys

    state, host, port = pickle.load(sys.stdin.buffer)

    async def main() -> None:
        def ready(p: int) -> None:
            sys.stdout.write(f"{p}\n")
            sys.stdout.flush()

        await _serve(state, host, port, ready, asyncio.Event())

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
        if embed_seconds_per_text < 0 or not isinstance(embed_workers, int) or embed_workers < 1:
            raise ValidationError(
                "embed_seconds_per_text must be >= 0 and embed_workers an integer >= 1; got "
                f"{embed_seconds_per_text!r}, {embed_workers!r}"
            )
        if not (embed_seconds_per_request >= 0 and embed_contention >= 0):
            raise ValidationError(
                "embed_seconds_per_request and embed_contention must be >= 0; got "
                f"{embed_seconds_per_request!r}, {embed_contention!r}")
        if dialect not in errors.DIALECTS:
            raise ValidationError(f"dialect must be one of {list(errors.DIALECTS)}; "
                                  f"got {dialect!r}")
        if max_context is not None and (not isinstance(max_context, int) or max_context < 1):
            raise ValidationError(f"max_context must be a positive number of tokens; "
                                  f"got {max_context!r}")
        seed = int(np.random.default_rng(rng).integers(2**62))
        self._state = _State(seed, parsed, judge, extra, faults or Faults(), float(latency),
                             embed_seconds_per_text=float(embed_seconds_per_text),
                             embed_workers=embed_workers,
                             embed_seconds_per_request=float(embed_seconds_per_request),
                             embed_contention=float(embed_contention),
                             embed_cpu=bool(embed_cpu), dialect=dialect, api_key=api_key,
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
            import pickle
            import subprocess
            import sys

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
                loop.run_until_complete(_serve(self._state, self.host, self._port_req,
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
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"http://{host}:{port}/v1"
