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
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from digestbot import bot, logs, terminal
from digestbot.clock import showable
from digestbot.compose import preview_arguments
from digestbot.config import Config, Settings, load_config, load_settings, timezone
from digestbot.errors import DigestbotError
from digestbot.pipeline import ChannelPlan
from digestbot.service import DigestService

if TYPE_CHECKING:
    from digestbot.installations import Installed

SKIPPED_SHOWN = 10


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.settings.config_path)


def _service(args: argparse.Namespace, config: Config, **options: bool) -> DigestService:
    return bot.open_service(
        args.settings,
        config,
        progress=terminal.ProgressBar("Indexing articles"),
        copying=lambda name: terminal.ProgressBar(f"Copying {name}", minimum=1),
        **options,
    )


def _as_of(config: Config, moment: datetime | None) -> datetime:
    """The run's time: --as-of (naive means the config's timezone) or now."""
    zone = timezone(config.timezone)
    if moment is None:
        return datetime.now(zone)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config, list the sources, and read every article of their copies; list
    skipped files and why. Reads the copies as they are (`digestbot refresh` updates them).

    Example: digestbot check
    """
    config = _config(args)
    terminal.say(f"{args.settings.config_path}: valid, {len(config.digests)} digest(s)")
    for digest in config.digests.values():
        when = digest.schedule or "by hand only"
        zone = digest.timezone or config.timezone
        terminal.say(
            f"  {digest.name}: {', '.join(digest.topics)} -> {', '.join(digest.channels)}"
            f" ({when}, {zone})" + (f" from {', '.join(digest.sources)}" if digest.sources else "")
        )
    service = _service(args, config)
    try:
        verified = service.verify(terminal.ProgressBar("Reading articles"))
    finally:
        service.close()
    for source in verified:
        terminal.say(terminal.checked(config.all_sources[source.source], source))
        terminal.print_skipped(source.skipped, limit=None)
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    """Refresh the named sources (all when none is named) now, whatever their copy's age.

    Prints a line per source: what changed (new, changed and removed articles, and the commit)
    or "not modified"; or why it failed and how old the copy in use is. Exits 1 when any failed.

    Example: digestbot refresh ai azure-blog
    """
    config = _config(args)
    unknown = [name for name in args.names if name not in config.all_sources]
    if unknown:
        known = ", ".join(config.all_sources)
        raise DigestbotError(f"no source called {', '.join(unknown)} (configured: {known})")
    service = _service(args, config)
    try:
        results = service.sources.refresh(args.names, progress=service.copying)
    finally:
        service.close()
    now = time.time()
    for result in results:
        terminal.say(terminal.refreshed(config, result, now))
    return 1 if any(result.error for result in results) else 0


def cmd_preview(args: argparse.Namespace) -> int:
    """Show the digest(s) that `send` would post now, without posting or recording anything.

    Example: digestbot preview ai-daily --as-of 2020-05-15T09:00+02:00
    """
    config = _config(args)
    digests = config.pick(args.names)
    as_of = _as_of(config, args.as_of)
    preview = _service(args, config).preview(digests, as_of, refresh=not args.no_refresh)
    if args.json:
        json.dump(_post_arguments(preview.plans), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        terminal.print_plans(preview.plans)
    terminal.print_failed_sources(config, preview.failed_sources)
    terminal.print_skipped(preview.skipped, limit=SKIPPED_SHOWN)
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
    refresh = not args.no_refresh
    if args.dry_run:
        service = _service(args, config)
        preview = service.preview(
            digests, now, channels=args.channel, force=args.force, refresh=refresh
        )
        terminal.print_plans(preview.plans)
        terminal.print_failed_sources(config, preview.failed_sources)
        return 0
    from digestbot.runs import Run

    service = _service(args, config, post=True)
    try:
        runs = [Run.manual(digest, now) for digest in digests]
        delivery = service.deliver(runs, channels=args.channel, force=args.force, refresh=refresh)
    finally:
        service.close()
    for outcome in delivery.outcomes:
        terminal.say(str(outcome))
    terminal.print_failed_sources(config, delivery.failed_sources)
    terminal.print_skipped(delivery.skipped, limit=SKIPPED_SHOWN)
    return 0 if all(outcome.ok for outcome in delivery.outcomes) else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run the scheduler: post every digest on its schedule until stopped (SIGTERM, Ctrl-C).

    Digests missed while the bot was down are delivered at start when their time lies within
    their catch_up window; edits to the config apply without a restart. Without
    SLACK_BOT_TOKEN it runs as a dry run and prints each digest when it fires.

    Example: digestbot run
    """
    running = bot.build(args.settings, printer=terminal.print_plans)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: running.stop.set())
    running.start()
    running.serve()
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard on this machine only (127.0.0.1), over the local config and ledger.

    Prints one address with a one-time login token, as Jupyter does; open it in a browser.
    With SLACK_BOT_TOKEN set, "Send now" posts; without it, the pages only show. Ctrl-C stops.

    Example: digestbot dashboard --port 8080
    """
    local = bot.LocalDashboard(args.settings, args.port)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: local.stop.set())
    local.door.start()
    terminal.say(f"Dashboard: {local.url}")
    terminal.say("(the link logs in once; Ctrl-C stops the dashboard)")
    sys.stdout.flush()
    local.serve()
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
        terminal.say(moment.isoformat())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show each digest's next run and the last delivery to each of its channels.

    Example: digestbot status
    """
    from digestbot import status

    config = _config(args)
    service = _service(args, config)
    try:
        digests = status.digests(config, service.ledger_for, _as_of(config, None))
        sources = status.sources(service.sources)
        installed = service.workspaces.installed() if service.workspaces else None
    finally:
        service.close()
    for digest in digests:
        schedule = digest.digest.schedule
        if schedule:
            upcoming = digest.next_runs[0].isoformat() if digest.next_runs else "never"
            when = f"next {upcoming} ({schedule}, {digest.zone})"
        else:
            when = "sent by hand only"
        terminal.say(f"{digest.digest.name}: {when}")
        for channel in digest.channels:
            last = terminal.last_delivery(channel.last) if channel.last else "never delivered"
            terminal.say(f"  {channel.channel}: {last}")
    terminal.say("sources:")
    now = time.time()
    for source in sources:
        state = terminal.source_state(source, now)
        terminal.say(f"  {source.name} ({source.kind} {source.location}): {state}")
    if installed is not None:
        _print_installed(installed)
    return 0


