"""A fake Slack Web API over real HTTP, for tests.

`FakeSlack` serves the few Web API methods digestbot uses from a `ThreadingHTTPServer` on
127.0.0.1 in a background thread; point slack-sdk at it with
`WebClient(token=fake.token, base_url=fake.url)`. Like Slack it checks the token and scopes,
channel membership, Block Kit limits, image "downloads" and rate limits, with Slack's error
shapes. Tests inject network failures (`fail_next`, `fail_rate`) and then assert on what Slack
accepted: `posts`, `messages_in(channel)` (or `channels[id].messages`), `responses`, and on
every request in `calls`.

Socket Mode: `apps.connections.open` (app-level token `fake.app_token`) hands out
`ws://127.0.0.1:PORT/socket/<n>`, served by a minimal RFC 6455 WebSocket server on the same port.
A connecting client gets Slack's `hello`; `send_slash_command` pushes an envelope to it, and what
it sends back lands in `socket_acks` (`wait_for_ack`). Close Socket Mode clients before `stop()`:
stop sends close frames, and a client that auto-reconnects tries again (and logs errors) at its
next ping_interval.
`close_socket_client` closes slack-sdk's builtin client (or a Bolt SocketModeHandler) quickly.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import math
import random
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAIL_MODES = ("503_before", "503_after", "drop_before", "drop_after", "slow_after")
DEFAULT_SCOPES = frozenset(
    {
        "chat:write",
        "chat:write.public",
        "channels:join",
        "channels:read",
        "channels:history",
        "groups:read",
        "commands",
    }
)
TEAM_ID, BOT_USER_ID, BOT_ID, APP_ID = "T0001", "U0BOT", "B0001", "A0001"
MAX_PAGE = 1000  # Slack caps `limit` on list methods at about 1000

# (status, body, extra headers); a str body is sent as text/plain (response URLs answer "ok").
Reply = tuple[int, dict[str, Any] | str, dict[str, str]]


@dataclass
class FakeChannel:
    """A channel as the fake sees it; `messages` are in posting order."""

    id: str
    name: str
    private: bool = False
    archived: bool = False
    member: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """The channel object Slack returns from conversations.* methods."""
        return {
            "id": self.id,
            "name": self.name,
            "is_private": self.private,
            "is_archived": self.archived,
            "is_member": self.member,
            "is_channel": not self.private,
            "is_group": self.private,
        }


class ApiError(Exception):
    """An `ok: false` answer; `extra` fields are merged into the body."""

    def __init__(
        self, error: str, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.reply: Reply = (status, {"ok": False, "error": error, **extra}, headers or {})


class _Bucket:
    """Token bucket: `rate` tokens per second, at most `capacity` saved up."""

    def __init__(self, rate: float, capacity: int) -> None:
        self.rate, self.capacity = rate, float(capacity)
        self.tokens, self.stamp = float(capacity), time.monotonic()

    def wait(self) -> float:
        """Seconds until a token is available; 0 when one is."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


# --- Block Kit validation (the limits in shared/docs/slack-facts.md) -------------------------


class BlockError(Exception):
    """One Block Kit violation, formatted the way Slack reports it."""

    def __init__(self, msg: str, pointer: str) -> None:
        super().__init__(f"{msg} [json-pointer:{pointer}]")


def _check(ok: bool, msg: str, pointer: str) -> None:
    if not ok:
        raise BlockError(msg, pointer)


def _check_str(value: Any, limit: int, pointer: str) -> None:
    _check(isinstance(value, str), "must be a string", pointer)
    _check(len(value) > 0, "must be more than 0 characters", pointer)
    _check(len(value) <= limit, f"must be less than {limit + 1} characters", pointer)


def _check_items(items: Any, most: int, pointer: str, least: int = 1) -> None:
    _check(isinstance(items, list), "must provide an array", pointer)
    _check(len(items) >= least, f"must provide at least {least} items", pointer)
    _check(len(items) <= most, f"no more than {most} items allowed", pointer)


def _text_obj(obj: Any, ptr: str, limit: int = 3000, kinds: tuple[str, ...] = ()) -> None:
    kinds = kinds or ("plain_text", "mrkdwn")
    _check(isinstance(obj, dict), "must provide an object", ptr)
    _check(obj.get("type") in kinds, f"must be one of: {', '.join(kinds)}", f"{ptr}/type")
    _check_str(obj.get("text"), limit, f"{ptr}/text")


