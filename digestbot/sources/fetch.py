"""Fetching a feed over HTTP(S): one conditional GET, bounded in time and in size.

feedparser fetches with no timeout and hides network errors, so `FeedSource` asks this module
for the bytes. Every failure is a `FetchFailure` whose reason completes a sentence about the
feed's address ("did not answer within 20 s"); the address's credentials go as Basic auth, never
into a message, and never along a redirect.
"""

from __future__ import annotations

import base64
import functools
import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
import zlib
from concurrent.futures import Future, wait
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from digestbot import __version__

MAX_BYTES = 10 * 1024 * 1024  # the largest feed read, before and after decompression
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
_CHUNK = 64 * 1024


class FetchFailure(Exception):
    """A fetch failed; `reason` completes a sentence whose subject is the feed's address."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Message
    url: str  # after redirects, without credentials

    def for_parser(self) -> dict[str, str]:
        # No Content-Location: feedparser would resolve guids against it (`entries` resolves
        # the links, against the address without credentials).
        headers = {}
        for name in ("Content-Type", "Content-Language"):
            if name in self.headers:
                headers[name.lower()] = self.headers[name]
        return headers


def request_for(url: str, etag: str = "", last_modified: str = "") -> urllib.request.Request:
    """A GET of `url`, conditional on the validators of the copy in hand (if any)."""
    parts = urlsplit(url)
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    request = urllib.request.Request(bare)
    request.add_header("User-Agent", f"digestbot/{__version__}")
    request.add_header("Accept", ACCEPT)
    request.add_header("Accept-Encoding", "gzip, deflate")
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        # Unredirected: a redirect to another host must not take the credentials along.
        request.add_unredirected_header(
            "Authorization", "Basic " + base64.b64encode(pair.encode()).decode()
        )
    if etag:
        request.add_header("If-None-Match", etag)
    if last_modified:
        request.add_header("If-Modified-Since", last_modified)
    return request


def fetch_within(request: urllib.request.Request, timeout: float) -> Answer:
    """Fetch in a worker thread and wait `timeout` in all, whatever the server trickles.

    A socket timeout bounds each read, not the whole: a server sending a byte at a time, or a
    slow name lookup, would hold the caller far longer. A worker left behind ends by itself at
    its next socket timeout or chunk.
    """
    result: Future[Answer] = Future()
    deadline = time.monotonic() + timeout

    def work() -> None:
        try:
            result.set_result(_download(request, timeout, deadline))
        except BaseException as error:  # handed to the caller, who raises it
            result.set_exception(error)

    threading.Thread(target=work, name="feed-fetch", daemon=True).start()
    done, _ = wait([result], timeout)
    if not done:
        raise FetchFailure(f"did not answer within {timeout:g} s")
    return result.result()


def _download(request: urllib.request.Request, timeout: float, deadline: float) -> Answer:
    host = request.host
    try:
        with _opener().open(request, timeout=timeout) as response:
            body = _read_body(response, timeout, deadline)
            return Answer(response.status, body, response.headers, response.url)
    except urllib.error.HTTPError as error:
        with error:
            if error.code == HTTPStatus.NOT_MODIFIED:
                return Answer(error.code, b"", error.headers, error.url)
            raise FetchFailure(_http_reason(error.code, error.headers)) from None
    except urllib.error.URLError as error:
        raise FetchFailure(_network_reason(error.reason, host, timeout)) from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise FetchFailure(_network_reason(error, host, timeout)) from None


def _opener() -> urllib.request.OpenerDirector:
    """urllib's HTTP(S) handlers only: a redirect cannot lead to a file:// or ftp:// address."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=_tls()),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every fetch: making one loads the system's certificates (16 ms of
    CPU), which urllib does for each HTTPSHandler since Python 3.12 and for each connection
    before."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])  # as urllib's own
    return context


