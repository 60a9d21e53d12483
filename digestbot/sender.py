"""A run delivered to its channels: plan, claim, post, record. Never twice, never lost.

`Sender.send` claims every channel in the ledger before anything is posted (one transaction,
so concurrent runs never plan one article twice), then posts the channels in parallel
(`posting`); `Sender.recover` completes claims a crashed process left pending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from digestbot.channels import channel_name
from digestbot.clock import SYSTEM, Clock
from digestbot.config import DEFAULT_CATCH_UP, Config
from digestbot.deliver import Slack, Workspace
from digestbot.errors import DigestbotError
from digestbot.ledger import Claim, ClaimPlan, ClaimResult, ClaimStatus, Ledger
from digestbot.pipeline import ChannelPlan, Library, plan
from digestbot.posting import Poster
from digestbot.runs import Outcome, Run, Status
from digestbot.selection import title_key

log = logging.getLogger(__name__)

WORKERS = 48  # posts in flight; Slack answers 429 past its workspace limit and we slow down
HEARTBEAT_EVERY = 15.0
REPLANS = 5  # attempts to claim a channel while concurrent runs keep taking its articles


def claim_plan(channel_plan: ChannelPlan, run: Run) -> ClaimPlan:
    """What a claim stores: the messages to post and the articles in each."""
    messages = channel_plan.messages
    return ClaimPlan(
        channel=channel_plan.channel,
        messages=[message.arguments() for message in messages],
        articles=[[(a.url, title_key(a.title), a.key) for a in m.articles] for m in messages],
        scheduled_for=run.at.timestamp() if run.scheduled else None,
    )


Job = Callable[[], Outcome]


def _done(outcome: Outcome) -> Job:
    return lambda: outcome


class Sender:
    """Delivers runs through one Slack connection and one ledger."""

    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        slack: Slack,
        *,
        stop: threading.Event | None = None,
        workers: int = WORKERS,
        clock: Clock = SYSTEM,
    ) -> None:
        self.config, self.ledger, self.slack = config, ledger, slack
        self.stop = stop or threading.Event()
        self.clock = clock
        self.workers = workers
        self.poster = Poster(ledger, slack, catch_up=self._catch_up, clock=clock)

    @property
    def workspace(self) -> Workspace | None:
        """The workspace the token belongs to, once connected."""
        return self.poster.workspace

    def connect(self) -> None:
        """Check the token and learn the configured channels' IDs before touching any."""
        workspace = self.poster.workspace = self.slack.reader.check_auth()
        if self.ledger.team is None and workspace.team_id:
            self.ledger.adopt(workspace.team_id)  # a ledger from before workspaces
        self.ledger.remember_address(workspace.team_id, workspace.url)
        configured = (ch for digest in self.config.digests.values() for ch in digest.channels)
        self.learn_channel_ids(configured)

    def learn_channel_ids(self, channels: Iterable[str]) -> None:
        """Learn the IDs of channels known only by name, so that the ledger knows a channel
        as one however it is written (one conversations.list, only when needed)."""
        unknown = {
            name for name in map(channel_name, channels) if self.ledger.channel_id(name) is None
        }
        if unknown:
            ids = self.slack.reader.channel_ids(refresh=True)
            self.ledger.remember_channels({name: ids[name] for name in unknown if name in ids})

    def send(
        self,
        run: Run,
        library: Library,
        *,
        channels: Sequence[str] = (),
        force: bool = False,
    ) -> list[Outcome]:
        """Deliver one run to its channels (or to `channels`)."""
        targets = list(dict.fromkeys(channels or run.digest.channels))
        try:
            # Without IDs, two replicas could know one channel by two names: deliver nothing.
            self.learn_channel_ids(targets)
        except DigestbotError as error:
            return [
                Outcome(run.digest.name, channel, Status.FAILED, str(error)) for channel in targets
            ]
        # One channel written two ways (a name and its ID) gets one digest.
        targets = list(
            {self.ledger.key(channel): channel for channel in reversed(targets)}.values()
        )
        targets.reverse()
        seen = None if force else self.ledger.seen_all(targets).__getitem__
        plans = plan(self.config, library, [run.digest], run.at, channels=targets, seen=seen)
        return self._parallel(self._claim_all(run, plans, library, force))

    def run(
        self, run: Run, library: Library, *, channels: Sequence[str] = (), force: bool = False
    ) -> list[Outcome]:
        """Finish what earlier runs of the digest left open, then deliver this one."""
        return self.recover([run.digest.name]) + self.send(
            run, library, channels=channels, force=force
        )

    def recover(self, digests: Sequence[str]) -> list[Outcome]:
        """Complete the claims left pending for these digests by a crash or a lost answer."""
        orphans = self.ledger.orphaned(digests)
        return self._parallel((lambda c=c: self.poster.take_over(c)) for c in orphans)

    def _parallel(self, jobs: Iterable[Job]) -> list[Outcome]:
        """Run the jobs in the pool as they come: claims are made one at a time in this thread
        (so that concurrent runs never plan the same article twice), posts in parallel."""
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(beating,), daemon=True)
        heart.start()
        try:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                futures = [pool.submit(job) for job in jobs]
                return [future.result() for future in futures]
        finally:
            beating.set()
            heart.join()

    def _heartbeat(self, done: threading.Event) -> None:
        while not self.clock.wait(done, HEARTBEAT_EVERY):
            try:
                self.ledger.heartbeat()
            except DigestbotError as error:  # a missed beat only delays a takeover
                log.warning("heartbeat failed error=%s", error)

    def _claim_all(
        self, run: Run, plans: list[ChannelPlan], library: Library, force: bool
    ) -> Iterator[Job]:
        """Claim every channel in one transaction; the job that follows from each claim."""
        name = run.digest.name
        if self.stop.is_set():
            yield from (
                _done(Outcome(name, p.channel, Status.NOT_STARTED, "stopping")) for p in plans
            )
            return
        try:
            claim_plans = {p.channel: claim_plan(p, run) for p in plans}
            results = self.ledger.claim_all(run.run_id, name, claim_plans, force=force)
        except DigestbotError as error:
            yield from (_done(Outcome(name, p.channel, Status.FAILED, str(error))) for p in plans)
            return
        for channel_plan in plans:
            claim, result = results[channel_plan.channel]
            if claim is None:  # another run took some of these articles: plan this one again
                yield self._replan(run, channel_plan.channel, library)
            else:
                yield self._job(claim, result, run, library)

    def _replan(self, run: Run, channel: str, library: Library) -> Job:
        name = run.digest.name
        try:
            for _ in range(REPLANS):
                channel_plan = self._plan_one(run, channel, library)
                claim, result = self.ledger.claim(
                    run.run_id, channel, name, claim_plan(channel_plan, run)
                )
                if claim is not None:
                    return self._job(claim, result, run, library)
        except DigestbotError as error:
            return _done(Outcome(name, channel, Status.FAILED, str(error)))
        return _done(
            Outcome(name, channel, Status.FAILED, "other runs kept taking its articles; retry")
        )

    def _plan_one(self, run: Run, channel: str, library: Library) -> ChannelPlan:
        """The run's plan for one channel, against what it has had up to this moment."""
        [channel_plan] = plan(
            self.config, library, [run.digest], run.at, channels=[channel], seen=self.ledger.seen
        )
        return channel_plan

    def _job(self, claim: Claim, result: ClaimResult, run: Run, library: Library) -> Job:
        if result is ClaimResult.CREATED:
            return lambda: self.poster.deliver(claim, recovering=False)
        channel = claim.plan.channel
        if claim.status == ClaimStatus.DELIVERED:
            return _done(
                Outcome(claim.digest, channel, Status.ALREADY_DELIVERED, self.poster.link(claim))
            )
        if claim.status == ClaimStatus.EMPTY:
            return _done(Outcome(claim.digest, channel, Status.NOTHING_NEW))
        if claim.status == ClaimStatus.PENDING and not self.ledger.abandoned(claim):
            return _done(Outcome(claim.digest, channel, Status.IN_PROGRESS))
        if claim.status == ClaimStatus.FAILED and not claim.posted:
            return self._retry(claim, run, library)
        return lambda: self.poster.take_over(claim)

    def _retry(self, claim: Claim, run: Run, library: Library) -> Job:
        """A failed channel of this run, tried again with a fresh plan: it may have had other
        digests since the failure, and its old plan must not repeat them."""
        channel = claim.plan.channel
        try:
            taken = self.ledger.take_over(
                claim, claim_plan(self._plan_one(run, channel, library), run)
            )
        except DigestbotError as error:
            return _done(Outcome(claim.digest, channel, Status.FAILED, str(error)))
        if taken is None:
            return _done(Outcome(claim.digest, channel, Status.IN_PROGRESS))
        return lambda: self.poster.deliver(taken, recovering=False)

    def _catch_up(self, digest: str) -> float:
        config = self.config.digests.get(digest)  # the current config: it may have been edited
        return (config.catch_up if config else DEFAULT_CATCH_UP).total_seconds()
