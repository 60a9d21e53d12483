"""The server side of RFC 6455 WebSockets, just enough for Socket Mode."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import struct
import threading
from collections.abc import Callable
from typing import BinaryIO

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x8, 0x9, 0xA


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


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size) if size else b""
    if len(data) < size:
        raise EOFError
    return data


def ws_read_frame(stream: BinaryIO) -> tuple[bool, int, bytes]:
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


class WebSocket:
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

    def serve(self, stream: BinaryIO, on_text: Callable[[str], None]) -> None:
        """Read client frames from `stream` (the handler's buffered reader over `sock`), answer
        pings, hand each complete text message to `on_text`; return once the client closed.

        EOFError or OSError when the client hangs up; ProtocolError when it breaks RFC 6455.
        """
        parts = bytearray()
        while True:
            fin, opcode, data = ws_read_frame(stream)
            if opcode == OP_PING:
                self.send(OP_PONG, data)
            elif opcode == OP_CLOSE:
                self.close(struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1000)
                return
            elif opcode in (OP_TEXT, OP_CONTINUATION):
                parts += data
                if fin:
                    try:
                        text, parts = parts.decode(), bytearray()
                    except UnicodeDecodeError:
                        raise ProtocolError(1007, "text must be UTF-8") from None
                    on_text(text)
            elif opcode != OP_PONG:
                raise ProtocolError(1003, "only text frames are supported")
