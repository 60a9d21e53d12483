"""A local HTTP server of feeds, for the feed source's tests and the sources benchmark.

It serves on 127.0.0.1 (a free port) from a daemon thread, one thread per connection, whatever
each path is set to answer, and records every request so tests can check what was sent:

    with FeedServer() as server:
        server.serve("/news.xml", RSS, etag='"v1"')       # 200, or 304 to a matching request
        server.serve("/gone.xml", b"", status=404)
        server.serve("/busy.xml", b"", status=429, headers={"Retry-After": "120"})
        server.hang("/stuck.xml")                          # reads the request, never answers
        server.trickle("/slow.xml", 0.1)                   # answers a byte at a time, forever
        server.huge("/big.xml", 11 * 1024 * 1024)          # a body of that many bytes
        source = FeedSource("news", server.url("/news.xml"), home=...)
        server.requests_to("/news.xml")[-1].headers["If-None-Match"]

`latency` (seconds, for every request, or per path with `serve(..., latency=)`) delays each
answer: the benchmark serves 100 feeds with `FeedServer(latency=0.2)`. Stopping (leaving the
`with` block) releases hanging, trickling and delayed handlers at once. An unknown path is 404.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

RSS_TYPE = "application/rss+xml; charset=utf-8"
_FILLER = b"<!-- filler -->" * 4096  # 60 KiB, repeated to make huge bodies


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    content_type: str = RSS_TYPE
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)  # sent as they are (Retry-After...)
    etag: str | None = None  # sent, and a matching If-None-Match gets 304
    last_modified: str | None = None  # sent, and an If-Modified-Since not before it gets 304
    latency: float = 0.0  # seconds before answering, on top of the server's
    gzip: bool = False  # compress the body for clients that accept gzip
    hang: bool = False  # never answer (until the server stops)
    trickle: float | None = None  # send one byte every so many seconds, without end
    size: int | None = None  # send this many bytes of filler instead of `body`
    declare_length: bool = True  # send Content-Length (else the body ends when the socket does)


@dataclass(frozen=True)
class Recorded:
    """A request the server received; `headers` looks names up in any case."""

    path: str
    headers: Message


class FeedServer:
    """Feeds over HTTP on 127.0.0.1; see the module docstring."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[Recorded] = []
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # Setting answers

    def serve(self, path: str, body: bytes | str = b"", **route: Any) -> None:
        """Answer `path` with `body`; keyword arguments are the fields of `Route`."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.route(path, Route(body=data, **route))

    def route(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[path] = route

    def hang(self, path: str) -> None:
        """Read requests to `path` and never answer them, until the server stops."""
        self.route(path, Route(hang=True))

    def trickle(self, path: str, interval: float) -> None:
        """Answer 200 and then a byte every `interval` seconds, never finishing."""
        self.route(path, Route(trickle=interval))

    def huge(self, path: str, size: int, *, declare_length: bool = True) -> None:
        """Answer with `size` bytes (without Content-Length when `declare_length` is False)."""
        self.route(path, Route(size=size, declare_length=declare_length))

    # Reading what happened

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not started"
        return int(self._httpd.server_address[1])

    def url(self, path: str, *, userinfo: str | None = None) -> str:
        """The address of `path`, with `user:password` in it when given."""
        credentials = f"{userinfo}@" if userinfo else ""
        return f"http://{credentials}127.0.0.1:{self.port}{path}"

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    # Starting and stopping

    def start(self) -> FeedServer:
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.feeds = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release every handler still waiting to answer."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # Used by the handler

    def _received(self, path: str, headers: Message) -> Route | None:
        with self._lock:
            self.requests.append(Recorded(path, headers))
            return self._routes.get(path)

    def _pause(self, seconds: float) -> bool:
        """Wait `seconds`; False when the server stopped meanwhile."""
        return seconds <= 0 or not self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the benchmark connects to many feeds at once
    feeds: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up mid-answer (a timeout, a size cap) is what tests do


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        feeds = self.server.feeds
        route = feeds._received(urlsplit(self.path).path, self.headers)
        if route is None:
            self._answer(Route(status=404, content_type="text/plain"), b"no such feed")
            return
        if not feeds._pause(feeds.latency + route.latency):
            return
        if route.hang:
            feeds._stopping.wait()
        elif route.trickle is not None:
            self._trickle(route.trickle)
        elif route.size is not None:
            self._huge(route)
        elif _not_modified(route, self.headers):
            self._answer(Route(status=304, etag=route.etag, last_modified=route.last_modified))
        else:
            self._answer(route, route.body)

    def _answer(self, route: Route, body: bytes = b"") -> None:
        headers = _validators(route)
        if route.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.send_response(route.status)
        if route.status != 304:
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, interval: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", RSS_TYPE)
        self.end_headers()
        self.wfile.write(b"<")
        self.wfile.flush()
        while self.server.feeds._pause(interval):
            self.wfile.write(b" ")
            self.wfile.flush()

    def _huge(self, route: Route) -> None:
        size = route.size or 0
        self.send_response(200)
        self.send_header("Content-Type", RSS_TYPE)
        if route.declare_length:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        while sent < size and not self.server.feeds._stopping.is_set():
            piece = _FILLER[: size - sent]
            self.wfile.write(piece)
            sent += len(piece)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read `requests` instead


def _validators(route: Route) -> dict[str, str]:
    headers = dict(route.headers)
    if route.etag:
        headers["ETag"] = route.etag
    if route.last_modified:
        headers["Last-Modified"] = route.last_modified
    return headers


def _not_modified(route: Route, headers: Message) -> bool:
    """Whether a conditional request matches the route's validators (RFC 9110 13.2.2)."""
    tags = headers.get("If-None-Match")
    if tags is not None:  # takes precedence over If-Modified-Since
        wanted = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return route.etag is not None and ("*" in wanted or route.etag.removeprefix("W/") in wanted)
    since = headers.get("If-Modified-Since")
    if since is None or route.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def rss(
    *items: tuple[str, str, str],
    title: str = "Blog",
    published: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
) -> str:
    """An RSS 2.0 feed of (guid, title, link) items, published an hour before `published`."""
    date = format_datetime(published - timedelta(hours=1), usegmt=True)
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{name}</title><link>{link}</link>"
        f"<description>About {name}.</description><category>Diablo 4</category>"
        f"<pubDate>{date}</pubDate></item>"
        for guid, name, link in items
    )
    channel = f"<channel><title>{title}</title>{entries}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def atom(
    *items: tuple[str, str, str], published: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
) -> str:
    """An Atom 1.0 feed of (id, title, link) entries, updated half an hour before `published`."""
    date = (published - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = "".join(
        f'<entry><id>{ident}</id><title>{name}</title><link href="{link}"/>'
        f"<summary>&lt;p&gt;About {name}.&lt;/p&gt;</summary>"
        f'<category term="Diablo 4"/><updated>{date}</updated></entry>'
        for ident, name, link in items
    )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>News</title>'
        f"<id>urn:news</id><updated>2026-03-02T08:30:00Z</updated>{entries}</feed>"
    )
