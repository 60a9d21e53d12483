"""Benchmark: a 429 storm in one workspace leaves another workspace's delivery time unchanged.

Run:  python bench/bench_workspaces.py [--channels 10] [--latency 0.02] [--rounds 3]

One digestbot (its composition root, in this process, as `digestbot run` builds it with
SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET) installed in two workspaces of
the tests' fake Slack, over HTTP with `--latency` seconds added to every call. Acme and Globex
each have a digest for `--channels` channels; each round delivers both at once, in two threads,
as the scheduler's two jobs would, and times Globex's. Calm rounds alternate with storm rounds,
where Acme's workspace answers 429 (Retry-After) to all but one post a second. Prints the
median Globex time of each and their ratio (target: at most 1.2x, i.e. unchanged within
noise), with how many 429s Acme met. Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from fakeslack import FakeSlack  # noqa: E402
from installs import store_install  # noqa: E402

from digestbot.bot import open_service  # noqa: E402
from digestbot.config import Settings, load_config  # noqa: E402
from digestbot.runs import Run, Status  # noqa: E402
from digestbot.service import DigestService  # noqa: E402

TARGET = 1.2
ACME, GLOBEX = "T0002", "T0003"
STORM_PER_MINUTE = 60  # Acme's posts in a storm: one a second, the rest answered 429


def one_round(service: DigestService) -> tuple[float, list[Status]]:
    """Deliver both digests at once; Globex's time, and every outcome once both are done."""
    outcomes: list[Status] = []
    times: dict[str, float] = {}

    def deliver(name: str) -> None:
        digest = service.config.digests[name]
        start = time.perf_counter()
        run = Run.manual(digest, service.now(digest))
        done = service.deliver([run], force=True, recover=False, refresh=False)
        times[name] = time.perf_counter() - start
        outcomes.extend(o.status for o in done.outcomes)

    threads = [threading.Thread(target=deliver, args=(name,)) for name in ("acme", "globex")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times["globex"], outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("digestbot").setLevel(logging.ERROR)  # a storm logs every 429
    with tempfile.TemporaryDirectory() as scratch, FakeSlack(latency=args.latency) as fake:
        work = Path(scratch)
        digests = {}
        for team, name in ((ACME, "acme"), (GLOBEX, "globex")):
            fake.add_workspace(team, name.title())
            fake.add_user(team, f"U{team[1:]}X", name.title(), f"{name}@example.com")
            channels = [f"news-{n:02d}" for n in range(args.channels)]
            for channel in channels:
                fake.add_channel(channel, team=team)
            digests[name] = {
                "topics": ["AI"],
                "channels": [f"#{c}" for c in channels],
                "workspace": team,
            }
        config_path = work / "digestbot.yaml"
        config_path.write_text(
            yaml.safe_dump({"articles": str(HERE.parent / "seeds"), "digests": digests})
        )
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        settings = Settings(
            DIGESTBOT_CONFIG=str(config_path),
            DIGESTBOT_DATABASE_URL=f"sqlite:///{work / 'ledger.db'}",
            SLACK_API_URL=fake.url,
            SLACK_CLIENT_ID=fake.client_id,
            SLACK_CLIENT_SECRET=fake.client_secret,
            SLACK_SIGNING_SECRET="bench-signing-secret",
        )
        service = open_service(settings, load_config(config_path), post=True)
        try:
            assert service.ledger is not None
            for team in (ACME, GLOBEX):
                store_install(fake, service.ledger.engine, team)
            one_round(service)  # warm-up: tokens checked, channel IDs learned, index built
            calm, storm, bad = [], [], []
            for _ in range(args.rounds):
                fake.limit_workspace(ACME, per_minute=10_000, burst=10_000)
                took, outcomes = one_round(service)
                calm.append(took)
                bad += [s for s in outcomes if s is not Status.DELIVERED]
                fake.limit_workspace(ACME, per_minute=STORM_PER_MINUTE)
                took, outcomes = one_round(service)
                storm.append(took)
                bad += [s for s in outcomes if s is not Status.DELIVERED]
        finally:
            service.close()
        storms = fake.statuses("chat.postMessage").count(429)
    calm_median, storm_median = statistics.median(calm), statistics.median(storm)
    ratio = storm_median / calm_median
    print(f"workspaces: 2, channels each: {args.channels}, latency {args.latency}s per call")
    print(f"Globex delivery, Acme calm:     {calm_median:.3f}s (median of {args.rounds})")
    print(f"Globex delivery, Acme in storm: {storm_median:.3f}s ({storms} x 429 in Acme)")
    print(f"ratio storm/calm: {ratio:.2f}x (target <= {TARGET}x)")
    print(f"every channel delivered each round: {not bad}")
    return 0 if ratio <= TARGET and not bad and storms > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
