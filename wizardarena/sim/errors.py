"""Error responses of real OpenAI-compatible servers, for the simulated arena.

The simulated server answers errors the way the server it imitates does (``dialect``), so
the client is tested against what it will meet, not against our own idea of an error:

- **OpenAI** (``"openai"``): ``{"error": {"message", "type", "param", "code"}}`` with string
  codes: ``context_length_exceeded`` (400, ``param: "messages"``), ``invalid_api_key`` (401,
  the provided key shown masked), ``model_not_found`` (404), ``rate_limit_exceeded`` (429),
  ``null`` for a server error (500) and for an unknown URL (404 ``"Invalid URL (POST
  /v1/...)"``). Messages as OpenAI words them.
- **vLLM** (``"vllm"``, its OpenAI-compatible server): ``{"error": {"message", "type",
  "param", "code"}}`` with the class name as ``type`` (``BadRequestError``,
  ``NotFoundError``) and the status as an integer ``code``; the context-length message
  ``"This model's maximum context length is L tokens. However, you requested T tokens (P in
  the messages, C in the completion). Please reduce the length of the messages or
  completion."``; ``{"error": "Unauthorized"}`` when ``--api-key`` does not match; FastAPI's
  ``{"detail": "Not Found"}`` for an unknown path.

Gateways in front of either sometimes answer 200 with only an ``error`` object
(:func:`error_in_200`), or 200 with an empty ``choices`` list (:func:`no_choices`).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DIALECTS",
    "bad_key",
    "context_length",
    "error_in_200",
    "no_choices",
    "rate_limited",
    "server_error",
    "unknown_model",
    "unknown_route",
]

DIALECTS = ("openai", "vllm")

Body = dict[str, Any]


def _openai(message: str, type_: str, code: str | None, param: str | None = None) -> Body:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _vllm(message: str, type_: str, status: int) -> Body:
    return {"error": {"message": message, "type": type_, "param": None, "code": status}}


def context_length(dialect: str, limit: int, prompt_tokens: int,
                   completion_tokens: int) -> tuple[int, Body]:
    """400: the prompt (plus ``max_tokens``) does not fit the model's context."""
    total = prompt_tokens + completion_tokens
    requested = (f"However, you requested {total} tokens ({prompt_tokens} in the messages, "
                 f"{completion_tokens} in the completion). Please reduce the length of the "
                 f"messages or completion.")
    head = f"This model's maximum context length is {limit} tokens. "
    if dialect == "openai":
        if prompt_tokens > limit:
            requested = (f"However, your messages resulted in {prompt_tokens} tokens. Please "
                         f"reduce the length of the messages.")
        return 400, _openai(head + requested, "invalid_request_error",
                            "context_length_exceeded", "messages")
    return 400, _vllm(head + requested, "BadRequestError", 400)


def unknown_model(dialect: str, model: str) -> tuple[int, Body]:
    """404: the model is not served."""
    if dialect == "openai":
        return 404, _openai(f"The model `{model}` does not exist or you do not have access "
                            f"to it.", "invalid_request_error", "model_not_found")
    return 404, _vllm(f"The model `{model}` does not exist.", "NotFoundError", 404)


def unknown_route(dialect: str, method: str, path: str) -> tuple[int, Body]:
    """404: no such path (e.g. ``base_url`` without ``/v1``)."""
    if dialect == "openai":
        return 404, _openai(f"Invalid URL ({method} {path})", "invalid_request_error", None)
    return 404, {"detail": "Not Found"}


def _mask(key: str) -> str:
    """OpenAI shows the start and the last four characters of a wrong key."""
    if len(key) <= 8:
        return "*" * len(key)
    return key[:5] + "*" * (len(key) - 9) + key[-4:]


def bad_key(dialect: str, provided: str | None, *, echo: bool = False) -> tuple[int, Body]:
    """401: no key or a wrong key (``echo`` shows the key unmasked, as a leaky proxy would)."""
    if dialect == "vllm":
        return 401, {"error": "Unauthorized"}
    if not provided:
        return 401, _openai(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or "
            "as the password field (with blank username) if you're accessing the API from "
            "your browser and are prompted for a username and password. You can obtain an "
            "API key from https://platform.openai.com/account/api-keys.",
            "invalid_request_error", None)
    shown = provided if echo else _mask(provided)
    return 401, _openai(f"Incorrect API key provided: {shown}. You can find your API key at "
                        f"https://platform.openai.com/account/api-keys.",
                        "invalid_request_error", "invalid_api_key")


def rate_limited(dialect: str) -> tuple[int, Body]:
    """429 (sent with ``Retry-After``)."""
    if dialect == "openai":
        return 429, _openai("Rate limit reached for requests per min (RPM): Limit 500. Please "
                            "try again in 10ms. (simulated)", "requests", "rate_limit_exceeded")
    return 429, _vllm("Too many requests (simulated)", "TooManyRequests", 429)


def server_error(dialect: str) -> tuple[int, Body]:
    """500."""
    if dialect == "openai":
        return 500, _openai("The server had an error while processing your request. Sorry "
                            "about that! (simulated)", "server_error", None)
    return 500, _vllm("internal error (simulated)", "InternalServerError", 500)


def error_in_200() -> Body:
    """A gateway's 200 that carries only an error."""
    return {"error": {"message": "upstream overloaded (simulated)", "type": "server_error",
                      "code": "upstream_error"}}


def no_choices(model: str, key: str) -> Body:
    """A 200 completion object with an empty ``choices`` list."""
    return {"id": f"chatcmpl-{key[-12:]}", "object": "chat.completion", "model": model,
            "choices": [], "usage": {"prompt_tokens": 0, "completion_tokens": 0,
                                     "total_tokens": 0}}
