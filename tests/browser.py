"""Chromium driven by Playwright for Python, for the tests of pages: Debian's Chromium (Playwright's
own browser download cannot work here), headless, with the network closed. Every request that
does not go to 127.0.0.1 is answered here (images with a grey placeholder, anything else
refused), so nothing waits for the internet. The `chromium` and `open_tab` fixtures (a pytest
plugin of conftest's) skip, saying why, without Playwright or Chromium.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

try:
    from playwright import sync_api
except ImportError:  # the fixtures skip
    sync_api = None  # type: ignore[assignment]
if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and Path("/usr/bin/chromium").exists():
    CHROMIUM = "/usr/bin/chromium"

# Headless, and nothing that reaches for the (closed) network by itself.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    *(["--no-sandbox"] if os.geteuid() == 0 else []),
]
DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000


def _png(width: int, height: int, rgb: tuple[int, int, int] = (0xD5, 0xD9, 0xDE)) -> bytes:
    """A PNG of one colour: what every outside image is answered with."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = (b"\x00" + bytes(rgb) * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


PLACEHOLDER = _png(480, 270)
# Every address but the test's own servers (only these requests reach Python's route handler).
OUTSIDE = re.compile(r"^(?!https?://127\.0\.0\.1[:/])")


# --- Chromium and pages ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the module, or skip saying why it would not start."""
    if sync_api is None:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    if CHROMIUM is None:
        pytest.skip(
            "no Chromium to drive (apt-get install chromium; Playwright's own download cannot work)"
        )
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except sync_api.Error as error:
            pytest.skip(f"Chromium ({CHROMIUM}) does not start: {str(error).splitlines()[0]}")
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A page in a context of its own (new, or cleared of an earlier test's cookies), with
    what it met on the way: dialogs, requests for outside addresses, and errors in the console
    (a CSP violation is one)."""

    page: Page
    context: BrowserContext
    key: str = ""
    dialogs: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    on_dialog: Callable[[Any], None] | None = None
    on_console: Callable[[Any], None] | None = None


class Contexts:
    """The module's browser contexts, each used by one test at a time and cleared between
    tests: a new context costs Chromium most of a second of CPU, a cleared one nothing."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.free: dict[str, list[Tab]] = {}
        self.every: list[BrowserContext] = []

    def take(self, viewport: dict[str, int], options: dict[str, Any]) -> Tab:
        key = repr(sorted({"viewport": viewport, **options}.items()))
        free = self.free.setdefault(key, [])
        if free:
            old = free.pop()
            assert not old.context.cookies() and old.page.url == "about:blank"
            return Tab(old.page, old.context, key=key)
        context = self.browser.new_context(viewport=viewport, **options)
        context.set_default_timeout(TIMEOUT_MS)
        self.every.append(context)
        return Tab(context.new_page(), context, key=key)

    def give_back(self, tab: Tab) -> None:
        try:
            tab.context.unroute(OUTSIDE)
            tab.page.remove_listener("dialog", tab.on_dialog)
            tab.page.remove_listener("console", tab.on_console)
            tab.page.goto("about:blank")
            tab.context.clear_cookies()
            tab.context.clear_permissions()
        except sync_api.Error:  # a test left it broken: the next one gets a new context
            tab.context.close()
            return
        self.free[tab.key].append(tab)

    def close(self) -> None:
        for context in self.every:
            with contextlib.suppress(sync_api.Error):  # closed already, after a broken test
                context.close()


@pytest.fixture(scope="module")
def contexts(chromium: Browser) -> Iterator[Contexts]:
    pool = Contexts(chromium)
    yield pool
    pool.close()


@pytest.fixture
def open_tab(contexts: Contexts) -> Iterator[Callable[..., Tab]]:
    """Open pages in contexts of their own, cleared of what earlier tests left (desktop size
    unless told), given back after the test."""
    tabs: list[Tab] = []

    def open_(viewport: dict[str, int] = DESKTOP, **options: Any) -> Tab:
        tab = contexts.take(viewport, options)
        tabs.append(tab)

        def offline(route: Route) -> None:
            tab.outside.append(route.request.url)
            if route.request.resource_type == "image":
                route.fulfill(status=200, content_type="image/png", body=PLACEHOLDER)
            else:
                route.abort()

        def dialog(opened: Any) -> None:
            tab.dialogs.append(opened.message)
            opened.dismiss()

        def console(message: Any) -> None:
            if message.type == "error":
                tab.errors.append(message.text)

        tab.on_dialog, tab.on_console = dialog, console
        tab.context.route(OUTSIDE, offline)
        tab.page.on("dialog", dialog)
        tab.page.on("console", console)
        return tab

    yield open_
    for tab in tabs:
        contexts.give_back(tab)
