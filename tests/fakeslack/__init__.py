"""A fake Slack Web API over real HTTP, for tests.

`FakeSlack` serves the few Web API methods digestbot uses from a `ThreadingHTTPServer` on
127.0.0.1 in a background thread; point slack-sdk at it with
`WebClient(token=fake.token, base_url=fake.url)`. Like Slack it checks the token and scopes,
channel membership, Block Kit limits, image "downloads" and rate limits, with Slack's error
shapes. Tests inject network failures (`fail_next`, `fail_rate`) and then assert on what Slack
accepted: `posts`, `messages_in(channel)` (or `channels[id].messages`), `responses`, and on
every request in `calls`.

Workspaces: the fake is one app (`APP_ID`, credentials `client_id`/`client_secret`) in any
number of workspaces. T0001, with the person U0ALICE and the bot token `fake.token`, is always
there; `add_workspace`, `add_user`, `add_channel(..., team=)` make more. Each token belongs to
one workspace, and the methods act in it: another workspace's channel is channel_not_found.
`install` issues a bot token directly; `revoke` revokes a workspace's tokens.

OAuth: the authorize pages (`/oauth/v2/authorize` for Add to Slack, `/openid/connect/authorize`
for Sign in with Slack) sign in as `sign_in_as(user, team)` (default U0ALICE of T0001) and
redirect (302) to the redirect URI with a one-time code and the state, or with
error=access_denied after `deny_next_authorize()`. oauth.v2.access, openid.connect.token (with
an RS256 id_token; keys at `/openid/connect/keys`), openid.connect.userInfo and apps.uninstall
follow; `enable_token_rotation` makes new tokens expire (on `fake.clock`) and come with
one-time refresh tokens. `oauth_calls` records them all; `event_payload` builds the
app_uninstalled / tokens_revoked envelopes Slack would send the app.

Socket Mode: `apps.connections.open` (app-level token `fake.app_token`) hands out
`ws://127.0.0.1:PORT/socket/<n>`, served by a minimal RFC 6455 WebSocket server on the same port.
A connecting client gets Slack's `hello`; `send_slash_command` pushes an envelope to it, and what
it sends back lands in `socket_acks` (`wait_for_ack`). Close Socket Mode clients before `stop()`:
stop sends close frames, and a client that auto-reconnects tries again (and logs errors) at its
next ping_interval.
`close_socket_client` closes slack-sdk's builtin client (or a Bolt SocketModeHandler) quickly.

The modules: `server` (FakeSlack: settings, records, lifecycle, dispatch) is assembled from the
mixins in `workspace` (shared state, channel helpers), `webapi`, `chat` and `conversations` (the
Web API methods), `teams` (workspaces, people, tokens), `oauth` and `openid` (the OAuth pages and
methods), `faults` (injected failures, rate limits) and `socketmode`; `handler` is the HTTP
side, `websocket` the RFC 6455 framing, `blocks` the Block Kit validation and `idtoken` the
id_token signing.
"""

from .blocks import BlockError, image_urls, validate_blocks
from .faults import FAIL_MODES
from .server import FakeSlack
from .socketmode import close_socket_client
from .websocket import ws_accept
from .workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_SCOPES,
    TEAM_ID,
    USER_ID,
    FakeChannel,
    FakeTeam,
    FakeToken,
    FakeUser,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_SCOPES",
    "FAIL_MODES",
    "TEAM_ID",
    "USER_ID",
    "BlockError",
    "FakeChannel",
    "FakeSlack",
    "FakeTeam",
    "FakeToken",
    "FakeUser",
    "close_socket_client",
    "image_urls",
    "validate_blocks",
    "ws_accept",
]
