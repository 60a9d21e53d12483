"""The command line: a thin shell over the pipeline. Nothing imports this module.

Each command reads the settings and the config, calls the library, and prints. A DigestbotError
becomes one line on stderr and exit code 1; tracebacks only with --debug.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TextIO

from digestbot import logs
from digestbot.compose import builder_url, render_text
from digestbot.config import Config, Settings, load_config, load_settings, timezone
from digestbot.errors import DigestbotError
from digestbot.index import ArticleIndex, Skipped
from digestbot.pipeline import ChannelPlan, Library, plan

SKIPPED_SHOWN = 10


class ProgressBar:
    """A one-line progress bar on a terminal; silent elsewhere or for small jobs."""

    def __init__(self, label: str, stream: TextIO = sys.stderr, minimum: int = 200) -> None:
        self.label, self.stream, self.minimum = label, stream, minimum
        self._shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total < self.minimum or not self.stream.isatty():
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


class Context:
    """Settings and config, read once per command."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config: Config = load_config(settings.config_path)

    def as_of(self, moment: datetime | None) -> datetime:
        """The run's time: --as-of (naive means the config's timezone) or now."""
        zone = timezone(self.config.timezone)
        if moment is None:
            return datetime.now(zone)
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)

    def library(self, label: str = "Indexing articles") -> Library:
        index = ArticleIndex(self.config.articles, self.settings.cache_dir)
        return Library(index, ProgressBar(label))


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config and read every article; list skipped files and why.

    Example: digestbot check
    """
    context = Context(args.settings)
    config = context.config
    print(f"{context.settings.config_path}: valid, {len(config.digests)} digest(s)")
    for digest in config.digests.values():
        when = digest.schedule or "by hand only"
        zone = digest.timezone or config.timezone
        print(
            f"  {digest.name}: {', '.join(digest.topics)} -> {', '.join(digest.channels)}"
            f" ({when}, {zone})"
        )
    with ArticleIndex(config.articles, context.settings.cache_dir) as index:
        snapshot = index.refresh(ProgressBar("Indexing articles"))
        skipped = index.verify(ProgressBar("Reading articles"))
    files = snapshot.files
    print(
        f"{config.articles}: {files} files, {files - len(skipped)} articles, {len(skipped)} skipped"
    )
    _print_skipped(skipped, limit=None)
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    """Show the digest(s) that `send` would post now, without posting or recording anything.

    Example: digestbot preview ai-daily --as-of 2020-05-15T09:00+02:00
    """
    context = Context(args.settings)
    now = context.as_of(args.as_of)
    digests = context.config.pick(args.names)
    library = context.library()
    plans = plan(context.config, library, digests, now)
    if args.json:
        json.dump(_post_arguments(plans), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_plans(plans)
    _print_skipped(library.skipped(), limit=SKIPPED_SHOWN)
    return 0


def _post_arguments(plans: Sequence[ChannelPlan]) -> list[dict[str, object]]:
    posts: list[dict[str, object]] = []
    for channel_plan in plans:
        for message in channel_plan.messages:
            arguments: dict[str, object] = message.arguments(channel_plan.channel)
            if message.thread:
                arguments["thread"] = True
            posts.append(arguments)
    return posts


def _print_plans(plans: Sequence[ChannelPlan]) -> None:
    for channel_plan in plans:
        name, channel = channel_plan.digest.name, channel_plan.channel
        if not channel_plan.messages:
            print(f"── {name} → {channel}: nothing to post\n")
            continue
        count = len(channel_plan.messages)
        for number, message in enumerate(channel_plan.messages, 1):
            where = " (thread reply)" if message.thread else ""
            print(f"── {name} → {channel} · message {number} of {count}{where} ──")
            print(render_text(message))
            print(f"Block Kit Builder: {builder_url(message)}\n")


def _print_skipped(skipped: Sequence[Skipped], limit: int | None) -> None:
    shown = skipped if limit is None else skipped[:limit]
    for item in shown:
        print(f"warning: skipped {item.path}: {item.reason}", file=sys.stderr)
    if len(skipped) > len(shown):
        more = len(skipped) - len(shown)
        print(f"warning: {more} more files skipped; `digestbot check` lists them", file=sys.stderr)


def _datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time; write it like 2026-11-23T09:00+01:00"
        ) from None
    return moment


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": cmd_check,
    "preview": cmd_preview,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digestbot",
        description="Slack digests of the hottest news, from Markdown article files.",
        epilog="Config: DIGESTBOT_CONFIG (default config/digestbot.yaml). "
        "See README.md for the config reference.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step (INFO)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, handler in COMMANDS.items():
        summary, _, example = (handler.__doc__ or "").partition("\n")
        sub = commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=example.strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        if name == "preview":
            sub.add_argument("names", nargs="*", metavar="NAME", help="digests (default: all)")
            sub.add_argument("--json", action="store_true", help="print chat.postMessage arguments")
            _add_as_of(sub)
    return parser


def _add_as_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of",
        type=_datetime,
        metavar="DATETIME",
        help="build the digest as of this ISO 8601 time (default: now)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logs.setup(level)
    try:
        args.settings = load_settings()
        logs.setup(level, args.settings.secrets())
        return args.handler(args)
    except DigestbotError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
