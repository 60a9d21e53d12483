"""Benchmark: `digestbot send` of one digest to 200 channels against a one-by-one slack-sdk loop.

Run:  python bench/bench_send.py [--channels 200] [--latency 0.1]

Both talk over HTTP to the tests' fake Slack with `--latency` seconds added to every call, in
this one run: first a plain loop posting the same messages one by one with slack-sdk's
WebClient, then `digestbot send` (a real process, with its ledger). Prints both times, the
ratio (target: at most 0.1x) and whether every channel got exactly one digest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from slack_sdk import WebClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from fakeslack import FakeSlack  # noqa: E402

TARGET = 0.1


def digestbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "digestbot", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def one_by_one(fake: FakeSlack, posts: list[dict]) -> float:
    client = WebClient(token=fake.token, base_url=fake.url)
    start = time.perf_counter()
    for post in posts:
        client.chat_postMessage(**post)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, FakeSlack(latency=args.latency) as fake:
        work = Path(scratch)
        names = [f"news-{n:03d}" for n in range(args.channels)]
        for name in names:
            fake.add_channel(name)
        config = work / "digestbot.yaml"
        config.write_text(
            f"articles: {HERE.parent / 'seeds'}\ndigests:\n  ai:\n    topics: [AI]\n"
            f"    channels: {json.dumps(['#' + name for name in names])}\n"
        )
        env = {
            **os.environ,
            "DIGESTBOT_CONFIG": str(config),
            "XDG_CACHE_HOME": str(work / "cache"),
            "DIGESTBOT_DATABASE_URL": f"sqlite:///{work / 'state.db'}",
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_API_URL": fake.url,
        }
        posts = json.loads(digestbot("preview", "--json", env=env).stdout)
        baseline = one_by_one(fake, posts)
        baseline_posts = len(fake.posts)
        start = time.perf_counter()
        result = digestbot("send", env=env)
        ours = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stdout, result.stderr, file=sys.stderr)
            return 1
        counts = [len(fake.messages_in(name)) for name in names]
        exactly_once = all(count == 2 for count in counts)  # one from the loop, one from us
        print(f"channels: {args.channels}, latency per call: {args.latency * 1000:.0f} ms")
        print(f"{'one-by-one slack-sdk loop':28} {baseline:7.2f} s  ({baseline_posts} posts)")
        ratio = ours / baseline
        verdict = "ok" if ratio <= TARGET else "MISSED"
        print(f"{'digestbot send':28} {ours:7.2f} s  {ratio:.3f}x (target {TARGET}x) {verdict}")
        print(f"every channel exactly once: {'yes' if exactly_once else 'NO'}")
        return 0 if exactly_once and ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
