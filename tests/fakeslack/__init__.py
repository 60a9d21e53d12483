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

The modules: `server` (FakeSlack: settings, records, lifecycle, dispatch) is assembled from the
mixins in `workspace` (shared state, channel helpers), `webapi`, `chat` and `conversations` (the
Web API methods), `faults` (injected failures, rate limits) and `socketmode`; `handler` is the
HTTP side, `websocket` the RFC 6455 framing and `blocks` the Block Kit validation.
"""

from .blocks import BlockError, image_urls, validate_blocks
from .faults import FAIL_MODES
from .server import FakeSlack
from .socketmode import close_socket_client
from .websocket import ws_accept
from .workspace import APP_ID, BOT_ID, BOT_USER_ID, DEFAULT_SCOPES, TEAM_ID, FakeChannel

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_SCOPES",
    "FAIL_MODES",
    "TEAM_ID",
    "BlockError",
    "FakeChannel",
    "FakeSlack",
    "close_socket_client",
    "image_urls",
    "validate_blocks",
    "ws_accept",
]
