"""Reading a feed's bytes into entries: feedparser, then `entries`. Pure Python and bound by the
CPU, so while many feeds refresh at once (`side_by_side`) the parsing runs in a pool of
processes, one per CPU, instead of queuing behind one interpreter lock.

A parse never raises on broken input: its `Parsed` says what was wrong, for `FeedSource` to
report with the feed's name.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import feedparser

from digestbot.sources.entries import FeedEntry, entries_of

# Past this many feeds refreshed together, a pool pays for its start (a fraction of a second).
POOL_FROM = 4
# feedparser's complaints about a feed that is otherwise fine.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)

# `&#55296;`, `&#x110000;`: references to no character, which XML forbids. One makes the
# strict parser give up and feedparser's loose one fail on the whole feed.
_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_pool: ProcessPoolExecutor | None = None
_users = 0
_guard = threading.Lock()


@dataclass(frozen=True)
class Parsed:
    """A feed read: its entries, or what makes it no feed (`problem`)."""

    entries: list[FeedEntry]
    problem: str | None = None


def parse(body: bytes, headers: dict[str, str], base: str, topics: Sequence[str]) -> Parsed:
    """The feed's entries; in the pool while one is open."""
    with _guard:
        pool = _pool
    if pool is None:
        return _parse(body, headers, base, tuple(topics))
    return pool.submit(_parse, body, headers, base, tuple(topics)).result()


@contextmanager
def side_by_side(feeds: int) -> Iterator[None]:
    """While `feeds` refreshes run at once, parse in a pool of processes (when worth it)."""
    global _pool, _users
    workers = os.cpu_count() or 1
    if feeds < POOL_FROM or workers < 2:
        yield
        return
    with _guard:
        _users += 1
        if _pool is None:
            # forkserver: forking a process that runs threads (the refreshes) is not safe.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            _pool = ProcessPoolExecutor(workers, mp_context=context)
            # Start the workers now, while the first feeds are still on their way, not when
            # their bodies are already waiting to be parsed.
            for _ in range(workers):
                _pool.submit(int)
    try:
        yield
    finally:
        with _guard:
            _users -= 1
            pool, _pool = (_pool, None) if _users == 0 else (None, _pool)
        if pool is not None:
            pool.shutdown()


def _parse(body: bytes, headers: dict[str, str], base: str, topics: tuple[str, ...]) -> Parsed:
    try:
        return _read(body, headers, base, topics)
    except Exception as error:  # a hostile feed may trip any parser's bug: the feed fails, named
        return Parsed([], f"could not be read ({type(error).__name__}: {error})")


def _no_character_made_up(reference: re.Match[bytes]) -> bytes:
    """A reference to no character (a UTF-16 half, past U+10FFFF, NUL) as U+FFFD instead."""
    hexadecimal, decimal = reference.groups()
    digits = (hexadecimal or decimal).lstrip(b"0")[:9]  # past 9 digits, past U+10FFFF anyway
    code = int(digits or b"0", 16 if hexadecimal else 10)
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return reference.group()
    return b"&#xFFFD;"


def _read(body: bytes, headers: dict[str, str], base: str, topics: tuple[str, ...]) -> Parsed:
    # A BytesIO, not the bytes: feedparser reads a bytes "string" naming a file as that file.
    parsed = feedparser.parse(
        io.BytesIO(_CHARACTER_REFERENCE.sub(_no_character_made_up, body)),
        response_headers=headers,
        # `entries` strips the HTML and resolves links itself: feedparser need not.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if parsed.entries:  # broken XML with entries: feedparser's loose reading is good enough
        return Parsed(entries_of(parsed, base=base, topics=topics))
    if not parsed.get("version"):
        kind = headers.get("content-type", "").split(";")[0].strip() or "no content type"
        return Parsed([], f"is not an RSS or Atom feed (it sent {kind})")
    problem = parsed.get("bozo_exception")
    if parsed.bozo and not isinstance(problem, _HARMLESS):
        detail = str(problem).removeprefix("<unknown>:").strip()
        return Parsed([], f"sent broken XML and no entries ({detail})")
    return Parsed([])