def _image(obj: dict[str, Any], ptr: str) -> None:
    _check("image_url" in obj, "missing required field: image_url", ptr)
    url = obj["image_url"]
    _check_str(url, 3000, f"{ptr}/image_url")
    parts = urlsplit(url)
    _check(
        parts.scheme in ("http", "https") and bool(parts.netloc),
        "must be a valid http(s) URL",
        f"{ptr}/image_url",
    )
    _check("alt_text" in obj, "missing required field: alt_text", ptr)
    _check_str(obj["alt_text"], 2000, f"{ptr}/alt_text")


def _element(obj: Any, ptr: str) -> None:
    """An accessory or actions element; interactive types other than buttons pass through."""
    _check(isinstance(obj, dict), "must provide an object", ptr)
    if obj.get("type") == "image":
        _image(obj, ptr)
    elif obj.get("type") == "button":
        _text_obj(obj.get("text"), f"{ptr}/text", 75, ("plain_text",))
        if "url" in obj:
            _check_str(obj["url"], 3000, f"{ptr}/url")


def _section(block: dict[str, Any], ptr: str) -> None:
    _check("text" in block or "fields" in block, "must provide either text or fields", ptr)
    if "text" in block:
        _text_obj(block["text"], f"{ptr}/text")
    if "fields" in block:
        _check_items(block["fields"], 10, f"{ptr}/fields")
        for i, item in enumerate(block["fields"]):
            _text_obj(item, f"{ptr}/fields/{i}", 2000)
    if "accessory" in block:
        _element(block["accessory"], f"{ptr}/accessory")


def _context(block: dict[str, Any], ptr: str) -> None:
    _check_items(block.get("elements"), 10, f"{ptr}/elements")
    for i, item in enumerate(block["elements"]):
        if isinstance(item, dict) and item.get("type") == "image":
            _image(item, f"{ptr}/elements/{i}")
        else:
            _text_obj(item, f"{ptr}/elements/{i}")


def _image_block(block: dict[str, Any], ptr: str) -> None:
    _image(block, ptr)
    if "title" in block:
        _text_obj(block["title"], f"{ptr}/title", 2000, ("plain_text",))


def _actions(block: dict[str, Any], ptr: str) -> None:
    _check_items(block.get("elements"), 25, f"{ptr}/elements")
    for i, item in enumerate(block["elements"]):
        _element(item, f"{ptr}/elements/{i}")


def _no_check(block: dict[str, Any], ptr: str) -> None:
    """Block types digestbot does not send: accepted as they are."""


_BLOCK_CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "section": _section,
    "context": _context,
    "header": lambda b, p: _text_obj(b.get("text"), f"{p}/text", 150, ("plain_text",)),
    "image": _image_block,
    "actions": _actions,
    **dict.fromkeys(("divider", "rich_text", "markdown", "input", "file", "video"), _no_check),
}


def validate_blocks(blocks: list[Any]) -> None:
    """Raise BlockError for the first violation of Slack's Block Kit limits."""
    _check_items(blocks, 50, "/blocks", least=0)
    seen: set[str] = set()
    for n, block in enumerate(blocks):
        ptr = f"/blocks/{n}"
        _check(isinstance(block, dict), "must provide an object", ptr)
        check = _BLOCK_CHECKS.get(block.get("type", ""))
        if check is None:
            raise BlockError(f"unsupported type: {block.get('type')}", f"{ptr}/type")
        if "block_id" in block:
            _check_str(block["block_id"], 255, f"{ptr}/block_id")
            _check(block["block_id"] not in seen, "duplicate block_id", f"{ptr}/block_id")
            seen.add(block["block_id"])
        check(block, ptr)


def image_urls(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """Every image URL Slack would download, with its json-pointer, in message order."""
    for n, block in enumerate(blocks):
        ptr, kind = f"/blocks/{n}", block.get("type")
        accessory = block.get("accessory") or {}
        if kind == "image":
            yield block["image_url"], f"{ptr}/image_url"
        elif kind == "section" and accessory.get("type") == "image":
            yield accessory["image_url"], f"{ptr}/accessory/image_url"
        elif kind == "context":
            for m, item in enumerate(block["elements"]):
                if isinstance(item, dict) and item.get("type") == "image":
                    yield item["image_url"], f"{ptr}/elements/{m}/image_url"


def _flag(value: Any) -> bool | None:
    """Slack's booleans: JSON true, or "true"/"1" in form and query encodings."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true")


def _json_field(value: Any, error: str) -> Any:
    """Form encoding sends structured fields (blocks, metadata) as JSON strings."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ApiError(error) from None


def _page(items: list[dict[str, Any]], params: dict[str, Any]) -> tuple[list[Any], str]:
    """Cursor pagination: one page and the next cursor ("" after the last page)."""
    try:
        limit = min(max(int(params.get("limit") or 100), 1), MAX_PAGE)
        cursor = str(params.get("cursor") or "")
        start = int(base64.b64decode(cursor).decode().removeprefix("next:")) if cursor else 0
    except ValueError:
        raise ApiError("invalid_cursor") from None
    end = start + limit
    following = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], following


