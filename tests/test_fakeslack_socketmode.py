"""Tests for the fake's Socket Mode: slack-sdk's builtin client, Bolt, and raw WebSocket frames."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import slack_error, wait_for
from fakeslack import FakeSlack, close_socket_client, ws_accept
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

SLASH = {"command": "/digest", "text": "now", "user_id": "U0001", "channel_id": "C0000001"}


def socket_client(fake: FakeSlack, **kwargs: Any) -> SocketModeClient:
    """slack-sdk's builtin Socket Mode client, pointed at the fake (not connected yet)."""
    web = WebClient(base_url=fake.url, token=fake.token)
    return SocketModeClient(app_token=fake.app_token, web_client=web, **kwargs)


def test_connections_open_needs_the_app_token(fake: FakeSlack, client: WebClient) -> None:
    """apps.connections.open takes only the app token; bot methods refuse the app token."""
    url = client.apps_connections_open(app_token=fake.app_token)["url"]
    assert url == f"ws://127.0.0.1:{fake.origin.rsplit(':', 1)[1]}/socket/1"
    err = slack_error(client.apps_connections_open, app_token=fake.token)
    assert err.response["error"] == "not_allowed_token_type"
    err = slack_error(client.apps_connections_open, app_token="xapp-1-wrong")
    assert err.response["error"] == "invalid_auth"
    err = slack_error(WebClient(token=fake.app_token, base_url=fake.url).auth_test)
    assert err.response["error"] == "not_allowed_token_type"
    with pytest.raises(RuntimeError):
        fake.send_slash_command(SLASH)


def test_socket_mode_client_gets_slash_command(fake: FakeSlack) -> None:
    """The builtin client gets hello and a slash command; its ack reaches socket_acks."""
    seen: list[dict[str, Any]] = []
    requests: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        requests.append(req)
        response = SocketModeResponse(envelope_id=req.envelope_id, payload={"text": "on it"})
        client.send_socket_mode_response(response)

    sm = socket_client(fake)
    sm.message_listeners.append(lambda client, message, raw: seen.append(message))
    sm.socket_mode_request_listeners.append(listener)
    try:
        sm.connect()
        assert fake.socket_connected(timeout=5)
        envelope_id = fake.send_slash_command(SLASH)
        ack = fake.wait_for_ack(envelope_id)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "on it"}}
        assert fake.socket_acks == [ack]
        assert [(r.type, r.envelope_id, r.payload) for r in requests] == [
            ("slash_commands", envelope_id, SLASH)
        ]
        assert seen[0]["type"] == "hello" and seen[0]["connection_info"]["app_id"] == "A0001"
        # connect() pings at once; the pong's timestamp shows the fake answered it.
        assert wait_for(lambda: sm.current_session.last_ping_pong_time is not None)
        assert fake.wait_for_ack("no-such-envelope", timeout=0.05) is None
    finally:
        close_socket_client(sm)


def test_close_then_stop_leaves_no_threads() -> None:
    """client.close() then fake.stop() ends every thread either of them started."""
    before = set(threading.enumerate())
    fake = FakeSlack().start()
    sm = socket_client(fake)
    try:
        sm.connect()
        assert fake.socket_connected(timeout=5)
    finally:
        close_socket_client(sm)
        fake.stop()
    assert wait_for(lambda: set(threading.enumerate()) <= before, timeout=2)


def test_stop_sends_close_frame() -> None:
    """stop() closes a connected client with 1001 and ends the fake's threads."""
    closes: list[tuple[int, str | None]] = []
    before = set(threading.enumerate())
    with FakeSlack() as fake:
        sm = socket_client(fake, auto_reconnect_enabled=False)
        sm.on_close_listeners.append(lambda code, reason: closes.append((code, reason)))
        sm.connect()
        assert fake.socket_connected(timeout=5)
    try:
        # slack-sdk calls its close listeners before it marks itself disconnected.
        assert wait_for(lambda: not sm.is_connected())
        assert closes == [(1001, "going away")]
    finally:
        close_socket_client(sm)
    assert wait_for(lambda: set(threading.enumerate()) <= before, timeout=2)


def raw_handshake(fake: FakeSlack, path: str, key: str) -> tuple[socket.socket, bytes]:
    """Open a WebSocket by hand; the socket and the raw response head."""
    sock = socket.create_connection(("127.0.0.1", int(fake.origin.rsplit(":", 1)[1])), timeout=5)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head and (chunk := sock.recv(1)):
        head += chunk
    return sock, head


def raw_frame(sock: socket.socket) -> tuple[int, bytes]:
    """Read one short unmasked server frame: (opcode, payload)."""
    b1, b2 = sock.recv(2, socket.MSG_WAITALL)
    size = b2 if b2 < 126 else struct.unpack("!H", sock.recv(2, socket.MSG_WAITALL))[0]
    return b1 & 0x0F, sock.recv(size, socket.MSG_WAITALL) if size else b""


def test_websocket_handshake_and_protocol_errors(fake: FakeSlack, client: WebClient) -> None:
    """Unissued paths get 404; the accept key is RFC 6455's; an unmasked frame is closed 1002."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock, head = raw_handshake(fake, "/socket/1", key)
    with sock:
        assert head.startswith(b"HTTP/1.0 404")
    client.apps_connections_open(app_token=fake.app_token)
    sock, head = raw_handshake(fake, "/socket/1", key)
    with sock:
        assert head.startswith(b"HTTP/1.1 101")
        assert f"Sec-WebSocket-Accept: {ws_accept(key)}".encode() in head
        assert ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        opcode, hello = raw_frame(sock)
        assert opcode == 0x1 and json.loads(hello)["type"] == "hello"
        sock.sendall(b"\x81\x02hi")  # unmasked text frame
        while (frame := raw_frame(sock))[0] == 0x9:  # skip the fake's pings
            pass
        assert frame == (0x8, struct.pack("!H", 1002) + b"client frames must be masked")
        assert sock.recv(1) == b""  # then it hangs up


def test_bolt_socket_mode_handler_acks_slash_command(fake: FakeSlack) -> None:
    """A Bolt app behind SocketModeHandler acks a slash command with its text."""
    app = App(client=WebClient(base_url=fake.url, token=fake.token), signing_secret="unused")

    @app.command("/digest")
    def digest(ack: Callable[..., None], command: dict[str, Any]) -> None:
        ack(f"digest {command['text']}")

    handler = SocketModeHandler(app, app_token=fake.app_token)
    try:
        handler.connect()
        assert fake.socket_connected(timeout=5)
        ack = fake.wait_for_ack(fake.send_slash_command(SLASH))
        assert ack is not None and ack["payload"] == {"text": "digest now"}
    finally:
        close_socket_client(handler)
