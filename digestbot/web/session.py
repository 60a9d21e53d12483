"""Who is signed in to the dashboard: signed session cookies, CSRF tokens, and a limit on
login attempts.

A session is a cookie the server signed (HMAC-SHA256 over its content): it says who signed in,
until when, and the CSRF token every form of that session carries. Nothing is kept on the
server, so replicas sharing the secret share sessions. Small signed values (the OpenID state,
a login form's token) use the same signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from digestbot.clock import SYSTEM, Clock

LIFETIME = 12 * 3600.0  # seconds a session lasts
ATTEMPTS = 10  # failed logins from one address...
WINDOW = 300.0  # ...within this many seconds, and the next ones are refused


@dataclass(frozen=True)
class Session:
    """A signed-in person: a Slack user ID (or "token" for the dashboard token)."""

    user: str
    name: str
    team: str | None
    csrf: str
    expires: float


class Signer:
    """Signs and checks small JSON values; a value signed with another key is refused."""

    def __init__(self, key: bytes, clock: Clock = SYSTEM) -> None:
        self._key = key
        self.clock = clock
        # Sessions logged out, by their CSRF token, until they would have expired anyway: a
        # copy of the cookie is worthless after "Log out" (in this process).
        self._ended: dict[str, float] = {}
        self._lock = threading.Lock()

    def sign(self, value: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode())
        return f"{body.decode()}.{self._mac(body)}"

    def check(self, signed: str | None) -> dict[str, Any] | None:
        body, _, mac = (signed or "").partition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(body.encode()))
        except ValueError:
            return None
        if not isinstance(value, dict) or float(value.get("expires", 0)) < self.clock.time():
            return None
        return value

    def session(self, user: str, name: str, team: str | None) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(user, name, team, secrets.token_urlsafe(24), self._until())
        return session, self.sign(asdict(session))

    def read_session(self, cookie: str | None) -> Session | None:
        value = self.check(cookie)
        if value is None:
            return None
        try:
            session = Session(**value)
        except TypeError:
            return None
        with self._lock:
            return None if session.csrf in self._ended else session

    def end(self, session: Session) -> None:
        """Log a session out: its cookie is refused from now on."""
        now = self.clock.time()
        with self._lock:
            self._ended = {csrf: until for csrf, until in self._ended.items() if until > now}
            self._ended[session.csrf] = session.expires

    def expiring(self, value: dict[str, Any], seconds: float) -> str:
        return self.sign({**value, "expires": self.clock.time() + seconds})

    def _until(self) -> float:
        return self.clock.time() + LIFETIME

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    """A secret compared in constant time (an empty answer never matches)."""
    return bool(given) and hmac.compare_digest((given or "").encode(), expected.encode())


class LoginLimiter:
    """At most ATTEMPTS failed logins per address within WINDOW seconds."""

    def __init__(self, clock: Clock = SYSTEM) -> None:
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allowed(self, address: str) -> bool:
        with self._lock:
            recent = self._recent(address)
            return len(recent) < ATTEMPTS

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self.clock.time())

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] < self.clock.time() - WINDOW:
            failures.popleft()
        return failures
