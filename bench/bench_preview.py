"""Benchmark: `digestbot preview` on a real feed against a plain libyaml parse-and-sort script.

Run:  python bench/bench_preview.py [--feed ../shared/corpus/azure] [--repeat 7]

Everything is measured in this one run, on a private copy of the feed: the baseline script
(parse every file with libyaml, sort by heat), then the first preview (no index yet), a repeated
preview with the feed unchanged, and a preview after 10 files were changed or added. Prints each
time, its ratio to the baseline and the target, and the peak memory of the preview processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_FEED = HERE.parent.parent / "shared" / "corpus" / "azure"
TOPICS = ["Azure", "AI", "Databases", "Security", "Storage"]
TARGETS = {"first preview": 0.2, "repeated preview": 0.03, "after 10 changes": 0.04}
MEMORY_TARGET_MB = 300


def baseline(feed: Path) -> float:
    """The hand-written script: parse every front matter with libyaml, sort by heat."""
    start = time.perf_counter()
    ranked = []
    for path in feed.rglob("*.md"):
        text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        front = text.split("\n---", 1)[0][3:]
        data = yaml.load(front, Loader=yaml.CSafeLoader)
        heat = data.get("heat")
        ranked.append((heat if isinstance(heat, int | float) else -1, path.name))
    ranked.sort(reverse=True)
    return time.perf_counter() - start


def preview(env: dict[str, str]) -> float:
    command = shutil.which("digestbot") or sys.executable
    args = [command] if command.endswith("digestbot") else [command, "-m", "digestbot"]
    start = time.perf_counter()
    subprocess.run([*args, "preview", "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def change_files(feed: Path, count: int) -> None:
    """Edit half of `count` files and add the other half, as a feed update would."""
    files = sorted(feed.glob("*.md"))
    for n, path in enumerate(files[: count // 2]):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace('excerpt: "', f'excerpt: "Update {n}. ', 1), encoding="utf-8")
    for n, path in enumerate(files[-(count - count // 2) :]):
        (feed / f"added-{n}.md").write_text(path.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feed", type=Path, default=DEFAULT_FEED)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if not args.feed.is_dir():
        print(f"feed not found: {args.feed}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        feed = work / "feed"
        shutil.copytree(args.feed, feed)
        config = work / "digestbot.yaml"
        config.write_text(
            f"articles: {feed}\ndigests:\n  bench:\n    topics: {TOPICS}\n"
            "    channels: ['#bench']\n"
        )
        env = {**os.environ, "DIGESTBOT_CONFIG": str(config), "XDG_CACHE_HOME": str(work / "c")}
        env["DIGESTBOT_DATABASE_URL"] = f"sqlite:///{work / 'state.db'}"
        files = sum(1 for _ in feed.rglob("*.md"))
        print(f"feed: {args.feed} ({files} files)")
        base = baseline(feed)
        times = {"first preview": preview(env)}
        times["repeated preview"] = statistics.median(preview(env) for _ in range(args.repeat))
        changed = []
        for _ in range(args.repeat):
            change_files(feed, 10)
            changed.append(preview(env))
        times["after 10 changes"] = statistics.median(changed)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{'baseline (libyaml parse + sort)':34} {base:8.3f} s")
    ok = True
    for name, seconds in times.items():
        ratio = seconds / base
        ok &= ratio <= TARGETS[name]
        verdict = "ok" if ratio <= TARGETS[name] else "MISSED"
        print(f"{name:34} {seconds:8.3f} s  {ratio:6.3f}x  (target {TARGETS[name]}x) {verdict}")
    ok &= peak_mb < MEMORY_TARGET_MB
    label = "peak memory of a preview process"
    print(f"{label:34} {peak_mb:8.1f} MB (target < {MEMORY_TARGET_MB} MB)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
