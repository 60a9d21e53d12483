"""`digestbot run`: the scheduler. One APScheduler job per digest, catch-up at start, live
config reloads, and a clean stop. Each firing is a run keyed by (digest, scheduled time)
in the ledger, so replicas on one PostgreSQL deliver it once, whichever of them are up.

APScheduler choices, on purpose:
- `misfire_grace_time` is the digest's `catch_up` window (default 1 h): APScheduler's default of
  one second silently skips a run that starts late (a busy process, a laptop waking up);
- `coalesce=True`: many runs missed during a pause are delivered once, not in a burst;
- `max_instances=4`: a slow delivery (rate limits) never makes APScheduler drop the next run;
- the in-memory job store: jobs are rebuilt from the config at start, never shared between
  processes (APScheduler 3 does not support that); the ledger is the only shared state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from digestbot import slash
from digestbot.config import Config, DigestConfig, Settings, load_config
from digestbot.deliver import Slack
from digestbot.errors import ConfigError
from digestbot.index import ArticleIndex
from digestbot.ledger import DELIVERED, EMPTY, Ledger
from digestbot.pipeline import ChannelPlan, Library, plan
from digestbot.runs import Outcome, Run, Sender
from digestbot.trigger import CrontabTrigger

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
SWEEP_SECONDS = 60.0
SWEEP_JOB = "recover-pending-claims"
MAX_INSTANCES = 4
_TIMING = {"schedule", "timezone", "catch_up"}
_WATCHED = ("title", "topics", "channels", "schedule", "timezone", "top", "max_age", "catch_up")

Printer = Callable[[Sequence[ChannelPlan]], None]


class Worker:
    """The scheduler and everything that keeps it honest."""

    def __init__(self, settings: Settings, printer: Printer) -> None:
        slash.check_settings(settings)
        self.settings = settings
        self.printer = printer
        self.path = settings.config_path
        self.config = load_config(self.path)
        self._stamp = _stamp(self.path)
        self.stop = threading.Event()
        self.dry_run = settings.slack_bot_token is None
        self.ledger: Ledger | None = None
        self.sender: Sender | None = None
        if not self.dry_run:
            self.ledger = Ledger(settings.database_url)
            token = settings.slack_bot_token.get_secret_value()  # type: ignore[union-attr]
            slack = Slack(token, settings.slack_api_url, stop=self.stop)
            self.sender = Sender(self.config, self.ledger, slack, stop=self.stop)
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._transports: list[slash.HttpServer | slash.SocketMode] = []

    def start(self) -> None:
        """Check the token, schedule every digest, and deliver runs missed while down."""
        if self.sender:
            self.sender.connect()
        else:
            log.warning("dry run: SLACK_BOT_TOKEN is not set, digests are printed, not posted")
        for digest in self.config.digests.values():
            self._schedule(digest)
        if self.sender:
            self.scheduler.add_job(
                self.sweep,
                "interval",
                seconds=SWEEP_SECONDS,
                id=SWEEP_JOB,
                coalesce=True,
                max_instances=1,
            )
        self.scheduler.start()
        log.info(
            "started digests=%d dry_run=%s config=%s",
            len(self.config.digests),
            self.dry_run,
            self.path,
        )
        for name, when in self.next_runs():
            log.info("next run digest=%s at=%s", name, when.isoformat())
        self._catch_up(list(self.config.digests.values()))
        self._start_transports()

    def _start_transports(self) -> None:
        """The /digest command over Socket Mode (SLACK_APP_TOKEN) or HTTP, and /healthz (PORT)."""
        settings = self.settings
        app = None
        if settings.slack_app_token or settings.port:
            app = slash.create_app(self, settings)
        if settings.slack_app_token and app:
            self._transports.append(slash.SocketMode(app, settings))
            app = None  # Socket Mode instead of the HTTP endpoint
        if settings.port:
            self._transports.append(slash.HttpServer(self, app, settings.port))
        for transport in self._transports:
            transport.start()

    def serve(self) -> None:
        """Run until `stop` is set (SIGTERM, SIGINT), reloading the config when it changes."""
        try:
            while not self.stop.wait(POLL_SECONDS):
                self.reload_if_changed()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.stop.set()
        for transport in self._transports:
            transport.stop()
        self._transports.clear()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.ledger:
            self.ledger.close()
        log.info("stopped")

    def next_runs(self) -> list[tuple[str, datetime]]:
        return [
            (job.id, job.next_run_time)
            for job in self.scheduler.get_jobs()
            if job.next_run_time and job.id in self.config.digests
        ]

    def sweep(self) -> None:
        """Finish deliveries that a dead replica or a lost answer left pending, without
        waiting for the digest's next firing."""
        if self.sender is None or self.stop.is_set():
            return
        for outcome in self.sender.recover(list(self.config.digests)):
            _log_outcome(outcome)

    @contextmanager
    def library(self) -> Iterator[Library]:
        """The articles, indexed afresh for one run."""
        with ArticleIndex(self.config.articles, self.settings.cache_dir) as index:
            yield Library(index)

    def next_run(self, name: str) -> datetime | None:
        job = self.scheduler.get_job(name)
        return job.next_run_time if job else None

    def health(self) -> tuple[bool, dict[str, object]]:
        """For /healthz: alive while the scheduler runs, with digests loaded and the next run."""
        alive = self.scheduler.running and not self.stop.is_set()
        return alive, slash.health_body(self.config, self.next_runs())

    def fire(self, name: str) -> None:
        """The job: deliver the run for the digest's latest scheduled time, as configured now."""
        digest = self.config.digests.get(name)
        if digest is None or digest.schedule is None:
            return
        trigger = self._trigger(digest)
        # APScheduler runs a job up to `catch_up` late (its misfire grace); the extra minute
        # covers the time it takes to get to this line.
        at = trigger.latest(datetime.now(UTC), digest.catch_up + timedelta(minutes=1))
        if at is not None:
            self.deliver(digest, at)

    def deliver(self, digest: DigestConfig, at: datetime) -> None:
        log.info("fired digest=%s scheduled=%s", digest.name, at.isoformat())
        run = Run.scheduled_at(digest, at)
        with self.library() as library:
            if self.sender is None:
                self.printer(plan(self.config, library, [digest], at))
                return
            outcomes = self.sender.run(run, library)
        for outcome in outcomes:
            _log_outcome(outcome)

    def reload_if_changed(self) -> None:
        """Apply an edited config; keep the running one when the edit is invalid."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            config = load_config(self.path)
        except ConfigError as error:
            log.error("config reload failed, keeping the running config error=%r", str(error))
            return
        old, self.config = self.config, config
        if self.sender:
            self.sender.config = config
        self._apply(old, config)

    def _apply(self, old: Config, new: Config) -> None:
        added = [name for name in new.digests if name not in old.digests]
        removed = [name for name in old.digests if name not in new.digests]
        changed = [
            name
            for name in new.digests
            if name in old.digests and _changes(old.digests[name], new.digests[name])
        ]
        for name in removed:
            if self.scheduler.get_job(name):
                self.scheduler.remove_job(name)
        # Topics and channels are read when a job fires; only timing needs a new job (and
        # rebuilding one needlessly would drop a run that is due right now).
        retimed = {n for n in changed if _TIMING & _changes(old.digests[n], new.digests[n]).keys()}
        retime = set(new.digests) if old.timezone != new.timezone else {*added, *retimed}
        for name in retime:
            self._schedule(new.digests[name])
        log.info(
            "config reloaded added=%s removed=%s changed=%s",
            ",".join(added) or "-",
            ",".join(removed) or "-",
            ",".join(changed) or "-",
        )
        for name in changed:
            for key, (before, after) in _changes(old.digests[name], new.digests[name]).items():
                log.info("digest changed digest=%s key=%s old=%r new=%r", name, key, before, after)

    def _schedule(self, digest: DigestConfig) -> None:
        if self.scheduler.get_job(digest.name):
            self.scheduler.remove_job(digest.name)
        if digest.schedule is None:
            return
        self.scheduler.add_job(
            self.fire,
            trigger=self._trigger(digest),
            args=[digest.name],
            id=digest.name,
            name=digest.name,
            misfire_grace_time=int(digest.catch_up.total_seconds()) or 1,
            coalesce=True,
            max_instances=MAX_INSTANCES,
        )

    def _trigger(self, digest: DigestConfig) -> CrontabTrigger:
        return CrontabTrigger(digest.schedule or "", self.config.digest_timezone(digest))

    def _catch_up(self, digests: list[DigestConfig]) -> None:
        now = datetime.now(UTC)
        for digest in digests:
            if digest.schedule is None:
                continue
            at = self._trigger(digest).latest(now, digest.catch_up)
            if at is None or self._delivered(Run.scheduled_at(digest, at)):
                continue
            log.info("catching up digest=%s scheduled=%s", digest.name, at.isoformat())
            self.scheduler.add_job(
                self.deliver,
                args=[digest, at],
                id=f"catch-up:{digest.name}",
                misfire_grace_time=None,
            )

    def _delivered(self, run: Run) -> bool:
        """Whether every channel of the run has its result (delivered or nothing new)."""
        if self.ledger is None:
            return False
        done = {c.channel for c in self.ledger.claims(run.run_id) if c.status in (DELIVERED, EMPTY)}
        return all(self.ledger.key(channel) in done for channel in run.digest.channels)


def _log_outcome(outcome: Outcome) -> None:
    log.info(
        "result digest=%s channel=%s status=%r detail=%r",
        outcome.digest,
        outcome.channel,
        outcome.status,
        outcome.detail,
    )


def _changes(old: DigestConfig, new: DigestConfig) -> dict[str, tuple[object, object]]:
    return {
        key: (getattr(old, key), getattr(new, key))
        for key in _WATCHED
        if getattr(old, key) != getattr(new, key)
    }


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
