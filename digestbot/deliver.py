"""Step 4: post messages to Slack, the way a careful operator would.

- A dead image rejects the whole message (`invalid_blocks` with a json-pointer): the image is
  removed and the message posted again; after repeated image failures, without any image.
- `not_in_channel`: join the channel when it is public, then post.
- 429: every worker pauses for Retry-After and the pace slows; it recovers as posts succeed.
- 5xx, dropped connections and timeouts are ambiguous (Slack may have accepted the post), so
  the channel's history is checked for the message's metadata before posting again.
- Everything else becomes a DeliveryError whose reason says what to do.

`Slack` posts; its `reader` (`SlackReader`) reads: the token's workspace, channel IDs, history.
"""

from __future__ import annotations

import copy
import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryIntervalCalculator
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from digestbot.channels import channel_name, is_channel_id
from digestbot.clock import SYSTEM, Clock
from digestbot.errors import DeliveryError

log = logging.getLogger(__name__)

EVENT_TYPE = "digestbot_digest"
CHANNEL_INTERVAL = 1.0  # Slack allows about one message a second per channel
MAX_GAP = 1.0  # the slowest pace 429s can push the whole workspace to, between two posts
ATTEMPTS = 8  # errors that may or may not have posted (5xx, lost connections)
POST_DEADLINE = 600.0  # seconds one message may spend waiting out rate limits and failures
IMAGE_RETRIES = 3
BACKOFF_CAP = 4.0
READ_RETRIES = 6
AMBIGUOUS = (ConnectionError, TimeoutError, URLError, OSError)
TOO_LONG = {"msg_blocks_too_long", "msg_too_long"}
AUTH_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
_POINTER = re.compile(r"\[json-pointer:(/[^\]]*)\]")


class TooLong(DeliveryError):
    """Slack refused a message as too long (limits it does not document): nothing was
    posted, and smaller messages would go through."""


@dataclass(frozen=True)
class Posted:
    """Where a message landed."""

    ts: str
    channel_id: str


@dataclass(frozen=True)
class Workspace:
    """The workspace the token belongs to; its URL makes message links."""

    url: str
    team_id: str = ""


Locate = Callable[[], Posted | None]


def message_metadata(run_id: str, channel: str, part: int, digest: str) -> dict[str, Any]:
    """Slack message metadata that lets a later run recognise this message in history."""
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"run": run_id, "channel": channel, "part": part, "digest": digest},
    }


def part_arguments(
    message: dict[str, Any], metadata: dict[str, Any], thread_ts: str | None
) -> dict[str, Any]:
    """One part of a digest, as chat.postMessage takes it: continuations go in the thread."""
    arguments = {**message, "metadata": metadata}
    if thread_ts:
        arguments["thread_ts"] = thread_ts
    return arguments


