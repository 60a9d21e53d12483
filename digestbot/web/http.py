"""The little HTTP the dashboard needs over WSGI: a request read once (query, form, cookies) and
responses that always carry the security headers (a Content-Security-Policy without inline
scripts, no framing, no sniffing, no referrer)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

MAX_FORM = 16 * 1024  # the dashboard's forms are a few fields

SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src https: http:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]
StartResponse = Callable[..., Any]


@dataclass
class Request:
    """One request, read once."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    cookies: dict[str, str]
    address: str
    secure: bool  # served over https (directly or behind a proxy that says so)
    host: str

    @classmethod
    def read(cls, environ: dict[str, Any]) -> Request:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        form: dict[str, str] = {}
        if method == "POST":
            length = str(environ.get("CONTENT_LENGTH") or "0")
            size = min(int(length), MAX_FORM) if length.isdigit() else 0
            form = _first(environ["wsgi.input"].read(size).decode("utf-8", "replace"))
        forwarded = str(environ.get("HTTP_X_FORWARDED_PROTO", "")).split(",")[0].strip()
        scheme = forwarded or str(environ.get("wsgi.url_scheme", "http"))
        return cls(
            method=method,
            path=str(environ.get("PATH_INFO", "/")) or "/",
            query=_first(str(environ.get("QUERY_STRING", ""))),
            form=form,
            cookies=_cookies(str(environ.get("HTTP_COOKIE", ""))),
            address=str(environ.get("REMOTE_ADDR", "")),
            secure=scheme == "https",
            host=str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")),
        )

    @property
    def origin(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}"


@dataclass
class Response:
    """What to answer; `cookies` are Set-Cookie values."""

    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode())

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(303, headers=[("Location", location)])

    def cookie(self, name: str, value: str, *, secure: bool, max_age: int | None = None) -> None:
        """Set an HttpOnly, SameSite=Lax cookie (Secure over https); max_age 0 deletes it."""
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if secure:
            parts.append("Secure")
        self.headers.append(("Set-Cookie", "; ".join(parts)))

    def send(self, start_response: StartResponse) -> Iterable[bytes]:
        reason = HTTPStatus(self.status).phrase
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *SECURITY_HEADERS,
            *self.headers,
        ]
        start_response(f"{self.status} {reason}", headers)
        return [self.body]


def login_path(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site only (never //elsewhere)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _first(query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query, max_num_fields=50).items()}


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}
