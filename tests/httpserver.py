"""A real HTTP server on 127.0.0.1 for the fetch tests, scripted per path.

Each path answers with a list of `Reply`s, one per request, the last one repeated: `[Reply(500),
Reply(200, body)]` fails once then serves. A reply can be conditional (304 when the request's
If-None-Match / If-Modified-Since match), truncated (announces the full Content-Length, sends less, closes),
or slow. Paths can also be answered by a function (the data.gouv.fr API pages, the DUME API). Every request
is logged with its headers and body so that tests assert on what went over the wire.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    truncate_to: int | None = None  # bytes actually sent before closing the connection
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without answering
    trickle: tuple[int, float] | None = None  # send the body N bytes at a time, one piece every S seconds


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    sent: int = 0  # body bytes sent

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Request], Reply]


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply] | Handler] = {}
        self.fallback: Handler | None = None  # answers the paths no route names
        self.log: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits 40 ms for a delayed ACK

            def do_GET(self) -> None:
                server._answer(self)

            def do_POST(self) -> None:
                server._answer(self)

            def do_PUT(self) -> None:
                server._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, path: str, *replies: Reply | Handler) -> None:
        if len(replies) == 1 and callable(replies[0]):
            self.routes[path] = replies[0]
        else:
            self.routes[path] = list(replies)  # type: ignore[arg-type]

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.log if urlsplit(r.path).path == path]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def _reply_for(self, request: Request) -> Reply:
        path = urlsplit(request.path).path
        route = self.routes.get(request.path) or self.routes.get(path)
        if route is None:
            return self.fallback(request) if self.fallback else Reply(404, b"not found")
        if callable(route):
            return route(request)
        with self._lock:
            return route.pop(0) if len(route) > 1 else route[0]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.log.append(request)
        reply = self._reply_for(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        status, body = reply.status, reply.body
        matched_etag = reply.etag and request.headers.get("if-none-match") == reply.etag
        matched_date = reply.last_modified and request.headers.get("if-modified-since") == reply.last_modified
        if status == 200 and (matched_etag or (matched_date and "if-none-match" not in request.headers)):
            status, body = 304, b""
        request.status = status
        handler.send_response(status)
        headers = dict(reply.headers)
        if reply.etag:
            headers["ETag"] = reply.etag
        if reply.last_modified:
            headers["Last-Modified"] = reply.last_modified
        for name, value in headers.items():
            handler.send_header(name, value)
        if status != 304:
            handler.send_header("Content-Length", str(len(body)))
        if reply.truncate_to is not None:
            handler.send_header("Connection", "close")
        handler.end_headers()
        sent = body if reply.truncate_to is None else body[: reply.truncate_to]
        size, every = reply.trickle or (len(sent) or 1, 0.0)
        try:
            for start in range(0, len(sent), size):
                handler.wfile.write(sent[start : start + size])
                handler.wfile.flush()
                time.sleep(every)
        except (BrokenPipeError, ConnectionResetError):
            return
        request.sent = len(sent)
        if reply.truncate_to is not None:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)


def dead_url(path: str = "/file.json") -> str:
    """A URL on a local port where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def json_reply(document: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(document).encode(), {"Content-Type": "application/json"})
