"""Requests as Slack sends them to the front door: slash commands, form-encoded and signed with
the app's signing secret (or forged, or replayed), posted over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

from fakeslack import FakeSlack

SECRET = "fake-signing-secret-for-tests"  # the tests' signing secret


def signed(body: str | bytes, *, secret: str = SECRET, age: float = 0) -> dict[str, str]:
    """Slack's signature headers for `body`, made `age` seconds ago."""
    raw = body.encode() if isinstance(body, str) else body
    timestamp = str(int(time.time() - age))
    base = f"v0:{timestamp}:".encode() + raw
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def command(
    fake: FakeSlack,
    text: str,
    channel: str = "hardware",
    user: str = "U0ALICE",
    response_url: str | None = None,
) -> str:
    """The form body of `/digest TEXT` typed by `user` in `channel`."""
    reply = response_url or fake.response_url(f"{channel}-{text.replace(' ', '-') or 'list'}")
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T0001",
            "team_domain": "fake",
            "channel_id": fake.channel_id(channel),
            "channel_name": channel,
            "user_id": user,
            "user_name": "alice",
            "command": "/digest",
            "text": text,
            "api_app_id": "A0001",
            "trigger_id": "1.2.3",
            "response_url": reply,
        }
    )


def post(
    port: int,
    body: str | bytes,
    headers: dict[str, str],
    content_type: str = "application/x-www-form-urlencoded",
) -> tuple[int, bytes]:
    """POST /slack/events; the status and body of the answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/events",
        data=body.encode() if isinstance(body, str) else body,
        method="POST",
        headers={"Content-Type": content_type, **headers},
    )
    try:
        # Slack waits 3 seconds for the acknowledgement; so does this, no longer.
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()
