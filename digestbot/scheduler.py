"""`digestbot run`'s scheduler: one APScheduler job per digest, catch-up at start, a sweep of
pending claims, and live config reloads. It only schedules: every run goes through the
`DigestService` it is given. Each firing is a run keyed by (digest, scheduled time) in the
ledger, so replicas on one PostgreSQL deliver it once, whichever of them are up.

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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from digestbot.config import Config, DigestConfig, load_config
from digestbot.errors import ConfigError
from digestbot.pipeline import ChannelPlan
from digestbot.runs import Outcome, Run
from digestbot.service import DigestService
from digestbot.trigger import CrontabTrigger

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0
SWEEP_JOB = "recover-pending-claims"
MAX_INSTANCES = 4
# APScheduler runs a job up to `catch_up` late (its misfire grace); this much more covers the
# time it takes from APScheduler's decision to the job asking for its scheduled time.
FIRING_SLACK = timedelta(minutes=1)
_TIMING = {"schedule", "timezone", "catch_up"}
_WATCHED = tuple(name for name in DigestConfig.model_fields if name != "name")

Printer = Callable[[Sequence[ChannelPlan]], None]


class Scheduler:
    """The digests' jobs, and what keeps them in step with the config and the ledger."""

    def __init__(self, service: DigestService, config_path: Path, printer: Printer) -> None:
        self.service = service
        self.path = config_path
        self.printer = printer
        self._stamp = _stamp(config_path)
        self.jobs = BackgroundScheduler(timezone=UTC)

    @property
    def config(self) -> Config:
        return self.service.config

    @property
    def running(self) -> bool:
        return self.jobs.running

    def start(self) -> None:
        """Schedule every digest and deliver the runs missed while down."""
        if not self.service.can_post:
            log.warning("dry run: SLACK_BOT_TOKEN is not set, digests are printed, not posted")
        for digest in self.config.digests.values():
            self._schedule(digest)
        if self.service.can_post:
            self.jobs.add_job(
                self.sweep,
                "interval",
                seconds=SWEEP_SECONDS,
                id=SWEEP_JOB,
                coalesce=True,
                max_instances=1,
            )
        self.jobs.start()
        for name, when in self.next_runs():
            log.info("next run digest=%s at=%s", name, when.isoformat())
        missed = self.missed()
        for digest, at in missed:
            log.info("catching up digest=%s scheduled=%s", digest.name, at.isoformat())
            # The digest's own job, due at once (on APScheduler's clock, the real one): firing
            # delivers the latest scheduled time, the one missed.
            self.jobs.modify_job(digest.name, next_run_time=datetime.now(UTC))
        log.info(
            "started digests=%d catching_up=%d dry_run=%s config=%s",
            len(self.config.digests),
            len(missed),
            not self.service.can_post,
            self.path,
        )

    def shutdown(self) -> None:
        if self.jobs.running:
            self.jobs.shutdown(wait=True)

    def next_runs(self) -> list[tuple[str, datetime]]:
        """Each scheduled digest's next run, as APScheduler will fire it."""
        return [
            (job.id, job.next_run_time)
            for job in self.jobs.get_jobs()
            if job.next_run_time and job.id in self.config.digests
        ]

    def missed(self) -> list[tuple[DigestConfig, datetime]]:
        """Digests whose latest scheduled time lies within their catch_up window and was
        never delivered."""
        now = self.service.clock.now()
        missed = []
        for digest in self.config.digests.values():
            if digest.schedule is None:
                continue
            at = self._trigger(digest).latest(now, digest.catch_up)
            if at is not None and not self.service.delivered(Run.scheduled_at(digest, at)):
                missed.append((digest, at))
        return missed

    def fire(self, name: str) -> None:
        """The job: deliver the run for the digest's latest scheduled time, as configured now."""
        digest = self.config.digests.get(name)
        if digest is None or digest.schedule is None:
            return
        now = self.service.clock.now()
        at = self._trigger(digest).latest(now, digest.catch_up + FIRING_SLACK)
        if at is not None:
            self.deliver(digest, at)

    def deliver(self, digest: DigestConfig, at: datetime) -> None:
        log.info("fired digest=%s scheduled=%s", digest.name, at.isoformat())
        if not self.service.can_post:
            self.printer(self.service.preview([digest], at).plans)
            return
        for outcome in self.service.deliver([Run.scheduled_at(digest, at)]).outcomes:
            log_outcome(outcome)

    def sweep(self) -> None:
        """Finish deliveries that a dead replica or a lost answer left pending, without
        waiting for the digest's next firing."""
        for outcome in self.service.recover(list(self.config.digests)):
            log_outcome(outcome)

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
        except Exception:  # a bug reading one edit must not stop the digests already running
            log.exception("config reload crashed, keeping the running config path=%s", self.path)
            return
        old = self.config
        self.service.replace_config(config)
        self._apply(old, config)

    def _apply(self, old: Config, new: Config) -> None:
        added = [name for name in new.digests if name not in old.digests]
        removed = [name for name in old.digests if name not in new.digests]
        changes = {
            name: _changes(old.digests[name], new.digests[name])
            for name in new.digests
            if name in old.digests
        }
        changed = [name for name, change in changes.items() if change]
        for name in removed:
            if self.jobs.get_job(name):
                self.jobs.remove_job(name)
        # Topics and channels are read when a job fires; only timing needs a new job (and
        # rebuilding one needlessly would drop a run that is due right now).
        retimed = {name for name in changed if _TIMING & changes[name].keys()}
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
            for key, (before, after) in changes[name].items():
                log.info("digest changed digest=%s key=%s old=%r new=%r", name, key, before, after)

    def _schedule(self, digest: DigestConfig) -> None:
        if self.jobs.get_job(digest.name):
            self.jobs.remove_job(digest.name)
        if digest.schedule is None:
            return
        self.jobs.add_job(
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


def log_outcome(outcome: Outcome) -> None:
    log.info(
        "result digest=%s channel=%s status=%r detail=%r",
        outcome.digest,
        outcome.channel,
        str(outcome.status),
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
