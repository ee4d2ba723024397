"""A lean HTTP/1.1 keep-alive transport for httpx on asyncio streams.

httpx's default async transport (httpcore) re-scans its whole connection pool on every
request event and, without ``sniffio`` installed, retries a failed import per request; at
64 concurrent connections that costs several milliseconds of CPU per request. This transport
keeps a plain LIFO pool of idle keep-alive connections per origin and does one write and a
few reads per request (~0.1 ms CPU). It speaks HTTP/1.1 over TCP or TLS (``https``, via
:mod:`ssl`), with ``Content-Length`` or chunked bodies, and no proxies: pass
``transport=httpx.AsyncHTTPTransport(proxy=...)`` to the client when you need one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import defaultdict

import httpx

__all__ = ["PooledTransport"]

_Origin = tuple[str, str, int]


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive transport with a per-origin idle pool.

    Parameters
    ----------
    max_idle : int, default 256
        Idle connections kept per origin.
    verify : bool or ssl.SSLContext, default True
        TLS verification for ``https`` (a context is used as is).
    """

    def __init__(self, *, max_idle: int = 256, verify: bool | ssl.SSLContext = True) -> None:
        self.max_idle = max_idle
        self._idle: dict[_Origin, list[_Conn]] = defaultdict(list)
        if isinstance(verify, ssl.SSLContext):
            self._ssl: ssl.SSLContext | None = verify
        elif verify:
            self._ssl = ssl.create_default_context()
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Conn:
        scheme, host, port = origin
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self._ssl if scheme == "https" else None,
                                        limit=2**22),
                timeout,
            )
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from None
        return _Conn(reader, writer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        port = url.port or (443 if scheme == "https" else 80)
        origin: _Origin = (scheme, url.host, port)
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        body = request.content if request.method != "GET" or request.content else b""
        target = url.raw_path.decode("ascii")
        lines = [f"{request.method} {target} HTTP/1.1"]
        has_length = False
        for k, v in request.headers.raw:
            name = k.decode("latin-1")
            low = name.lower()
            if low == "content-length":
                has_length = True
            elif low == "accept-encoding":
                continue
            lines.append(f"{name}: {v.decode('latin-1')}")
        if not has_length and body:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("Accept-Encoding: identity")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

        idle = self._idle[origin]
        conn = None
        while idle:
            c = idle.pop()
            if c.reader.at_eof() or c.writer.is_closing():
                c.close()
                continue
            conn = c
            break
        if conn is None:
            conn = await self._connect(origin, timeouts.get("connect"))
        try:
            conn.writer.write(payload)
            status, headers, content, keep = await asyncio.wait_for(
                self._read_response(conn.reader, request.method), read_timeout
            )
        except asyncio.TimeoutError:
            conn.close()
            raise httpx.ReadTimeout(f"no response from {url.host}:{port} within "
                                    f"{read_timeout} s") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError) as exc:
            conn.close()
            raise httpx.RemoteProtocolError(
                f"connection to {url.host}:{port} failed: {type(exc).__name__}: {exc}"
            ) from None
        except BaseException:
            conn.close()
            raise
        if keep and len(idle) < self.max_idle:
            idle.append(conn)
        else:
            conn.close()
        return httpx.Response(status, headers=headers, content=content, request=request)

    @staticmethod
    async def _read_response(
        reader: asyncio.StreamReader, method: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head[:-4].split(b"\r\n")
            parts = status_line.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise ValueError(f"bad status line {status_line[:80]!r}")
            status = int(parts[1])
            if status >= 200 or status == 101:
                break  # 1xx informational responses are skipped
        headers: list[tuple[bytes, bytes]] = []
        length = -1
        chunked = False
        keep = parts[0] == b"HTTP/1.1"
        for line in header_lines:
            name, _, value = line.partition(b":")
            value = value.strip()
            low = name.strip().lower()
            if low == b"content-length":
                length = int(value)
            elif low == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
                continue  # the body is handed over de-chunked
            elif low == b"connection":
                v = value.lower()
                keep = b"keep-alive" in v if not keep else b"close" not in v
            headers.append((name.strip(), value))
        if method == "HEAD" or status in (204, 304):
            content = b""
        elif chunked:
            out = bytearray()
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    break
                out += await reader.readexactly(size)
                await reader.readexactly(2)
            content = bytes(out)
        elif length >= 0:
            content = await reader.readexactly(length)
        else:
            content = await reader.read()
            keep = False
        return status, headers, content, keep

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()
