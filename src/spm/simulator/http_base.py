"""Plumbing shared by the simulated sources: requests, responses, parameters, fault injection.

Each source is a `SourceApp`: it turns a `Request` into a `Response` and marks data answers
(`Response.data`), on which `SourceApp.respond` then plays the transport faults.
"""

from __future__ import annotations

import abc
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson

from spm.simulator.faults import FaultLog, Faults, url_picked

log = logging.getLogger(__name__)


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict
    body: bytes
    base_url: str

    @property
    def url(self) -> str:
        """Path and query: what identifies a page for the faults."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def params(self, allowed: tuple[str, ...], repeatable: tuple[str, ...] = ()) -> dict[str, list[str]]:
        """Query parameters; unknown or wrongly repeated ones are a 400."""
        params = parse_qs(self.query, keep_blank_values=True)
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise HttpError(400, f"unknown parameter(s) {', '.join(unknown)}; expected {', '.join(allowed)}")
        for name, values in params.items():
            if len(values) > 1 and name not in repeatable:
                raise HttpError(400, f"parameter {name} is given {len(values)} times; give it once")
        return params


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    data: bool = False  # a data answer: transport faults may replace or damage it

    @classmethod
    def json(cls, status: int, obj, data: bool = False) -> "Response":
        return cls(status, orjson.dumps(obj), "application/json", data=data)


def int_param(params: dict, name: str, default: int | None = None, minimum: int = 0) -> int:
    if name not in params:
        if default is None:
            raise HttpError(400, f"parameter {name} is required")
        return default
    text = params[name][0]
    try:
        value = int(text)
    except ValueError:
        raise HttpError(400, f"parameter {name}={text!r} is not a whole number") from None
    if value < minimum:
        raise HttpError(400, f"parameter {name}={value} must be at least {minimum}")
    return value


def required(params: dict, name: str) -> str:
    if name not in params or not params[name][0]:
        raise HttpError(400, f"parameter {name} is required")
    return params[name][0]


class SourceApp(abc.ABC):
    """One simulated source system."""

    name = "source"

    def __init__(self, world, faults: Faults):
        self.world = world
        self.config = world.config
        self.faults = faults
        self.log = FaultLog()

    @abc.abstractmethod
    def handle(self, req: Request) -> Response:
        """Answer one request of the source's contract."""

    def error(self, status: int, message: str) -> Response:
        return Response.json(status, {"error": {"code": status, "message": message}})

    def respond(self, req: Request) -> Response:
        try:
            resp = self.handle(req)
        except HttpError as exc:
            resp = self.error(exc.status, exc.message)
        if resp.status in (400, 401, 404):
            self.log.count(f"http_{resp.status}")
        if resp.data:
            self.log.count("requests")
            resp = self._transport_faults(req, resp)
        return resp

    def _picked(self, fault: str, url: str, share: float) -> bool:
        return url_picked(self.config.seed, fault, url, share) and self.log.attempt(fault, url) <= self.faults.failing_attempts

    def _transport_faults(self, req: Request, resp: Response) -> Response:
        f, url = self.faults, req.url
        if f.slow_seconds > 0 and url_picked(self.config.seed, "slow", url, f.slow_share):
            self.log.count("slow")
            time.sleep(f.slow_seconds)
        if self._picked("rate_limit", url, f.rate_limit_share):
            self.log.count("rate_limit")
            resp = self.error(429, "too many requests (simulated); retry after the given seconds")
            resp.headers["Retry-After"] = str(f.retry_after_seconds)
            return resp
        if self._picked("errors", url, f.error_share):
            self.log.count("errors")
            return self.error(f.error_status, "simulated server failure; retry later")
        if resp.content_type == "application/json" and self._picked("truncate", url, f.truncate_share):
            self.log.count("truncate")
            resp.body = resp.body[: len(resp.body) // 2]
        return resp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: connectors use sessions
    server: "SourceServer"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and delayed ACKs
        # add 40 ms to every keep-alive response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(method, parts.path, parts.query, self.headers, body, self.server.base_url)
        app = self.server.app
        try:
            resp = app.respond(req)
        except Exception:  # a simulator bug must still answer, and say so
            log.exception("%s simulator failed on %s %s", app.name, method, self.path)
            resp = app.error(500, "internal simulator error (see the simulator log)")
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler API
        log.debug("%s %s", self.address_string(), format % args)


class SourceServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: SourceApp, host: str, port: int):
        super().__init__((host, port), _Handler)
        self.app = app
        self.base_url = f"http://{host}:{self.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sim-{self.app.name}", daemon=True)
        self._thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()
