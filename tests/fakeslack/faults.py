"""Injected failures (503s, dropped connections, slow answers) and Slack's rate limits."""

from __future__ import annotations

import math
import random
import time
from typing import Any

from .workspace import ApiError, FakeChannel, Workspace

FAIL_MODES = ("503_before", "503_after", "drop_before", "drop_after", "slow_after")


class TokenBucket:
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


def _bucket(buckets: dict[str, TokenBucket], key: str, rate: float, burst: int) -> TokenBucket:
    """The bucket of `key`, made full at its first use."""
    if key not in buckets:
        buckets[key] = TokenBucket(rate, burst)
    return buckets[key]


class Faults(Workspace):
    """Which requests fail and how; the HTTP handler applies the mode `_begin` picks.

    "_before" modes fail without running the method, "_after" modes run it (Slack accepted the
    post) and then fail the answer: the cases a retrying client must tell apart.
    """

    fail_rate: float  # chance that a request fails with a random mode from fail_modes
    fail_modes: tuple[str, ...]
    fail_methods: set[str] | None  # the methods fail_rate applies to; None: every method
    slow_seconds: float  # how long slow_after holds back the answer
    calls: list[tuple[str, dict[str, Any]]]  # every request, failed or not: (method, params)
    _random: random.Random  # seeded, so a fail_rate run fails the same requests every time
    _injected: dict[str, list[str]]  # fail_next's modes per method, the next one first
    _answers: list[tuple[str, int]]  # (method, HTTP status, 0 for a dropped connection)
    _channel_rate: float | None  # posts per second per channel; None: no channel limit
    _channel_burst: int
    _channel_buckets: dict[str, TokenBucket]  # made at a channel's first post
    _workspace_rate: tuple[float, int] | None  # (rate, burst) per workspace; None: no limit
    _workspace_buckets: dict[str, TokenBucket]  # shared by a workspace's channels, per team id
    _team_rates: dict[str, tuple[float, int]]  # limit_workspace's (rate, burst), per team id

    def fail_next(self, method: str, mode: str, count: int = 1) -> None:
        """Make the next `count` requests to `method` fail with `mode` (one of FAIL_MODES).

        Response URL posts count as the method "response_url".
        """
        if mode not in FAIL_MODES:
            raise ValueError(f"unknown fail mode {mode!r}; expected one of {FAIL_MODES}")
        with self._lock:
            self._injected.setdefault(method, []).extend([mode] * count)

    def limit_workspace(self, team_id: str, per_minute: float, burst: int = 1) -> None:
        """Rate limit one workspace's posts (a 429 storm there), whatever the others' limit."""
        with self._lock:
            self._team_rates[team_id] = (per_minute / 60, burst)
            self._workspace_buckets.pop(team_id, None)

    def statuses(self, method: str) -> list[int]:
        """The HTTP status of every answer to `method` (0: the connection was dropped)."""
        with self._lock:
            return [status for name, status in self._answers if name == method]

    def _answered(self, method: str, status: int) -> None:
        with self._lock:
            self._answers.append((method, status))

    def _pause(self, seconds: float) -> None:
        """Sleep in a handler thread, cut short by stop()."""
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

    def _rate_limit(self, channel: FakeChannel) -> None:
        """Take a token from the workspace's and the channel's bucket, or answer 429."""
        buckets = []
        team_rate = self._team_rates.get(channel.team) or self._workspace_rate
        if team_rate:
            buckets.append(_bucket(self._workspace_buckets, channel.team, *team_rate))
        if self._channel_rate:
            rate = (self._channel_rate, self._channel_burst)
            buckets.append(_bucket(self._channel_buckets, channel.id, *rate))
        wait = max((b.wait() for b in buckets), default=0.0)
        if wait > 0:  # nothing is consumed, as Slack rejects the call outright
            retry_after = str(max(1, math.ceil(wait)))
            raise ApiError("ratelimited", 429, {"Retry-After": retry_after})
        for bucket in buckets:
            bucket.tokens -= 1