# --- WebSocket (RFC 6455), just enough for Socket Mode ----------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_WAIT = 1.0  # seconds stop() lets a client answer a close frame before cutting it off


def ws_accept(key: str) -> str:
    """The Sec-WebSocket-Accept value for a Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_frame(opcode: int, data: bytes) -> bytes:
    """One final, unmasked frame (servers never mask)."""
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + data


class ProtocolError(Exception):
    """The client broke RFC 6455; the connection is closed with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def _read_exactly(stream: Any, size: int) -> bytes:
    data = stream.read(size) if size else b""
    if len(data) < size:
        raise EOFError
    return data


def ws_read_frame(stream: Any) -> tuple[bool, int, bytes]:
    """(fin, opcode, unmasked payload) of the next client frame; EOFError when the peer is gone."""
    b1, b2 = _read_exactly(stream, 2)
    fin, opcode, size = bool(b1 & 0x80), b1 & 0x0F, b2 & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _read_exactly(stream, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _read_exactly(stream, 8))
    if not b2 & 0x80:
        raise ProtocolError(1002, "client frames must be masked")
    if b1 & 0x70:
        raise ProtocolError(1002, "no extension negotiated")
    if opcode >= 0x8 and (size > 125 or not fin):
        raise ProtocolError(1002, "bad control frame")
    mask = _read_exactly(stream, 4)
    data = _read_exactly(stream, size)
    key = (mask * (size // 4 + 1))[:size]
    data = (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
    return fin, opcode, data


class _WebSocket:
    """The server end of one Socket Mode connection; `send` may be called from any thread."""

    def __init__(self, sock: socket.socket, number: int) -> None:
        self.sock, self.number = sock, number
        self.thread = threading.current_thread()  # the handler thread serving it
        self.ready = False  # hello sent
        self.close_sent = False
        self._send_lock = threading.Lock()

    def send(self, opcode: int, data: bytes) -> None:
        with self._send_lock:
            if self.close_sent:
                raise ConnectionError("WebSocket is closing")
            self.close_sent = opcode == OP_CLOSE
            self.sock.sendall(ws_frame(opcode, data))

    def send_text(self, text: str) -> None:
        self.send(OP_TEXT, text.encode())

    def close(self, code: int, reason: str = "") -> None:
        """Send a close frame unless one was sent already; a gone client is fine."""
        with contextlib.suppress(OSError):
            self.send(OP_CLOSE, struct.pack("!H", code) + reason.encode())

    def cut(self) -> None:
        """Hang up without waiting for the client (wakes the handler thread's read)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


def close_socket_client(client: Any) -> None:
    """Close slack-sdk's builtin SocketModeClient (or a Bolt SocketModeHandler) without its 1 s
    wait: its message loop blocks in `message_queue.get(timeout=1)` and only then sees `closed`,
    so mark it closed and wake it before close(). (The fake's pings end its other wait, a
    blocking recv of up to 3 s.)"""
    sm = getattr(client, "client", client)  # SocketModeHandler.client is the SocketModeClient
    sm.closed = True
    sm.message_queue.put(None)  # process_message skips None
    client.close()


# --- the fake -------------------------------------------------------------------------------


class FakeSlack:
    """A fake Slack workspace served over HTTP; see the module docstring."""

    def __init__(
        self,
        *,
        token: str = "xoxb-fake-token",
        app_token: str = "xapp-1-fake-app-token",
        latency: float = 0.0,
        seed: int = 0,
        scopes: set[str] | None = None,
        channel_rate: float | None = None,
        channel_burst: int = 3,
        workspace_per_minute: int | None = None,
        workspace_burst: int = 10,
    ) -> None:
        self.token, self.app_token, self.latency = token, app_token, latency
        self.scopes: set[str] = set(DEFAULT_SCOPES if scopes is None else scopes)
        self.channels: dict[str, FakeChannel] = {}
        self.broken_images: set[str] = set()
        self.revoked = False
        self.fail_rate = 0.0
        self.fail_modes: tuple[str, ...] = FAIL_MODES
        self.fail_methods: set[str] | None = None
        self.slow_seconds = 5.0
        self.posts: list[dict[str, Any]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.responses: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []  # bugs in the fake itself (answered with HTTP 500)
        self.on_post: Callable[[dict[str, Any]], None] | None = None
        self._channel_rate, self._channel_burst = channel_rate, channel_burst
        self._channel_buckets: dict[str, _Bucket] = {}
        self._workspace = (
            _Bucket(workspace_per_minute / 60, workspace_burst) if workspace_per_minute else None
        )
        self._random = random.Random(seed)
        self._injected: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()  # wakes handlers sleeping for latency / slow_after
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._last_ts_us = 0
        self._answers: list[tuple[str, int]] = []
        self.socket_acks: list[dict[str, Any]] = []  # every message Socket Mode clients sent
        self._sockets: list[_WebSocket] = []  # open WebSocket connections, oldest first
        self._socket_urls = 0  # socket URLs issued by apps.connections.open
        # Slack pings Socket Mode clients; so does the fake, often, because each ping wakes the
        # builtin client's blocking recv, which otherwise holds up its close() for up to 3 s.
        self.socket_ping_interval = 0.1
        self._pinger: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeSlack:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket, then close every WebSocket connection
        (close frame 1001, and a hang-up if the client does not leave within CLOSE_WAIT seconds)
        and wait for their threads; safe to call twice."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # first, so a reconnecting client is refused at once
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None
        with self._lock:  # no connection registers, nor pinger starts, once _stopping is set
            sockets, pinger, self._pinger = list(self._sockets), self._pinger, None
        if pinger is not None:
            pinger.join()
        for ws in sockets:
            ws.close(1001, "going away")
        deadline = time.monotonic() + CLOSE_WAIT
        for ws in sockets:
            ws.thread.join(max(0.0, deadline - time.monotonic()))
            if ws.thread.is_alive():
                ws.cut()
                ws.thread.join()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The base_url for slack-sdk's WebClient."""
        return f"{self.origin}/api/"

    def response_url(self, key: str = "r1") -> str:
        """A slash-command response URL whose JSON POSTs land in `responses`."""
        return f"{self.origin}/response/{key}"

    # test helpers

    def add_channel(
        self, name: str, *, private: bool = False, archived: bool = False, member: bool = True
    ) -> str:
        """Create a channel (name without '#') and return its id: C0000001, or G... if private."""
        with self._lock:
            if any(c.name == name for c in self.channels.values()):
                raise ValueError(f"channel name taken: {name}")
            cid = f"{'G' if private else 'C'}{len(self.channels) + 1:07d}"
            self.channels[cid] = FakeChannel(cid, name, private, archived, member)
            return cid

    def channel_id(self, name: str) -> str:
        """The id of the channel called `name` ('#news' or 'news'); KeyError if there is none."""
        with self._lock:
            return self._lookup(name, by_id=False).id

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Copies of every message stored in a channel (id, '#name' or 'name'), replies included,
        in posting order; KeyError for an unknown channel."""
        with self._lock:
            return copy.deepcopy(self._lookup(channel, by_id=True).messages)

    def _lookup(self, ref: str, *, by_id: bool) -> FakeChannel:
        if by_id and ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"no such channel: {ref}")

    def fail_next(self, method: str, mode: str, count: int = 1) -> None:
        """Make the next `count` requests to `method` fail with `mode` (one of FAIL_MODES).

        Response URL posts count as the method "response_url".
        """
        if mode not in FAIL_MODES:
            raise ValueError(f"unknown fail mode {mode!r}; expected one of {FAIL_MODES}")
        with self._lock:
            self._injected.setdefault(method, []).extend([mode] * count)

    def statuses(self, method: str) -> list[int]:
        """The HTTP status of every answer to `method` (0: the connection was dropped)."""
        with self._lock:
            return [status for name, status in self._answers if name == method]

    def _answered(self, method: str, status: int) -> None:
        with self._lock:
            self._answers.append((method, status))

    def wait_for_posts(self, n: int, timeout: float = 10) -> bool:
        """Block until at least `n` posts were accepted; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.posts) >= n, timeout)

    # Socket Mode

    def socket_connected(self, timeout: float = 10) -> bool:
        """Block until a Socket Mode client is connected (its hello sent); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: any(ws.ready for ws in self._sockets), timeout)

    def send_slash_command(self, payload: dict[str, Any]) -> str:
        """Push a slash_commands envelope to the newest connection; returns its envelope_id.

        `payload` is sent as given (command, text, user_id, response_url, ...).
        RuntimeError when no client is connected.
        """
        envelope_id = str(uuid.uuid4())
        self._send_envelope(
            {
                "envelope_id": envelope_id,
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": payload,
            }
        )
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 5) -> dict[str, Any] | None:
        """Block until the client acknowledged `envelope_id`; that ack, or None on timeout."""

        def find() -> dict[str, Any] | None:
            return next((a for a in self.socket_acks if a.get("envelope_id") == envelope_id), None)

        with self._changed:
            self._changed.wait_for(lambda: find() is not None, timeout)
            return find()

    def _send_envelope(self, envelope: dict[str, Any]) -> None:
        with self._lock:
            ready = [ws for ws in self._sockets if ws.ready]
        if not ready:
            raise RuntimeError("no Socket Mode client is connected")
        ready[-1].send_text(json.dumps(envelope))

    def _socket_number(self, path: str) -> int | None:
        """The connection number of an issued `/socket/<n>` path; None for any other path."""
        number = path.removeprefix("/socket/")
        if not number.isdigit() or not 0 < int(number) <= self._socket_urls:
            return None
        return int(number)

    def _socket_opened(self, ws: _WebSocket) -> None:
        """Register a connection and greet it with Slack's hello (called by its handler)."""
        with self._lock:
            if self._stopping.is_set():  # stop() has already taken its list of connections
                raise ConnectionAbortedError("FakeSlack is stopping")
            self._sockets.append(ws)
            count = len(self._sockets)
            if self._pinger is None:
                self._pinger = threading.Thread(target=self._ping_sockets, daemon=True)
                self._pinger.start()
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": APP_ID},
        }
        ws.send_text(json.dumps(hello))
        with self._lock:
            ws.ready = True
            self._changed.notify_all()

    def _ping_sockets(self) -> None:
        """Ping every ready connection each `socket_ping_interval` seconds until stop()."""
        while not self._stopping.wait(self.socket_ping_interval):
            with self._lock:
                ready = [ws for ws in self._sockets if ws.ready]
            for ws in ready:
                with contextlib.suppress(OSError):  # closing: its handler cleans up
                    ws.send(OP_PING, b"fake")

    def _socket_closed(self, ws: _WebSocket) -> None:
        with self._lock:
            if ws in self._sockets:
                self._sockets.remove(ws)
            self._changed.notify_all()

    def _socket_message(self, text: str) -> None:
        """A text message from a client: an ack (envelope_id, maybe payload) or anything else."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        with self._lock:
            self.socket_acks.append(message if isinstance(message, dict) else {"raw": text})
            self._changed.notify_all()

    # request plumbing (called from handler threads)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _begin(self, method: str, params: dict[str, Any]) -> str | None:
        """Record the request and pick its injected failure mode, if any."""
        with self._lock:
            self.calls.append((method, dict(params)))
            if self._injected.get(method):
                return self._injected[method].pop(0)
            applies = self.fail_methods is None or method in self.fail_methods
            if applies and self.fail_rate > 0 and self._random.random() < self.fail_rate:
                return self._random.choice(self.fail_modes)
        return None

    def _run(self, action: Callable[[], Reply]) -> Reply:
        """Run a request; a bug in the fake becomes an HTTP 500 and is kept in `errors`."""
        try:
            return action()
        except Exception as exc:  # the server thread must answer something
            self.errors.append(exc)
            return 500, {"ok": False, "error": "fake_internal_error", "detail": repr(exc)}, {}

    def _record_response(self, key: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.responses.append({**body, "key": key})
            self._changed.notify_all()
        return 200, "ok", {}

    def _call_api(self, method: str, params: dict[str, Any], authorization: str) -> Reply:
        handler = self._methods().get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        try:
            with self._lock:
                if method == "apps.connections.open":
                    self._authenticate_app(params, authorization)
                else:
                    self._authenticate(params, authorization)
                body = handler(params)
                post = self.posts[-1] if method == "chat.postMessage" else None
        except ApiError as err:
            return err.reply
        if post is not None and self.on_post is not None:
            self.on_post(post)  # outside the lock, so the callback may use the fake
        return 200, {"ok": True, **body}, {}

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.list": self._conversations_list,
            "conversations.join": self._conversations_join,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
        }

    # checks shared by the methods (all run with the lock held)

    @staticmethod
    def _token(params: dict[str, Any], authorization: str) -> str:
        token = params.get("token") or authorization.removeprefix("Bearer ").strip()
        if not token:
            raise ApiError("not_authed")
        return str(token)

    def _authenticate(self, params: dict[str, Any], authorization: str) -> None:
        token = self._token(params, authorization)
        if token == self.app_token:
            raise ApiError("not_allowed_token_type")
        if token != self.token:
            raise ApiError("invalid_auth")
        if self.revoked:
            raise ApiError("token_revoked")

    def _authenticate_app(self, params: dict[str, Any], authorization: str) -> None:
        """apps.connections.open takes only the app-level token."""
        token = self._token(params, authorization)
        if token == self.token:
            raise ApiError("not_allowed_token_type")
        if token != self.app_token:
            raise ApiError("invalid_auth")

    def _need(self, scope: str) -> None:
        if scope not in self.scopes:
            provided = ",".join(sorted(self.scopes))
            raise ApiError("missing_scope", needed=scope, provided=provided)

    def _visible(self, ref: Any, *, by_name: bool) -> FakeChannel:
        """The channel for an id (or '#name'/'name' if by_name); hidden private ones are 404s."""
        ref = str(ref or "")
        channel = self.channels.get(ref)
        if channel is None and by_name:
            name = ref.removeprefix("#")
            channel = next((c for c in self.channels.values() if c.name == name), None)
        if channel is None or (channel.private and not channel.member):
            raise ApiError("channel_not_found")
        return channel

    def _writable(self, params: dict[str, Any]) -> FakeChannel:
        channel = self._visible(params.get("channel"), by_name=True)
        if channel.archived:
            raise ApiError("is_archived")
        if not channel.member and "chat:write.public" not in self.scopes:
            raise ApiError("not_in_channel")
        return channel

    def _rate_limit(self, channel_id: str) -> None:
        buckets = [self._workspace] if self._workspace else []
        if self._channel_rate:
            if channel_id not in self._channel_buckets:
                bucket = _Bucket(self._channel_rate, self._channel_burst)
                self._channel_buckets[channel_id] = bucket
            buckets.append(self._channel_buckets[channel_id])
        wait = max((b.wait() for b in buckets), default=0.0)
        if wait > 0:  # nothing is consumed, as Slack rejects the call outright
            retry_after = str(max(1, math.ceil(wait)))
            raise ApiError("ratelimited", 429, {"Retry-After": retry_after})
        for bucket in buckets:
            bucket.tokens -= 1

    def _content(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
        """Text and blocks, validated and with their images 'downloaded' as Slack does."""
        text = str(params.get("text") or "")
        blocks = _json_field(params.get("blocks"), "invalid_blocks_format")
        if blocks is not None and not isinstance(blocks, list):
            raise ApiError("invalid_blocks_format")
        if not text.strip() and not blocks:
            raise ApiError("no_text")
        if len(text) > 40000:
            raise ApiError("msg_too_long")
        try:
            validate_blocks(blocks or [])
            for url, pointer in image_urls(blocks or []):
                broken = url in self.broken_images or urlsplit(url).path.lower().endswith(".webp")
                _check(not broken, "downloading image failed", pointer)
        except BlockError as err:
            msg = str(err)
            raise ApiError(
                "invalid_blocks", errors=[msg], response_metadata={"messages": [f"[ERROR] {msg}"]}
            ) from None
        return text, blocks

    def _next_ts(self) -> str:
        """Wall-clock ts (so `oldest=time.time() - ...` works), strictly increasing."""
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    # the methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "digestbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        self._socket_urls += 1
        return {"url": f"{self.origin.replace('http', 'ws', 1)}/socket/{self._socket_urls}"}

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        self._need("chat:write")
        channel = self._writable(params)
        self._rate_limit(channel.id)
        text, blocks = self._content(params)
        thread_ts = params.get("thread_ts") or None
        parent = None
        if thread_ts:
            parent = next((m for m in channel.messages if m["ts"] == thread_ts), None)
            if parent is None:
                raise ApiError("thread_not_found")
            # A reply's ts stands for its thread (Slack advises passing the parent's ts).
            thread_ts = parent.get("thread_ts", parent["ts"])
            parent = next(m for m in channel.messages if m["ts"] == thread_ts)
        metadata = _json_field(params.get("metadata"), "invalid_metadata_format")
        if metadata is not None and not (isinstance(metadata, dict) and "event_type" in metadata):
            raise ApiError("invalid_metadata_format")
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "text": text,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": TEAM_ID,
        }
        optional = {"blocks": blocks, "thread_ts": thread_ts, "metadata": metadata}
        message.update({k: v for k, v in optional.items() if v is not None})
        if parent is not None:
            message["parent_user_id"] = parent.get("user", BOT_USER_ID)
            users = sorted({*parent.get("reply_users", []), BOT_USER_ID})
            parent.update(
                thread_ts=parent["ts"],
                reply_count=parent.get("reply_count", 0) + 1,
                reply_users=users,
                reply_users_count=len(users),
                latest_reply=ts,
            )
        channel.messages.append(message)
        self.posts.append(
            {
                "channel": channel.id,
                "ts": ts,
                "text": text,
                "blocks": blocks,
                "metadata": metadata,
                "thread_ts": thread_ts,
                "unfurl_links": _flag(params.get("unfurl_links")),
                "unfurl_media": _flag(params.get("unfurl_media")),
            }
        )
        self._changed.notify_all()
        return {"channel": channel.id, "ts": ts, "message": dict(message)}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._need("chat:write")
        channel = self._writable(params)
        if not params.get("user"):
            raise ApiError("user_not_in_channel")
        text, blocks = self._content(params)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel.id,
                "user": params["user"],
                "text": text,
                "blocks": blocks,
                "message_ts": ts,
                "thread_ts": params.get("thread_ts"),
            }
        )
        return {"message_ts": ts}

    def _conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = set(str(params.get("types") or "public_channel").split(","))
        if "public_channel" in types:
            self._need("channels:read")
        if "private_channel" in types:
            self._need("groups:read")
        skip_archived = _flag(params.get("exclude_archived"))
        listed = [
            c.info()
            for c in self.channels.values()
            if ("private_channel" in types if c.private else "public_channel" in types)
            and (c.member or not c.private)
            and not (skip_archived and c.archived)
        ]
        page, following = _page(listed, params)
        return {"channels": page, "response_metadata": {"next_cursor": following}}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        self._need("channels:join")
        channel = self._visible(params.get("channel"), by_name=False)
        if channel.private:
            raise ApiError("method_not_supported_for_channel_type")
        if channel.archived:
            raise ApiError("is_archived")
        already, channel.member = channel.member, True
        body: dict[str, Any] = {"channel": channel.info()}
        if already:
            body.update(
                warning="already_in_channel", response_metadata={"warnings": ["already_in_channel"]}
            )
        return body

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible(params.get("channel"), by_name=False)
        self._need("groups:read" if channel.private else "channels:read")
        return {"channel": channel.info()}

    def _readable(self, params: dict[str, Any]) -> FakeChannel:
        """The channel (by id only) for history and replies, with scope and membership checked."""
        channel = self._visible(params.get("channel"), by_name=False)
        self._need("groups:history" if channel.private else "channels:history")
        if not channel.member:
            raise ApiError("not_in_channel")
        return channel

    def _read_page(
        self, messages: list[dict[str, Any]], params: dict[str, Any], *, pinned: int = 0
    ) -> dict[str, Any]:
        """Filter by oldest/latest/inclusive, drop metadata unless asked, then one page.

        The first `pinned` messages (a thread's parent) are kept whatever the time window.
        """
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or math.inf)
        inclusive = bool(_flag(params.get("inclusive")))
        with_metadata = bool(_flag(params.get("include_all_metadata")))
        found = []
        for n, message in enumerate(messages):
            ts = float(message["ts"])
            in_range = oldest <= ts <= latest if inclusive else oldest < ts < latest
            if in_range or n < pinned:
                found.append({k: v for k, v in message.items() if with_metadata or k != "metadata"})
        page, following = _page(found, params)
        return {
            "messages": page,
            "has_more": bool(following),
            "response_metadata": {"next_cursor": following},
        }

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params)
        # Newest first, as Slack answers; thread replies live in conversations.replies.
        top = [m for m in reversed(channel.messages) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return {**self._read_page(top, params), "pin_count": 0}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parent first, then its replies oldest first; later pages hold only replies."""
        channel = self._readable(params)
        ts = str(params.get("ts") or "")
        start = next((m for m in channel.messages if m["ts"] == ts), None)
        if start is None:
            raise ApiError("thread_not_found")
        root = start.get("thread_ts", start["ts"])  # a reply's ts also finds its thread
        thread = [m for m in channel.messages if m.get("thread_ts", m["ts"]) == root]
        return self._read_page(thread, params, pinned=1)


# --- HTTP -----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in slow_after must not block stop()

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, our own drops) are expected; other errors are not."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so a dropped connection never hits a later request.
    protocol_version = "HTTP/1.0"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: test output should only show failures."""

    def do_GET(self) -> None:
        """WebSocket upgrades; otherwise as POST (Slack accepts GET with a query string too)."""
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        else:
            self.do_POST()

    def _websocket(self) -> None:
        """Handshake on an issued /socket/<n>, hello, then serve frames until either side closes."""
        fake = self.server.fake
        self.close_connection = True  # never read another HTTP request off this connection
        key = self.headers.get("Sec-WebSocket-Key", "")
        number = fake._socket_number(urlsplit(self.path).path)
        if number is None:
            self._send((404, "not found", {}))
            return
        if not key or self.headers.get("Sec-WebSocket-Version") != "13":
            self._send((400, "bad WebSocket handshake", {}))
            return
        self.protocol_version = "HTTP/1.1"  # for the status line of the 101
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", ws_accept(key))
        self.end_headers()
        ws = _WebSocket(self.connection, number)
        try:
            fake._socket_opened(ws)
            self._serve_frames(ws)
        except (OSError, EOFError):  # the client hung up, or stop() cut it off
            pass
        except ProtocolError as err:
            ws.close(err.code, str(err))
        finally:
            fake._socket_closed(ws)

    def _serve_frames(self, ws: _WebSocket) -> None:
        fake, parts = self.server.fake, bytearray()
        while True:
            fin, opcode, data = ws_read_frame(self.rfile)
            if opcode == OP_PING:
                ws.send(OP_PONG, data)
            elif opcode == OP_CLOSE:
                ws.close(struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1000)
                return
            elif opcode in (OP_TEXT, OP_CONTINUATION):
                parts += data
                if fin:
                    try:
                        text, parts = parts.decode(), bytearray()
                    except UnicodeDecodeError:
                        raise ProtocolError(1007, "text must be UTF-8") from None
                    fake._socket_message(text)
            elif opcode != OP_PONG:
                raise ProtocolError(1003, "only text frames are supported")

    def do_POST(self) -> None:
        """Route the request, apply any injected failure and answer."""
        fake = self.server.fake
        url = urlsplit(self.path)
        try:
            params = self._params(url.query)
        except ValueError:  # Slack answers a malformed body with an error, not a hang-up
            self._send((200, {"ok": False, "error": "invalid_json"}, {}))
            return
        fake._pause(fake.latency)
        if url.path.startswith("/api/"):
            method = url.path.removeprefix("/api/")
            auth = self.headers.get("Authorization", "")

            def action() -> Reply:
                return fake._call_api(method, params, auth)
        elif url.path.startswith("/response/"):
            method, key = "response_url", url.path.removeprefix("/response/")

            def action() -> Reply:
                return fake._record_response(key, params)
        else:
            self._send((404, "not found", {}))
            return
        mode = fake._begin(method, params)
        if mode in ("503_before", "drop_before"):
            self._fail(mode)
            fake._answered(method, 503 if mode == "503_before" else 0)
            return
        reply = fake._run(action)
        fake._answered(method, 503 if mode == "503_after" else 0 if mode else reply[0])
        if mode == "slow_after":
            fake._pause(fake.slow_seconds)
        if mode in ("503_after", "drop_after"):
            self._fail(mode)
        else:
            self._send(reply)

    def _params(self, query: str) -> dict[str, Any]:
        """Query string, then the body: JSON, or form-encoded (`payload=` JSON for webhooks)."""
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return params
        if self.headers.get_content_type() == "application/json":
            body = json.loads(raw)
            params.update(body if isinstance(body, dict) else {})
        else:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
            if "payload" in params:
                params.update(json.loads(params.pop("payload")))
        return params

    def _fail(self, mode: str) -> None:
        if mode.startswith("503"):
            self._send((503, {"ok": False, "error": "service_unavailable"}, {}))
            return
        # Drop: close without writing a byte, so the client sees the peer hang up.
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may already be gone
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
        status, body, headers = reply
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        ctype = "text/plain" if isinstance(body, str) else "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (slow_after): nothing left to tell it
            self.close_connection = True
