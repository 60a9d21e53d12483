"""The command line: a thin shell over the pipeline. Nothing imports this module.

Each command reads the settings and the config, calls the library, and prints. A DigestbotError
becomes one line on stderr and exit code 1; tracebacks only with --debug.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from digestbot import bot, logs
from digestbot.compose import builder_url, preview_arguments, render_text
from digestbot.config import Config, load_config, load_settings, timezone
from digestbot.errors import DigestbotError
from digestbot.index import ArticleIndex, Skipped
from digestbot.pipeline import ChannelPlan
from digestbot.service import DigestService

if TYPE_CHECKING:
    from digestbot.status import LastDelivery

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


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.settings.config_path)


def _service(args: argparse.Namespace, config: Config, **options: bool) -> DigestService:
    return bot.open_service(
        args.settings, config, progress=ProgressBar("Indexing articles"), **options
    )


def _as_of(config: Config, moment: datetime | None) -> datetime:
    """The run's time: --as-of (naive means the config's timezone) or now."""
    zone = timezone(config.timezone)
    if moment is None:
        return datetime.now(zone)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config and read every article; list skipped files and why.

    Example: digestbot check
    """
    config = _config(args)
    print(f"{args.settings.config_path}: valid, {len(config.digests)} digest(s)")
    for digest in config.digests.values():
        when = digest.schedule or "by hand only"
        zone = digest.timezone or config.timezone
        print(
            f"  {digest.name}: {', '.join(digest.topics)} -> {', '.join(digest.channels)}"
            f" ({when}, {zone})"
        )
    with ArticleIndex(config.articles, args.settings.cache_dir) as index:
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
    config = _config(args)
    digests = config.pick(args.names)
    preview = _service(args, config).preview(digests, _as_of(config, args.as_of))
    if args.json:
        json.dump(_post_arguments(preview.plans), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_plans(preview.plans)
    _print_skipped(preview.skipped, limit=SKIPPED_SHOWN)
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    """Build the named digests (all when none is named) and post them now.

    Each channel gets the hottest articles it has not had yet, exactly once, even across
    crashes and retries. Prints one line per channel; exits 1 when any channel failed.

    Example: digestbot send ai-daily --channel '#test-digests'
    """
    config = _config(args)
    digests = config.pick(args.names)
    now = _as_of(config, args.as_of)
    if args.dry_run:
        service = _service(args, config)
        _print_plans(service.preview(digests, now, channels=args.channel, force=args.force).plans)
        return 0
    from digestbot.runs import Run

    service = _service(args, config, post=True)
    try:
        runs = [Run.manual(digest, now) for digest in digests]
        delivery = service.deliver(runs, channels=args.channel, force=args.force)
    finally:
        service.close()
    for outcome in delivery.outcomes:
        print(outcome)
    _print_skipped(delivery.skipped, limit=SKIPPED_SHOWN)
    return 0 if all(outcome.ok for outcome in delivery.outcomes) else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run the scheduler: post every digest on its schedule until stopped (SIGTERM, Ctrl-C).

    Digests missed while the bot was down are delivered at start when their time lies within
    their catch_up window; edits to the config apply without a restart. Without
    SLACK_BOT_TOKEN it runs as a dry run and prints each digest when it fires.

    Example: digestbot run
    """
    running = bot.build(args.settings, printer=_print_plans)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: running.stop.set())
    running.start()
    running.serve()
    return 0


def cmd_next(args: argparse.Namespace) -> int:
    """Print a digest's next fire times, one ISO 8601 timestamp per line, in its timezone.

    Example: digestbot next ai-daily --count 10
    """
    from digestbot import status

    config = _config(args)
    [digest] = config.pick([args.name])
    if digest.schedule is None:
        raise DigestbotError(f"{digest.name} has no schedule: it is only sent by hand")
    for moment in status.next_runs(config, digest, _as_of(config, args.as_of), args.count):
        print(moment.isoformat())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show each digest's next run and the last delivery to each of its channels.

    Example: digestbot status
    """
    from digestbot import status

    config = _config(args)
    service = _service(args, config)
    try:
        digests = status.digests(config, service.ledger, _as_of(config, None))
    finally:
        service.close()
    for digest in digests:
        schedule = digest.digest.schedule
        if schedule:
            upcoming = digest.next_runs[0].isoformat() if digest.next_runs else "never"
            when = f"next {upcoming} ({schedule}, {digest.zone})"
        else:
            when = "sent by hand only"
        print(f"{digest.digest.name}: {when}")
        for channel in digest.channels:
            last = _last_delivery(channel.last) if channel.last else "never delivered"
            print(f"  {channel.channel}: {last}")
    return 0


def _last_delivery(last: LastDelivery) -> str:
    result = last.status + (f" ({last.error})" if last.error else "")
    return (
        f"{last.at.isoformat(timespec='seconds')} {result}, {last.articles} article(s), "
        f"run {last.run_id}"
    )


def _post_arguments(plans: Sequence[ChannelPlan]) -> list[dict[str, object]]:
    return [post for p in plans for post in preview_arguments(p.channel, p.messages)]


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


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of times (0 or more)")
    return int(text)


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
    "send": cmd_send,
    "run": cmd_run,
    "next": cmd_next,
    "status": cmd_status,
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
        doc = inspect.cleandoc(handler.__doc__ or "")
        sub = commands.add_parser(
            name,
            help=doc.partition("\n")[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        ARGUMENTS.get(name, lambda _: None)(sub)
    return parser


def _preview_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="digests (default: all)")
    parser.add_argument("--json", action="store_true", help="print chat.postMessage arguments")
    _add_as_of(parser)


def _send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="digests (default: all)")
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="C",
        help="post to this channel instead of the configured ones (repeatable)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="include articles the channel already had",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be posted; post nothing"
    )
    _add_as_of(parser)


def _next_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the digest")
    parser.add_argument("--count", type=_count, default=5, metavar="N", help="how many (default 5)")
    _add_as_of(parser, "start counting from this ISO 8601 time (default: now)")


ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "preview": _preview_arguments,
    "send": _send_arguments,
    "next": _next_arguments,
}


def _add_as_of(
    parser: argparse.ArgumentParser,
    help: str = "build the digest as of this ISO 8601 time (default: now)",
) -> None:
    parser.add_argument("--as-of", type=_datetime, metavar="DATETIME", help=help)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Commands print their results; the log adds detail with -v (and is the output of `run`).
    quiet = logging.INFO if args.command == "run" else logging.ERROR
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else quiet
    logs.setup(level)
    try:
        args.settings = load_settings()
        logs.setup(level, args.settings.secrets())
        return args.handler(args)
    except DigestbotError as error:
        if args.debug:
            raise
        print(logs.redact(f"error: {error}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `digestbot preview | head`: the reader had enough
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes it at exit
        return 0
    except Exception as error:  # a bug: say so in one line; --debug shows the traceback
        if args.debug:
            raise
        message = f"error: unexpected {type(error).__name__}: {error} (--debug shows where)"
        print(logs.redact(message), file=sys.stderr)
        return 2
