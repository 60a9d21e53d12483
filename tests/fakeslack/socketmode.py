"""Socket Mode: socket URLs, hello, slash-command envelopes, acks, pings and closing."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from typing import Any

from .websocket import OP_PING, WebSocket
from .workspace import APP_ID, FakeToken, Workspace

CLOSE_WAIT = 1.0  # seconds stop() lets a client answer a close frame before cutting it off


def close_socket_client(client: Any) -> None:
    """Close slack-sdk's builtin SocketModeClient (or a Bolt SocketModeHandler) without its 1 s
    wait: its message loop blocks in `message_queue.get(timeout=1)` and only then sees `closed`,
    so mark it closed and wake it before close(). (The fake's pings end its other wait, a
    blocking recv of up to 3 s.)"""
    sm = getattr(client, "client", client)  # SocketModeHandler.client is the SocketModeClient
    sm.closed = True
    sm.message_queue.put(None)  # process_message skips None
    client.close()


class SocketMode(Workspace):
    """The Slack side of Socket Mode connections, which the HTTP handler upgrades and serves."""

    socket_acks: list[dict[str, Any]]  # every message Socket Mode clients sent
    # Slack pings Socket Mode clients; so does the fake, often, because each ping wakes the
    # builtin client's blocking recv, which otherwise holds up its close() for up to 3 s.
    socket_ping_interval: float
    _sockets: list[WebSocket]  # open WebSocket connections, oldest first
    _socket_urls: int  # socket URLs issued by apps.connections.open
    _pinger: threading.Thread | None  # started with the first connection

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

    def _connections_open(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        """apps.connections.open: a new socket URL on this server."""
        self._socket_urls += 1
        return {"url": f"{self.origin.replace('http', 'ws', 1)}/socket/{self._socket_urls}"}

    def _socket_number(self, path: str) -> int | None:
        """The connection number of an issued `/socket/<n>` path; None for any other path."""
        number = path.removeprefix("/socket/")
        if not number.isdigit() or not 0 < int(number) <= self._socket_urls:
            return None
        return int(number)

    def _socket_opened(self, ws: WebSocket) -> None:
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

    def _socket_closed(self, ws: WebSocket) -> None:
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

    def _close_sockets(self) -> None:
        """Close every connection (close frame 1001, and a hang-up if the client does not leave
        within CLOSE_WAIT seconds) and wait for their threads; stop() calls it once stopping."""
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