def cmd_workspaces(args: argparse.Namespace) -> int:
    """List the workspaces the app is installed in, with the state of each one's token.

    Each line: team, bot user, installed at, scopes and token. For an app installed in many
    workspaces: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET set and no
    SLACK_BOT_TOKEN; install it in more at /slack/install on `digestbot run`'s PORT.

    Example: digestbot workspaces
    """
    settings: Settings = args.settings
    if not settings.many_workspaces():
        mode = "SLACK_BOT_TOKEN is set" if settings.slack_bot_token else "no Slack app is set up"
        terminal.say(
            f"one workspace at most: {mode}. Installing in many workspaces needs SLACK_CLIENT_ID,"
            " SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET, without SLACK_BOT_TOKEN."
        )
        return 0
    service = _service(args, _config(args))
    try:
        installed = service.workspaces.installed() if service.workspaces else []
    finally:
        service.close()
    _print_installed(installed)
    return 0


def _print_installed(installed: Sequence[Installed]) -> None:
    if not installed:
        terminal.say("workspaces: none yet (open /slack/install on digestbot run's PORT)")
        return
    terminal.say("workspaces:")
    for found in installed:
        terminal.say(f"  {terminal.installed(found)}")


def _post_arguments(plans: Sequence[ChannelPlan]) -> list[dict[str, object]]:
    return [post for p in plans for post in preview_arguments(p.channel, p.messages)]


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of times (0 or more)")
    return int(text)


def _channel(text: str) -> str:
    name = text.strip()
    if not name or any(char.isspace() for char in name):
        raise argparse.ArgumentTypeError(f"{text!r} is not a channel name or ID")
    return name


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


def _datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time; write it like 2026-11-23T09:00+01:00"
        ) from None
    if not showable(moment):
        raise argparse.ArgumentTypeError(
            f"{text!r} is too close to the calendar's first or last day"
        )
    return moment


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": cmd_check,
    "preview": cmd_preview,
    "send": cmd_send,
    "refresh": cmd_refresh,
    "run": cmd_run,
    "dashboard": cmd_dashboard,
    "next": cmd_next,
    "status": cmd_status,
    "workspaces": cmd_workspaces,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digestbot",
        description="Slack digests of the hottest news, from Markdown article files.",
        epilog="Config: DIGESTBOT_CONFIG (default config/digestbot.yaml). "
        "See README.md for the config reference.",
    )
    _logging_options(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, handler in COMMANDS.items():
        doc = inspect.cleandoc(handler.__doc__ or "")
        sub = commands.add_parser(
            name,
            help=_first_sentence(doc),
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        ARGUMENTS.get(name, lambda _: None)(sub)
        # After the command too (`digestbot preview -v`): unset there, they keep the first's.
        _logging_options(sub, default=argparse.SUPPRESS)
    return parser


def _first_sentence(doc: str) -> str:
    """A command's summary in `digestbot --help`: the first sentence, never half of one."""
    paragraph = " ".join(doc.partition("\n\n")[0].split())
    return re.split(r"(?<=\.) ", paragraph, maxsplit=1)[0]


def _logging_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks and debug logs"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="log each step (INFO)"
    )


def _preview_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="digests (default: all)")
    parser.add_argument("--json", action="store_true", help="print chat.postMessage arguments")
    _add_as_of(parser)
    _add_no_refresh(parser)


def _add_no_refresh(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-refresh",
        action="store_true",
        help="use the sources' copies as they are (default: refresh those older than `refresh`)",
    )


def _refresh_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="SOURCE", help="sources (default: all)")


def _send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="digests (default: all)")
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        type=_channel,
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
    _add_no_refresh(parser)


def _next_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the digest")
    parser.add_argument("--count", type=_count, default=5, metavar="N", help="how many (default 5)")
    _add_as_of(parser, "start counting from this ISO 8601 time (default: now)")


def _dashboard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=_port, default=8080, metavar="PORT", help="port on 127.0.0.1 (default 8080)"
    )


ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "preview": _preview_arguments,
    "send": _send_arguments,
    "refresh": _refresh_arguments,
    "dashboard": _dashboard_arguments,
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
        _say_error(f"error: {error}", args.debug)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `digestbot preview | head`: the reader had enough
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes it at exit
        return 0
    except Exception as error:  # a bug: say so in one line; --debug shows the traceback
        hint = "" if args.debug else " (--debug shows where)"
        _say_error(f"error: unexpected {type(error).__name__}: {error}{hint}", args.debug)
        return 2


def _say_error(message: str, debug: bool) -> None:
    """One line on stderr, after the traceback with --debug; no secret in either."""
    if debug:
        print(logs.redact(traceback.format_exc()), file=sys.stderr, end="")
    print(logs.one_line(logs.redact(message)), file=sys.stderr)
