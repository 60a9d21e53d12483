"""The clock every step asks for the time, so that tests can set it instead of waiting for it.

`SYSTEM` is the real clock. Code that schedules, expires, beats a heart or paces posts takes a
`Clock` and never calls `time` or `datetime.now` itself; tests pass a clock they move by hand.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

# The longest span a config may give (max_age, catch_up, ...): longer is "forever" for news.
LONGEST = timedelta(days=36_500)
# Moments every timezone can show (UTC offsets stay within a day), with room for LONGEST
# before them: `--as-of` minus a max_age stays within the calendar too.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + LONGEST + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def showable(moment: datetime) -> bool:
    """Whether digestbot can date things at `moment` (a naive one read as UTC): every
    timezone can show it (9999-12-31 late in UTC is year 10000 in Berlin), and going back
    the longest span a config may give from it stays within the calendar."""
    try:
        utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        return False
    return _EARLIEST <= utc <= _LATEST


class Clock(Protocol):
    """Where digestbot reads the time and waits."""

    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC)."""
        ...

    def time(self) -> float:
        """Seconds since the epoch, as stored in the ledger."""
        ...

    def monotonic(self) -> float:
        """A clock that never goes back, for pacing and deadlines."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait up to `seconds` for `event`; True when it was set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


SYSTEM: Clock = SystemClock()
