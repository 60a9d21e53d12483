"""How results read on a terminal: digests as text, one line per channel, source or skipped
file, and a progress bar. The CLI prints what these functions return, through `say`: names,
reasons and article text never carry a control character to the terminal (no escape sequence
runs, no file name starts a line of its own)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from digestbot.compose import builder_url, render_text
from digestbot.logs import one_line, redact

if TYPE_CHECKING:
    from digestbot.config import Config, SourceConfig
    from digestbot.index import Skipped
    from digestbot.installations import Installed
    from digestbot.pipeline import ChannelPlan
    from digestbot.service import Verified
    from digestbot.sources.registry import Refreshed
    from digestbot.status import LastDelivery, SourceStatus


class ProgressBar:
    """A one-line progress bar on a terminal; silent elsewhere or for small jobs."""

    def __init__(self, label: str, stream: TextIO = sys.stderr, minimum: int = 200) -> None:
        self.label, self.stream, self.minimum = label, stream, minimum
        self._shown = 0.0
        self._tty: bool | None = None  # asked once: it is a system call, and this runs per file

    def __call__(self, done: int, total: int) -> None:
        if total < self.minimum:
            return
        if self._tty is None:
            self._tty = self.stream.isatty()
        if not self._tty:
            return
        now = time.monotonic()
        if done < total and now - self._shown < 0.1:
            return
        self._shown = now
        filled = 30 * done // total
        bar = "#" * filled + "-" * (30 - filled)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}{end}")
        self.stream.flush()


def say(line: str, *, err: bool = False) -> None:
    """Print one line (stderr with `err`), every control character in it escaped and every
    secret blanked out."""
    print(one_line(redact(line)), file=sys.stderr if err else sys.stdout)


def checked(source: SourceConfig, verified: Verified) -> str:
    """One line of `digestbot check` for one source."""
    if verified.copy is None:
        where = f"{source.kind} {source.location}"
        return f"{source.name} ({where}): no copy yet (`digestbot refresh` makes one)"
    if source.kind == "folder":
        label = str(verified.copy.folder)
    else:
        label = f"{source.name} ({source.kind} {source.location})"
    articles = verified.files - len(verified.skipped)
    return f"{label}: {verified.files} files, {articles} articles, {len(verified.skipped)} skipped"


def source_state(source: SourceStatus, now: float) -> str:
    state = source.state
    if source.kind == "folder":
        return f"{state.articles} articles, read in place"
    parts = []
    if state.refreshed_at is None:
        parts.append("never refreshed")
    else:
        revision = state.revision[:12] if source.kind == "git" else state.revision
        parts.append(
            f"refreshed {age(now - state.refreshed_at)}, {revision}, {state.articles} articles"
        )
    if state.error:
        when = age(now - state.failed_at) if state.failed_at else "lately"
        parts.append(f"last refresh failed {when} ({state.failures} in a row): {state.error}")
    return "; ".join(parts)


def last_delivery(last: LastDelivery) -> str:
    result = last.status + (f" ({last.error})" if last.error else "")
    return (
        f"{last.at.isoformat(timespec='seconds')} {result}, {last.articles} article(s), "
        f"run {last.run_id}"
    )


def installed(found: Installed) -> str:
    """One line of `digestbot workspaces` for one workspace."""
    when = found.installed_at.isoformat(timespec="seconds")
    name = found.name or "?"
    return (
        f"{found.team} ({name}): bot {found.bot_user}, installed {when}, "
        f"scopes {found.scopes}, token {found.token}"
    )


def print_failed_sources(config: Config, failed: Sequence[Refreshed]) -> None:
    """Warn that these sources' copies may be old: their refresh failed before this run."""
    now = time.time()
    for result in failed:
        say(f"warning: source {refreshed(config, result, now)}", err=True)


def refreshed(config: Config, result: Refreshed, now: float) -> str:
    """One line of `digestbot refresh` for one source."""
    name, state, change = result.name, result.state, result.change
    if result.error is not None:
        copy = f"the copy from {age(now - state.refreshed_at)}" if state.refreshed_at else None
        return f"{name}: failed: {result.error} (using {copy or 'no copy: none made yet'})"
    assert change is not None
    kind = config.all_sources[name].kind
    if kind == "folder":
        return f"{name}: a folder, read as it is ({state.articles} articles)"
    revision = f"commit {change.revision[:12]}" if kind == "git" else f"fetched {change.revision}"
    if change.not_modified:
        return f"{name}: not modified ({revision})"
    return (
        f"{name}: {change.new} new, {change.changed} changed, {change.removed} removed "
        f"({revision}; {state.articles} articles)"
    )


def age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    hours = minutes // 60
    return f"{hours} h ago" if hours < 48 else f"{hours // 24} days ago"


def print_plans(plans: Sequence[ChannelPlan]) -> None:
    for channel_plan in plans:
        name, channel = channel_plan.digest.name, channel_plan.channel
        if not channel_plan.messages:
            say(f"── {name} → {channel}: nothing to post")
            print()
            continue
        count = len(channel_plan.messages)
        for number, message in enumerate(channel_plan.messages, 1):
            where = " (thread reply)" if message.thread else ""
            say(f"── {name} → {channel} · message {number} of {count}{where} ──")
            for line in render_text(message).split("\n"):  # its own lines; their text escaped
                say(line)
            say(f"Block Kit Builder: {builder_url(message)}")
            print()


def print_skipped(skipped: Sequence[Skipped], limit: int | None) -> None:
    shown = skipped if limit is None else skipped[:limit]
    several = len({item.source for item in skipped}) > 1
    for item in shown:
        where = f"{item.source}: {item.path}" if several else item.path
        say(f"warning: skipped {where}: {item.reason}", err=True)
    if len(skipped) > len(shown):
        more = len(skipped) - len(shown)
        say(f"warning: {more} more files skipped; `digestbot check` lists them", err=True)
