"""The simulated arena's routes: what it answers to each request.

Routes: ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models``, and
``GET /sim/stats`` (counters, not counted itself). Like vLLM, the ``/v1`` prefix is required:
any other path is a 404 with the server's own body. A chat request goes to an answering
model (:func:`wizardarena.sim.world.answer_text`), the judge (its verdict, or a verdict
fault) or an extra model (a user's function of the messages); an embeddings request gets
hashed embeddings after the compute time of :class:`~wizardarena.sim.embeddings.EmbedTiming`.
Both count under their request key and may draw a transport fault first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wizardarena.sim import errors
from wizardarena.sim.embeddings import EmbedTiming, EmbedWorkers, hashed_embedding
from wizardarena.sim.faults import Faults, transport_fault, verdict_fault
from wizardarena.sim.http import Replies, Response, serve
from wizardarena.sim.world import (
    SimJudge,
    SimModel,
    answer_text,
    request_key,
    uniforms,
    verdict_text,
)

__all__ = ["App", "Handler", "State", "serve_state"]

#: an extra chat model: the request's messages -> the answer text
Handler = Callable[[list[dict[str, Any]]], str]


@dataclass
class State:
    """What a simulated arena serves (its options) and what it has counted."""

    seed: int
    models: dict[str, SimModel]
    judge: SimJudge
    extra: dict[str, Handler]
    faults: Faults
    latency: float
    embed: EmbedTiming = field(default_factory=EmbedTiming)
    dialect: str = "vllm"
    api_key: str | None = None
    echo_key: bool = False
    max_context: int | None = None
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    served: Counter[tuple[str, str]] = field(default_factory=Counter)
    fault_counts: Counter[str] = field(default_factory=Counter)
    bad_verdicts: set[str] = field(default_factory=set)


def _tokens(text: str) -> int:
    """Tokens of a text, as the server counts them: 4 characters a token, at least one."""
    return max(1, len(text) // 4)


class App:
    """The routes of a running simulated arena over its :class:`State`."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.replies = Replies(state.echo_key, state.fault_counts)
        self.embedder = EmbedWorkers(state.embed)

    def close(self) -> None:
        """Release the compute threads of the embeddings workers."""
        self.embedder.close()

    def bad_request(self, message: str, param: str | None, auth: str) -> bytes:
        """A 400 for a request body the routes cannot read."""
        return self.replies.respond(400, {"error": {
            "message": message, "type": "BadRequestError", "param": param, "code": 400}}, auth)

    async def dispatch(self, method: str, path: str, body: bytes, auth: str) -> Response:
        """Answer one request (see :data:`wizardarena.sim.http.Dispatch`)."""
        st = self.state
        replies = self.replies
        route = path.split("?", 1)[0]
        if method == "GET" and route == "/sim/stats":
            return replies.respond(200, self.stats_body(), "")
        if not route.startswith("/v1/"):
            return replies.fail("404", errors.unknown_route(st.dialect, method, route), auth)
        route = route[3:]
        if st.api_key is not None and auth != f"Bearer {st.api_key}":
            given = auth.removeprefix("Bearer ").strip() if auth else None
            return replies.fail("401", errors.bad_key(st.dialect, given, echo=st.echo_key),
                                auth)
        if method == "GET" and route == "/models":
            names = [*st.models, st.judge.name, *st.extra]
            return replies.respond(200, {"object": "list", "data": [
                {"id": n, "object": "model"} for n in names]}, auth)
        if method != "POST" or route not in ("/chat/completions", "/embeddings"):
            return replies.fail("404", errors.unknown_route(st.dialect, method, path), auth)
        try:
            req = json.loads(body)
            model = str(req["model"])
        except (ValueError, KeyError, TypeError):
            return self.bad_request("request body must be JSON with a 'model' field", None, auth)
        if route == "/embeddings":
            return await self.embeddings(model, req, auth)
        return await self.chat(model, req, auth)

    async def admit(self, ck: tuple[str, str], auth: str, model: str) -> Response | None:
        """After a request was counted: the response of its transport fault, or None to
        answer it (after the server's latency)."""
        st = self.state
        u = uniforms(st.seed, "fault", ck[1], st.requests[ck])[0]
        fault = await transport_fault(st.faults, u, self.replies, dialect=st.dialect,
                                      auth=auth, model=model, key=ck[1])
        if fault is None and st.latency:
            await asyncio.sleep(st.latency)
        return fault

    async def chat(self, model: str, req: dict[str, Any], auth: str) -> Response:
        """``POST /v1/chat/completions``."""
        st = self.state
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.bad_request("'messages' must be a non-empty list", "messages", auth)
        if model not in st.models and model not in st.extra and model != st.judge.name:
            return self.replies.fail("404", errors.unknown_model(st.dialect, model), auth)
        key = request_key(model, messages)
        ck = ("chat", key)
        st.requests[ck] += 1
        prompt_text = "\n".join(str(m.get("content", "")) for m in messages)
        if st.max_context is not None:
            pt = _tokens(prompt_text)
            ct = int(req.get("max_tokens") or req.get("max_completion_tokens") or 0)
            if pt + ct > st.max_context:
                return self.replies.fail(
                    "context_length", errors.context_length(st.dialect, st.max_context, pt, ct),
                    auth)
        fault = await self.admit(ck, auth, model)
        if fault is not None:
            return fault
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
        echo = self.replies.echo
        return self.replies.respond(200, {
            "id": echo(f"chatcmpl-{key[-12:]}", auth),
            "object": "chat.completion",
            "model": echo(model, auth),
            "system_fingerprint": echo("fp_sim", auth),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": echo(text, auth)}}],
            "usage": {"prompt_tokens": _tokens(prompt_text), "completion_tokens": _tokens(text),
                      "total_tokens": _tokens(prompt_text) + _tokens(text)},
        }, auth)

    def judge_text(self, key: str, prompt_text: str, fmt_text: str) -> str:
        """The judge's answer: its verdict, or the verdict fault drawn for ``key``."""
        st = self.state
        fault = verdict_fault(st.faults, uniforms(st.seed, "verdict-fault", key)[0])
        if fault is not None:
            kind, text = fault
            self.replies.count(kind)
            st.bad_verdicts.add(key)
            return text
        return verdict_text(st.seed, st.judge, key, prompt_text, fmt_text)

    async def embeddings(self, model: str, req: dict[str, Any], auth: str) -> Response:
        """``POST /v1/embeddings``."""
        st = self.state
        inputs = req.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return self.bad_request("'input' must be a string or a list of strings", "input",
                                    auth)
        dim = int(req.get("dimensions") or 256)
        key = f"{model}:" + hashlib.sha1(
            json.dumps(inputs, ensure_ascii=False).encode()
        ).hexdigest()[:20]
        ck = ("embeddings", key)
        st.requests[ck] += 1
        fault = await self.admit(ck, auth, model)
        if fault is not None:
            return fault
        await self.embedder.compute(len(inputs))
        data = [
            {"object": "embedding", "index": i,
             "embedding": [round(x, 6) for x in hashed_embedding(t, dim=dim).tolist()]}
            for i, t in enumerate(inputs)
        ]
        st.served[ck] += 1
        n_tok = sum(_tokens(t) for t in inputs)
        return self.replies.respond(200, {"object": "list", "data": data,
                                          "model": self.replies.echo(model, auth),
                                          "usage": {"prompt_tokens": n_tok,
                                                    "total_tokens": n_tok}}, auth)

    def stats_body(self) -> dict[str, Any]:
        """``GET /sim/stats``: requests and served responses per (route, key), faults by
        kind, the keys of bad verdicts, and the server process's CPU time."""
        st = self.state
        rows = [[r, k, n, st.served.get((r, k), 0)] for (r, k), n in st.requests.items()]
        return {"requests": rows, "faults": dict(st.fault_counts),
                "bad_verdicts": sorted(st.bad_verdicts), "cpu_seconds": time.process_time()}


async def serve_state(state: State, host: str, port: int, ready: Callable[[int], None],
                      stop: asyncio.Event) -> None:
    """Serve ``state`` on ``host:port`` until ``stop`` is set (``ready`` gets the port)."""
    app = App(state)
    try:
        await serve(app.dispatch, host, port, ready, stop)
    finally:
        app.close()