def _same_part(meta: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a message's metadata is this part of this run (the history searched is the
    channel's own, whatever the ledger called the channel when the message was posted)."""
    payload = meta.get("event_payload") or {}
    return all(payload.get(key) == wanted.get(key) for key in ("run", "part", "digest"))


def permalink(workspace: Workspace | None, posted: Posted) -> str:
    if workspace is None or not workspace.url:
        return f"ts {posted.ts}"
    return f"{workspace.url.rstrip('/')}/archives/{posted.channel_id}/p{posted.ts.replace('.', '')}"


class _CappedBackoff(RetryIntervalCalculator):
    """0.25 s, 0.5 s, 1 s, ... at most BACKOFF_CAP: reads retry for seconds, not minutes."""

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        return min(BACKOFF_CAP, 0.25 * 2**current_attempt) * random.uniform(0.75, 1.0)


@dataclass
class _Attempt:
    """One message being posted: what it took so far."""

    channel: str
    arguments: dict[str, Any]
    locate: Locate
    failures: int = 0
    image_failures: int = 0
    joined: bool = False


class SlackReader:
    """Reads Slack for delivery: the token's workspace, the channels' IDs, whether a message
    already landed; and joins a public channel, which posting and reading history both need.

    Apart from posting because reads are safe to repeat, so slack-sdk retries them on its own,
    while a post retried blindly after a lost answer doubles a message.
    """

    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        timeout: float = 15.0,
        retries: int = READ_RETRIES,
        on_revoked: Callable[[str], None] | None = None,
    ) -> None:
        # Told when Slack refuses the token itself (invalid, revoked, the workspace inactive).
        self.on_revoked = on_revoked or (lambda code: None)
        backoff = _CappedBackoff()
        self._client = WebClient(
            token=token,
            base_url=base_url,
            timeout=int(timeout),
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=backoff),
                RateLimitErrorRetryHandler(max_retry_count=retries),
                ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=backoff),
            ],
        )
        self._ids: dict[str, str] = {}

    def check_auth(self) -> Workspace:
        """auth.test: a wrong or revoked token fails here, before any channel."""
        response = self._read("auth.test", self._client.auth_test)
        return Workspace(response.get("url", ""), response.get("team_id", ""))

    def channel_ids(self, *, refresh: bool = False) -> dict[str, str]:
        """Every channel the bot can see, name -> ID (conversations.list, all pages)."""
        if self._ids and not refresh:
            return dict(self._ids)
        cursor = None
        found: dict[str, str] = {}
        while True:
            page = self._read(
                "conversations.list",
                lambda c=cursor: self._client.conversations_list(
                    types="public_channel,private_channel",
                    limit=1000,
                    cursor=c,
                    exclude_archived=False,
                ),
            )
            found.update({ch["name"].lower(): ch["id"] for ch in page.get("channels", [])})
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        self._ids = found
        return dict(found)

    def resolve(self, channel: str) -> str | None:
        """A channel's ID from its configured name or ID; None when the bot cannot see it."""
        name = channel_name(channel)
        if is_channel_id(name):
            return name
        return self._ids.get(name) or self.channel_ids().get(name)

    def find(
        self, channel_id: str, metadata: dict[str, Any], since: float, thread_ts: str | None
    ) -> Posted | None:
        """The message carrying this metadata, if it already landed in the channel."""
        wanted = metadata["event_payload"]
        cursor = None
        joined = False
        while True:
            try:
                page = self._history(channel_id, since, thread_ts, cursor)
            except SlackApiError as error:
                # chat:write.public posts without joining, but history needs membership.
                if error.response.get("error") == "not_in_channel" and not joined:
                    joined = True
                    self.join(channel_id)
                    continue
                raise _read_error(error, f"the history of {channel_id}") from None
            except (*AMBIGUOUS, ValueError) as error:
                raise _unreachable("conversations.history", error) from None
            for message in page.get("messages", []):
                meta = message.get("metadata") or {}
                if meta.get("event_type") == EVENT_TYPE and _same_part(meta, wanted):
                    return Posted(message["ts"], channel_id)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def _history(
        self, channel_id: str, since: float, thread_ts: str | None, cursor: str | None
    ) -> Any:
        if thread_ts:
            return self._client.conversations_replies(
                channel=channel_id,
                ts=thread_ts,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
        return self._client.conversations_history(
            channel=channel_id,
            oldest=f"{since:.6f}",
            include_all_metadata=True,
            limit=200,
            cursor=cursor,
        )

    def join(self, channel: str, label: str | None = None) -> None:
        """Join a public channel (given by name or ID; `label` names it in errors)."""
        label = label or channel
        channel_id = self.resolve(channel)
        if channel_id is None:
            raise DeliveryError(explain("channel_not_found", label, {}))
        try:
            self._client.conversations_join(channel=channel_id)
        except SlackApiError as error:
            code = error.response.get("error", "")
            if code == "method_not_supported_for_channel_type":
                code = "not_in_channel"
            raise DeliveryError(explain(code, label, error.response.data)) from None
        log.info("joined channel=%s id=%s", label, channel_id)

    def refused(self, code: str) -> None:
        """Tell `on_revoked` when Slack's error code refuses the token itself."""
        if code in AUTH_ERRORS:
            self.on_revoked(code)

    def _read(self, method: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except SlackApiError as error:
            self.refused(error.response.get("error", ""))
            raise _read_error(error, method) from None
        except (*AMBIGUOUS, ValueError) as error:
            raise _unreachable(method, error) from None


class Slack:
    """Posts messages to one workspace with every recovery above, paced so that the workers
    sharing it stay within Slack's rate limits; safe to share between worker threads.

    Apart from reading (`reader`) because posts are paced and never retried blindly: the
    pace is this class's state, and only a look at the channel's history may repeat a post.
    """

    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        timeout: float = 15.0,
        retries: int = READ_RETRIES,
        stop: threading.Event | None = None,
        clock: Clock = SYSTEM,
        on_revoked: Callable[[str], None] | None = None,
    ) -> None:
        self.stop = stop or threading.Event()
        self.clock = clock
        self.reader = SlackReader(
            token, base_url, timeout=timeout, retries=retries, on_revoked=on_revoked
        )
        # Posts get no automatic retries: a blind retry after a lost answer doubles a message.
        self._posts = WebClient(
            token=token, base_url=base_url, timeout=int(timeout), retry_handlers=[]
        )
        self._lock = threading.Lock()
        self._pause_until = 0.0
        self._gap = 0.0
        self._last_any = 0.0
        self._last_post: dict[str, float] = {}

    def post(
        self, channel: str, arguments: dict[str, Any], locate: Locate, *, to: str | None = None
    ) -> Posted:
        """chat.postMessage to `to` (default: `channel`, the name people know it by, which
        errors use) with every recovery above; DeliveryError when it cannot be done.

        The error is `uncertain` when an earlier attempt may have landed unseen (its answer
        was lost and the history could not settle it): the caller must not plan it again.
        """
        attempt = _Attempt(channel, {**arguments, "channel": to or channel}, locate)
        try:
            return self._post(attempt)
        except TooLong:
            if attempt.failures == 0:
                raise  # nothing landed: smaller messages may be planned instead
            raise DeliveryError(
                "Slack refused the message as too long after an answer was lost", uncertain=True
            ) from None
        except DeliveryError as error:
            uncertain = error.uncertain or attempt.failures > 0
            raise DeliveryError(error.reason, uncertain=uncertain) from None

    def _post(self, attempt: _Attempt) -> Posted:
        channel, arguments = attempt.channel, attempt.arguments
        destination = arguments["channel"]
        deadline = self.clock.monotonic() + POST_DEADLINE
        while attempt.failures < ATTEMPTS and self.clock.monotonic() < deadline:
            self._wait_turn(destination)
            try:
                response = self._posts.chat_postMessage(**arguments)
            except SlackApiError as error:
                response = error.response
                status, code = response.status_code, response.get("error", "")
                if status == 429:
                    self._slow_down(_retry_after(response))
                elif status >= 500:
                    if found := self._after_ambiguous(attempt, f"HTTP {status}"):
                        return found
                elif code == "invalid_blocks" and _image_failed(response):
                    attempt.image_failures += 1
                    everything = attempt.image_failures >= IMAGE_RETRIES
                    arguments["blocks"] = _without_image(arguments["blocks"], response, everything)
                    log.warning(
                        "image rejected channel=%s failures=%d", channel, attempt.image_failures
                    )
                elif code in TOO_LONG:
                    raise TooLong(explain(code, channel, response.data)) from None
                elif code == "not_in_channel" and not attempt.joined:
                    attempt.joined = True
                    self.reader.join(destination, channel)
                else:
                    self.reader.refused(code)
                    raise DeliveryError(explain(code, channel, response.data)) from None
                continue
            except AMBIGUOUS as error:
                if found := self._after_ambiguous(attempt, type(error).__name__):
                    return found
                continue
            self._landed(destination)
            return Posted(response["ts"], response["channel"])
        raise DeliveryError(
            f"Slack kept refusing or failing ({attempt.failures} errors, or rate limits for "
            f"{POST_DEADLINE:.0f} s); run `digestbot send` again later"
        )

    def _after_ambiguous(self, attempt: _Attempt, what: str) -> Posted | None:
        attempt.failures += 1
        log.warning(
            "post answer lost channel=%s failures=%d cause=%s",
            attempt.channel,
            attempt.failures,
            what,
        )
        found = attempt.locate()
        if found:
            log.info("post had landed channel=%s ts=%s", attempt.channel, found.ts)
            return found
        self._pause(min(BACKOFF_CAP, 0.25 * 2 ** (attempt.failures - 1)) * random.uniform(0.5, 1))
        return None

    def _wait_turn(self, channel: str) -> None:
        with self._lock:
            now = self.clock.monotonic()
            start = max(
                now,
                self._pause_until,
                self._last_any + self._gap,
                self._last_post.get(channel, -CHANNEL_INTERVAL) + CHANNEL_INTERVAL,
            )
            self._last_any = start
        if start > now:
            self._pause(start - now)

    def _pause(self, seconds: float) -> None:
        # Waiting on the stop event lets SIGTERM end a long rate-limit pause at once.
        if self.clock.wait(self.stop, seconds):
            # Uncertain: the claim stays open, so any replica (or the next start) finishes it.
            raise DeliveryError("digestbot is stopping", uncertain=True)

    def _slow_down(self, retry_after: float) -> None:
        with self._lock:
            now = self.clock.monotonic()
            # Posts in flight together all get their 429 together: slow down once for them.
            if now >= self._pause_until:
                self._gap = min(max(self._gap * 2, 0.1), MAX_GAP)
            self._pause_until = max(self._pause_until, now + retry_after)
        log.warning("rate limited retry_after=%.0f gap=%.2f", retry_after, self._gap)

    def _landed(self, channel: str) -> None:
        # Only messages that land count against the channel's one-a-second pace.
        with self._lock:
            self._last_post[channel] = self.clock.monotonic()
            self._gap = self._gap * 0.9 if self._gap > 0.02 else 0.0


def explain(code: str, where: str, body: Any) -> str:
    """Slack's error code in plain words, with what to do about it."""
    if code in AUTH_ERRORS:
        return "the token is invalid or revoked: set SLACK_BOT_TOKEN to the app's bot token"
    reasons = {
        "channel_not_found": (
            f"{where} was not found: check the name, or invite the bot if it is private"
        ),
        "not_in_channel": f"the bot is not in {where}: invite the bot to {where}",
        "is_archived": f"{where} is archived: unarchive it or remove it from the config",
        "missing_scope": (
            f"the app lacks the {(body or {}).get('needed', 'needed')} scope: add it in the app's "
            "settings and reinstall the app"
        ),
        "restricted_action": (
            f"the bot may not post in {where}: check the channel's posting permissions"
        ),
        "ratelimited": "Slack's rate limit kept refusing the message: try again later",
        "rate_limited": "the workspace's message cap is reached: try again later",
    }
    if code in reasons:
        return reasons[code]
    if code in ("invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"):
        details = "; ".join((body or {}).get("errors", [])) or code
        return f"Slack rejected the message's blocks ({details})"
    return f"Slack answered {code or 'an error'} for {where}"


def _read_error(error: SlackApiError, where: str) -> DeliveryError:
    code = error.response.get("error", "") or f"HTTP {error.response.status_code}"
    return DeliveryError(explain(code, where, error.response.data))


def _unreachable(method: str, error: Exception) -> DeliveryError:
    return DeliveryError(
        f"cannot reach Slack for {method} ({type(error).__name__}): check SLACK_API_URL "
        "and the network, then try again"
    )


def _retry_after(response: Any) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", 1)))
    except (TypeError, ValueError):
        return 1.0


def _image_failed(response: Any) -> bool:
    return any("image" in message for message in response.get("errors") or [])


def _without_image(blocks: list[dict[str, Any]], response: Any, everything: bool) -> list[Any]:
    """The blocks without the image Slack could not download (or without any image)."""
    pointers = [_POINTER.search(m) for m in response.get("errors") or []]
    paths = [p.group(1).split("/")[2:] for p in pointers if p and p.group(1).startswith("/blocks/")]
    if everything or not paths:
        return strip_images(blocks)
    return remove_at(blocks, paths[0][:-1] if paths[0][-1] == "image_url" else paths[0])


def remove_at(blocks: list[Any], path: list[str]) -> list[Any]:
    """Remove the object at a json-pointer path (below /blocks); empty contexts go too."""
    blocks = copy.deepcopy(blocks)
    parent: Any = blocks
    for step in path[:-1]:
        parent = parent[int(step)] if isinstance(parent, list) else parent[step]
    last = path[-1]
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        parent.pop(last, None)
    return [b for b in blocks if not (b.get("type") == "context" and not b.get("elements"))]


def strip_images(blocks: list[Any]) -> list[Any]:
    """Every image gone: image blocks, accessories and context images."""
    kept = []
    for block in blocks:
        if block.get("type") == "image":
            continue
        block = dict(block)
        if (block.get("accessory") or {}).get("type") == "image":
            del block["accessory"]
        if block.get("type") == "context":
            block["elements"] = [e for e in block["elements"] if e.get("type") != "image"]
            if not block["elements"]:
                continue
        kept.append(block)
    return kept
