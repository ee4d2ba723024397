"""The simulated arena's HTTP/1.1: requests read off keep-alive connections, responses written.

Standard library only (asyncio streams), so that the server shares no code with the client it
tests. What it reads of a request: the request line, ``Content-Length`` and
``Authorization``; the body is read in full. What it writes: a JSON response with
``Content-Length`` (:func:`raw_response`, :class:`Replies`), or a streamed 200 that is far
larger than any reply or never ends (:class:`Streamed`). A request that the application
answers with :data:`DROP` has its connection dropped without an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "CHUNK",
    "DROP",
    "Dispatch",
    "Replies",
    "Response",
    "Streamed",
    "handle_connection",
    "raw_response",
    "serve",
]

#: bytes per write of a streamed body
CHUNK = 1 << 20

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error"}


def raw_response(status: int, payload: bytes, extra_headers: str = "") -> bytes:
    """A whole JSON response: status line, headers (``extra_headers`` as ``"Name: value\\r\\n"``
    lines) and ``payload``."""
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        f"{extra_headers}Connection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


@dataclass(frozen=True)
class Streamed:
    """A 200 response whose body is streamed: ``size`` bytes of a chat completion whose
    answer is padding (``Content-Length`` given), or, with ``size`` None, a chunked body
    that never ends. Either stops when the client hangs up."""

    size: int | None

    async def send(self, writer: asyncio.StreamWriter) -> None:
        """Write the response, :data:`CHUNK` bytes at a time."""
        if self.size is None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")
            chunk = b"%x\r\n" % CHUNK + b"a" * CHUNK + b"\r\n"
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
        block = b"a" * CHUNK
        while left > 0:
            n = min(left, CHUNK)
            writer.write(block[:n])
            await writer.drain()
            left -= n
        writer.write(tail)


#: what the application answers a request with: a whole response or a streamed one
Response: TypeAlias = bytes | Streamed
#: the response that drops the connection without answering (a server that hangs up)
DROP = b""
#: the application: ``(method, path, body, authorization) -> Response``
Dispatch: TypeAlias = Callable[[str, str, bytes, str], Awaitable[Response]]


class Replies:
    """JSON responses of a server that may leak the caller's key, and a count of its errors.

    Parameters
    ----------
    echo_key : bool
        Copy the received ``Authorization`` value into the text fields and error messages
        of responses and into an ``X-Echo-Authorization`` header, as a leaky gateway would.
    counts : collections.Counter
        Error responses and injected faults by kind; :meth:`fail` and :meth:`count` add to it.
    """

    def __init__(self, echo_key: bool, counts: Counter[str]) -> None:
        self.echo_key = echo_key
        self.counts = counts

    def echo(self, text: str, auth: str) -> str:
        """``text`` with the caller's Authorization value appended (``echo_key`` mode)."""
        if self.echo_key and auth:
            return f"{text} [Authorization: {auth}]"
        return text

    def respond(self, status: int, body: Any, auth: str, extra_headers: str = "") -> bytes:
        """A JSON response; in ``echo_key`` mode the key goes into the error message and a
        response header too."""
        if self.echo_key and auth:
            err = body.get("error") if isinstance(body, dict) else None
            if isinstance(err, dict) and "message" in err:
                err["message"] = self.echo(str(err["message"]), auth)
            elif isinstance(err, str):
                body["error"] = self.echo(err, auth)
            elif isinstance(body, dict) and "detail" in body:
                body["detail"] = self.echo(str(body["detail"]), auth)
            extra_headers += f"X-Echo-Authorization: {auth}\r\n"
        payload = json.dumps(body, ensure_ascii=False).encode()
        return raw_response(status, payload, extra_headers)

    def count(self, kind: str) -> None:
        """Count one error response or injected fault of ``kind``."""
        self.counts[kind] += 1

    def fail(self, kind: str, made: tuple[int, dict[str, Any]], auth: str,
             extra_headers: str = "") -> bytes:
        """Count an error response of ``kind`` and make it (``made`` = status, body)."""
        self.count(kind)
        status, body = made
        return self.respond(status, body, auth, extra_headers)


async def handle_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            dispatch: Dispatch) -> None:
    """Answer the requests of one keep-alive connection until the client closes it."""
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
            response = await dispatch(method, path, body, auth)
            if response == DROP:  # injected timeout: hang up
                return
            if isinstance(response, Streamed):
                await response.send(writer)
            else:
                writer.write(response)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(dispatch: Dispatch, host: str, port: int, ready: Callable[[int], None],
                stop: asyncio.Event) -> None:
    """Listen on ``host:port`` (0: any free port, passed to ``ready``) until ``stop`` is set,
    then close the connections that clients keep alive, as a real server shutting down."""
    open_connections: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a connection handler runs in its own task
        open_connections.add(task)
        try:
            await handle_connection(reader, writer, dispatch)
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
        for task in list(open_connections):
            task.cancel()
        await asyncio.gather(*open_connections, return_exceptions=True)