def _read_body(response: http.client.HTTPResponse, timeout: float, deadline: float) -> bytes:
    """The body in chunks, decompressed, refused as soon as it passes MAX_BYTES."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise FetchFailure(_too_large())
    body = _Body(response.headers.get("Content-Encoding", ""))
    # read1: whatever one read brings; read(n) would wait for all n bytes of a trickle.
    while chunk := response.read1(_CHUNK):
        if time.monotonic() > deadline:
            raise FetchFailure(f"did not answer within {timeout:g} s")
        body.add(chunk)
    return body.value()


class _Body:
    """Bytes as they come, inflated when compressed, never more than MAX_BYTES of them."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding.strip().lower()
        self._compressed = self._encoding in ("gzip", "x-gzip", "deflate")
        self._inflater: Any = None  # made at the first two bytes, which say how they are packed
        self._head = b""
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        if not self._compressed:
            self._keep(chunk)
            return
        if self._inflater is None:
            self._head += chunk
            if len(self._head) < 2:  # a trickle may bring one byte at a time
                return
            self._inflater = zlib.decompressobj(_window(self._encoding, self._head))
            chunk = self._head
        try:
            while chunk:
                # Bounded output: a small compressed bomb cannot fill the memory.
                self._keep(self._inflater.decompress(chunk, MAX_BYTES - self._size + 1))
                chunk = self._inflater.unconsumed_tail
        except zlib.error:
            raise FetchFailure("sent a corrupt compressed body") from None

    def value(self) -> bytes:
        if self._inflater is None and self._head:  # a one-byte body: not compressed data
            raise FetchFailure("sent a corrupt compressed body")
        if self._inflater is not None:
            self._keep(self._inflater.flush())
        return b"".join(self._parts)

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > MAX_BYTES:
            raise FetchFailure(_too_large())
        self._parts.append(data)


def _window(encoding: str, start: bytes) -> int:
    """How to inflate a body starting so: after a gzip or zlib header (32 + MAX_WBITS reads
    either), or, for `deflate` without its zlib header, raw as some servers send it."""
    zlib_header = start[0] & 0x0F == 8 and int.from_bytes(start[:2]) % 31 == 0
    raw = encoding == "deflate" and not zlib_header
    return -zlib.MAX_WBITS if raw else 32 + zlib.MAX_WBITS


def _too_large() -> str:
    return f"sent more than {MAX_BYTES // (1024 * 1024)} MB, more than a feed should be"


def _http_reason(code: int, headers: Message) -> str:
    status = f"HTTP {code} {_phrase(code)}".rstrip()
    if code in (401, 403):
        return f"refused access ({status}): check the address and its credentials"
    if code in (404, 410):
        return f"has no feed there ({status}): check the address"
    if code == 429:
        retry = " ".join(headers.get("Retry-After", "").split())[:80]
        after = f"after {retry} s" if retry.isdigit() else f"after {retry}" if retry else "later"
        return f"is limiting requests ({status}); it asks to retry {after}"
    if code >= 500:
        return f"failed on its side ({status}); it may work again later"
    return f"answered {status}"


def _phrase(code: int) -> str:
    # The standard phrase, not the server's: that one is any text the server chose.
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def _network_reason(reason: object, host: str, timeout: float) -> str:
    """Why `host` could not be fetched, in the words a person looks for."""
    if isinstance(reason, TimeoutError):
        return f"did not answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return f"cannot be reached: {host} refused the connection (is the server running?)"
    if isinstance(reason, socket.gaierror):
        return f"cannot be reached: the host {host} was not found (check the address)"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"cannot be reached securely: {host}'s certificate is not trusted"
    if isinstance(reason, ssl.SSLError):
        return f"cannot be reached securely: {reason.reason or 'TLS failed'}"
    if isinstance(reason, http.client.InvalidURL | ValueError):
        return "is not a valid address"
    if isinstance(reason, http.client.HTTPException | ConnectionError):
        return f"broke off its answer ({type(reason).__name__})"
    if isinstance(reason, OSError):
        return f"cannot be reached: {reason.strerror or type(reason).__name__}"
    return f"cannot be fetched: {reason}"
