"""A fake Slack Web API over real HTTP, for tests.

`FakeSlack` serves the few Web API methods digestbot uses from a `ThreadingHTTPServer` on
127.0.0.1 in a background thread; point slack-sdk at it with
`WebClient(token=fake.token, base_url=fake.url)`. Like Slack it checks the token and scopes,
channel membership, Block Kit limits, image "downloads" and rate limits, with Slack's error
shapes. Tests inject network failures (`fail_next`, `fail_rate`) and then assert on what Slack
accepted: `posts`, `messages_in(channel)` (or `channels[id].messages`), `responses`, and on
every request in `calls`.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
import random
import socket
import sys
import threading
import time
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
TEAM_ID, BOT_USER_ID, BOT_ID = "T0001", "U0BOT", "B0001"
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


# --- the fake -------------------------------------------------------------------------------


class FakeSlack:
    """A fake Slack workspace served over HTTP; see the module docstring."""

    def __init__(
        self,
        *,
        token: str = "xoxb-fake-token",
        latency: float = 0.0,
        seed: int = 0,
        scopes: set[str] | None = None,
        channel_rate: float | None = None,
        channel_burst: int = 3,
        workspace_per_minute: int | None = None,
        workspace_burst: int = 10,
    ) -> None:
        self.token, self.latency = token, latency
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
        """Stop serving and close the listening socket; safe to call twice."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

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
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.list": self._conversations_list,
            "conversations.join": self._conversations_join,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
        }

    # checks shared by the methods (all run with the lock held)

    def _authenticate(self, params: dict[str, Any], authorization: str) -> None:
        token = params.get("token") or authorization.removeprefix("Bearer ").strip()
        if not token:
            raise ApiError("not_authed")
        if token != self.token:
            raise ApiError("invalid_auth")
        if self.revoked:
            raise ApiError("token_revoked")

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
        """slack-sdk always POSTs, but Slack accepts GET with a query string too."""
        self.do_POST()

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
