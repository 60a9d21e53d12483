"""Benchmark: digestbot's live sources, a git repository and 100 RSS feeds, as whole processes.

Run:  python bench/bench_sources.py [--bundle ../shared/feeds/diablo4-news.bundle]
                                    [--repeat 9] [--days 9] [--feeds 100] [--latency 0.2]
                                    [--only git|feeds]

Everything is measured in this one run, against baselines measured in the same run; every
digestbot figure is a whole `digestbot` process (its start included), the median of several
runs (`--repeat` for git, 3 for feeds). A git preview is timed beside a `preview --no-refresh`
run just before or after it, and its ratio is the median of those pairs' ratios: a change of
the machine's load between pairs does not skew it (the load average is printed, as digestbot's
times grow with it; so is the ratio of CPU times, which that load changes less).

git, on the diablo4 history (a bundle of 9,269 commits) served as a `file://` bare remote, moved
back `--days` + 1 days (12 commits a day) and replayed day by day:
- the first copy's git objects against those of a `git clone --depth 1` of the same commit;
- `preview` when the remote has nothing new, against `preview --no-refresh`;
- `preview` after each day's 12 new commits, against `preview --no-refresh`, with what the
  source and the article index say they read, beside `git diff --name-status` of that day;
  one more day goes through `digestbot refresh`, whose line is printed as it is.

feeds, `--feeds` RSS feeds (20-50 real news items each, with an ETag) behind `--latency` s:
- the first `digestbot refresh`, against `feedparser.parse(url)` of each feed one by one; it is
  measured once the file system makes files at its usual speed (see `settle_files`: the
  wait and the speeds are printed);
- the second refresh: every request conditional, every answer 304, nothing parsed;
- a refresh with one more feed that never answers (`timeout: 2s`): it costs its timeout, and
  the others are done as soon as without it.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import feedparser

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from feeds import Feed, TimedFeedServer, load_items, serve_feeds  # noqa: E402

DEFAULT_BUNDLE = HERE.parent.parent / "shared" / "feeds" / "diablo4-news.bundle"
DAY = 12  # commits the diablo4 bot makes in a day
FOLDER = "_news"
TOPICS = ["Diablo 4", "Diablo IV"]  # the topics of the diablo4 files (nearly all: "Diablo 4")
HANG_TIMEOUT = 2.0  # seconds: the `timeout` of the feed that never answers
TARGETS = {
    "objects": 1.5,  # the first copy's objects / a depth-1 clone's
    "nothing new": 1.3,  # preview / preview --no-refresh
    "one day": 1.6,
    "feeds": 0.1,  # first refresh / one-by-one feedparser loop
}
FEED_REPEAT = 3  # runs per feed figure: the first refresh takes seconds, the baseline half a minute
SLACK = 0.5  # seconds of jitter allowed when comparing the others' time with and without a hang
SLOW_FILE = 60e-6  # seconds per file past which the file system is still settling
SETTLE_STEP = 10.0  # seconds between probes
SETTLE_AT_MOST = 360.0  # ext4 waits at most five minutes before reusing an inode
_GIT_ENV = {
    **{key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "LC_ALL": "C",
}


# Running things


@dataclass
class Run:
    """One digestbot process: its wall time, output, and stderr lines with their arrival."""

    seconds: float
    returncode: int
    stdout: str
    cpu: float  # user + system seconds of the process and its children (git)
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds after start, line)

    def logged(self, pattern: str) -> list[re.Match[str]]:
        found = (re.search(pattern, line) for _, line in self.lines)
        return [match for match in found if match]

    def last(self, pattern: str) -> float | None:
        times = [at for at, line in self.lines if re.search(pattern, line)]
        return max(times) if times else None


def digestbot_command() -> list[str]:
    """The installed `digestbot` beside this Python, as a user runs it."""
    script = Path(sys.executable).parent / "digestbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "digestbot"]


def digestbot(*args: str, env: dict[str, str], check: bool = True) -> Run:
    """Run `digestbot ARGS`, timing it; stderr is read as it comes, line by line."""
    start, used = time.perf_counter(), _children_cpu()
    process = subprocess.Popen(
        [*digestbot_command(), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    out: list[str] = []
    reader = threading.Thread(target=_read, args=(process.stdout, out))
    reader.start()
    lines = [(time.perf_counter() - start, line.rstrip("\n")) for line in process.stderr]
    returncode = process.wait()
    seconds = time.perf_counter() - start
    reader.join()
    run = Run(seconds, returncode, "".join(out), _children_cpu() - used, lines)
    if check and returncode != 0:
        stderr = "\n".join(line for _, line in lines)
        raise SystemExit(f"digestbot {' '.join(args)} failed ({returncode}):\n{stderr}")
    return run


def _read(stream: IO[str], into: list[str]) -> None:
    into.append(stream.read())


def machine_cpu() -> float:
    """Seconds the machine's CPUs were busy since it started (user, system and the rest)."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def git(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *map(str, args)], cwd=cwd, env=_GIT_ENV, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(map(str, args))} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def environment(work: Path, config: Path, cache: str) -> dict[str, str]:
    return {
        **os.environ,
        "DIGESTBOT_CONFIG": str(config),
        "XDG_CACHE_HOME": str(work / cache),
        "DIGESTBOT_DATABASE_URL": f"sqlite:///{work / 'state.db'}",
    }


def median(values: Iterable[float]) -> float:
    return statistics.median(values)


# Reporting


@dataclass
class Table:
    """The printed table: rows of time, ratio to their baseline, target and verdict."""

    verdicts: dict[str, bool] = field(default_factory=dict)

    def baseline(self, label: str, seconds: float, note: str = "") -> None:
        print(f"  {label:44} {seconds:8.3f} s  {'1':>7}  {note}")

    def row(
        self, label: str, value: float, ratio: float, target: str, unit: str = "s", note: str = ""
    ) -> None:
        ok = ratio <= TARGETS[target]
        self.check(target, ok)
        verdict = "ok" if ok else "MISSED"
        limit = f"(target {TARGETS[target]}x)"
        shown = f"{value:8.3f} s" if unit == "s" else f"{value:8.0f}{unit}"
        print(f"  {label:44} {shown}  {ratio:6.3f}x  {limit:15} {verdict:6} {note}".rstrip())

    def paired(self, label: str, pairs: list[tuple[Run, Run]], target: str) -> None:
        """(run, its baseline run) pairs measured side by side: the median time, and the median
        of the ratios, which a change of the machine's load between pairs does not skew; the
        ratio of CPU times, which that load changes less, is shown beside."""
        ratio = median(run.seconds / base.seconds for run, base in pairs)
        cpu = median(run.cpu / base.cpu for run, base in pairs)
        seconds = median(run.seconds for run, _ in pairs)
        self.row(label, seconds, ratio, target, note=f"(CPU time: {cpu:.3f}x)")

    def check(self, name: str, ok: bool) -> None:
        self.verdicts[name] = self.verdicts.get(name, True) and ok


# git


@dataclass
class Remote:
    """The diablo4 history as a bare remote whose branch is moved day by day."""

    path: Path
    tip: str

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def days_back(self, days: int) -> str:
        commit = git("rev-parse", f"{self.tip}~{DAY * days}", cwd=self.path)
        git("update-ref", "refs/heads/main", commit, cwd=self.path)
        return commit


def make_remote(bundle: Path, work: Path) -> Remote:
    path = work / "remote.git"
    git("clone", "--quiet", "--bare", bundle, path)
    # git's own servers refuse partial clones and wants of bare object ids unless asked to.
    git("config", "uploadpack.allowFilter", "true", cwd=path)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=path)
    return Remote(path, git("rev-parse", "main", cwd=path))


def objects(git_dir: Path) -> int:
    """Objects in a repository: loose and packed."""
    counts = dict(
        line.split(": ") for line in git("--git-dir", git_dir, "count-objects", "-v").splitlines()
    )
    return int(counts["count"]) + int(counts["in-pack"])


def digestbot_git_dir(cache: Path) -> Path:
    """Where digestbot keeps the source's git folder (see digestbot/sources/git.py)."""
    found = sorted((cache / "digestbot" / "sources").glob("diablo4-*/repo.git"))
    if not found:
        raise SystemExit(f"no git folder of digestbot's under {cache}/digestbot/sources")
    return found[0]


def diff_counts(remote: Remote, old: str, new: str) -> Counter[str]:
    """Article files added, modified, deleted between two commits (`git diff --name-status`)."""
    out = git("diff", "--name-status", "--no-renames", old, new, "--", FOLDER, cwd=remote.path)
    return Counter(
        line.split("\t")[0][0] for line in out.splitlines() if line.endswith((".md", ".txt"))
    )


def source_counts(run: Run) -> tuple[int, int, int] | None:
    """new, changed, removed as the source's refresh logged them."""
    found = run.logged(r"source refreshed source=diablo4 .* new=(\d+) changed=(\d+) removed=(\d+)")
    return _three(found[-1]) if found else None


def index_counts(run: Run) -> tuple[int, int]:
    """Files the article index parsed and removed (0, 0 when it logged nothing: none)."""
    found = run.logged(r"index refreshed root=.* parsed=(\d+) removed=(\d+)")
    return (int(found[-1].group(1)), int(found[-1].group(2))) if found else (0, 0)


def git_config(work: Path, remote: Remote) -> Path:
    config = work / "git.yaml"
    config.write_text(
        f"sources:\n  diablo4:\n    git: {remote.url}\n    folder: {FOLDER}\n    refresh: 0s\n"
        f"digests:\n  bench:\n    topics: {TOPICS}\n    channels: ['#bench']\n"
    )
    return config


def bench_git(remote: Remote, work: Path, args: argparse.Namespace, table: Table) -> None:
    env = environment(work, git_config(work, remote), "git-cache")
    commit = remote.days_back(args.days + 1)
    print(f"\ngit: {remote.url} at {commit[:12]} ({args.days + 1} days before the tip)")
    first = digestbot("-v", "preview", env=env)
    ours, theirs, commits = first_copy(remote, work)
    table.check("objects", commits == 1)
    print(f"  first preview: {first.seconds:.2f} s, {index_counts(first)[0]} files indexed")
    print(f"  its copy holds {commits} commit(s); objects: `git count-objects -v`, count + in-pack")

    unchanged = []
    for _ in range(args.repeat):
        quiet = digestbot("preview", "--no-refresh", env=env)
        run = digestbot("-v", "preview", env=env)
        table.check("nothing new", bool(run.logged(r"git not modified source=diablo4")))
        unchanged.append((run, quiet))
    daily = replay_days(remote, commit, args.days, env, table)
    grown = objects(digestbot_git_dir(work / "git-cache"))
    print(f"  objects of digestbot's copy after {args.days + 1} days: {grown}")

    print()
    quiet = [base.seconds for _, base in unchanged + daily]
    table.baseline("preview --no-refresh", median(quiet), f"(median of {len(quiet)})")
    table.paired("preview, remote has nothing new", unchanged, "nothing new")
    table.paired(f"preview after 12 new commits ({args.days} days)", daily, "one day")
    print(f"  {'git clone --depth 1: objects':44} {theirs:8d}    {'1':>7}")
    table.row("digestbot's first copy: objects", ours, ours / theirs, "objects", unit="  ")


def first_copy(remote: Remote, work: Path) -> tuple[int, int, int]:
    """Objects of digestbot's first copy, of a depth-1 clone, and the commits of the copy."""
    depth1 = work / "depth1"
    git("clone", "--quiet", "--depth", "1", "--no-checkout", remote.url, depth1)
    ours = digestbot_git_dir(work / "git-cache")
    commits = len(git("--git-dir", ours, "rev-list", "--all").split())
    return objects(ours), objects(depth1 / ".git"), commits


def replay_days(
    remote: Remote, commit: str, days: int, env: dict[str, str], table: Table
) -> list[tuple[Run, Run]]:
    """Move the remote a day at a time: a timed preview each day, paired with a --no-refresh
    preview just after; the last day goes through `digestbot refresh`."""
    daily = []
    old = commit
    for day in range(days, 0, -1):
        new = remote.days_back(day)
        run = digestbot("-v", "preview", env=env)
        daily.append((run, digestbot("preview", "--no-refresh", env=env)))
        print_day(remote, old, new, run, table)
        old = new
    new = remote.days_back(0)
    refreshed = digestbot("refresh", env=env)
    indexed = digestbot("-v", "preview", "--no-refresh", env=env)
    print(f"  digestbot refresh printed: {refreshed.stdout.strip()}")
    counts = refreshed_counts(refreshed.stdout)
    print_day(remote, old, new, indexed, table, counts=counts, seconds=refreshed.seconds)
    return daily


def refreshed_counts(stdout: str) -> tuple[int, int, int] | None:
    match = re.search(r"(\d+) new, (\d+) changed, (\d+) removed", stdout)
    return _three(match) if match else None


def _three(match: re.Match[str]) -> tuple[int, int, int]:
    new, changed, removed = (int(n) for n in match.groups())
    return new, changed, removed


def print_day(
    remote: Remote,
    old: str,
    new: str,
    run: Run,
    table: Table,
    counts: tuple[int, int, int] | None = None,
    seconds: float | None = None,
) -> None:
    """One day: git's diff beside what digestbot's source and index say they read."""
    diff = diff_counts(remote, old, new)
    expected = (diff["A"], diff["M"] + diff["T"], diff["D"])
    counts = counts or source_counts(run)
    parsed, removed = index_counts(run)
    ok = counts == expected and (parsed, removed) == (expected[0] + expected[1], expected[2])
    table.check("reads only changes", ok)
    said = "{} new, {} changed, {} removed".format(*counts) if counts else "nothing logged"
    print(
        f"  {old[:8]}..{new[:8]}: git diff A={diff['A']} M={diff['M'] + diff['T']} "
        f"D={diff['D']} | digestbot: {said} | index parsed={parsed} removed={removed} | "
        f"{run.seconds if seconds is None else seconds:.2f} s {'ok' if ok else 'DIFFERS'}"
    )


# feeds


def feed_config(work: Path, urls: list[str], hang: str | None = None) -> Path:
    lines = ["sources:"]
    if hang:  # first: a refresh that waited for it would hold up every other feed
        lines += ["  hang:", f"    feed: {hang}", f"    timeout: {HANG_TIMEOUT:g}s"]
    for number, url in enumerate(urls):
        lines += [f"  feed{number:03d}:", f"    feed: {url}", "    refresh: 0s"]
    lines += ["digests:", "  bench:", f"    topics: {TOPICS}", "    channels: ['#bench']"]
    config = work / ("feeds-hang.yaml" if hang else "feeds.yaml")
    config.write_text("\n".join(lines) + "\n")
    return config


def one_by_one(urls: list[str]) -> float:
    """The baseline: feedparser fetches and parses each feed, one after the other."""
    start = time.perf_counter()
    for url in urls:
        parsed = feedparser.parse(url)
        if parsed.get("status") != 200 or not parsed.entries:
            raise SystemExit(f"the baseline could not read {url}: {parsed.get('bozo_exception')}")
    return time.perf_counter() - start


def file_cost(work: Path, feeds: int, files: int) -> float:
    """Seconds to make one empty file, laid out as a first refresh lays out its copies: a new
    folder tree per feed, `files` files in all (kept: removing them would slow the next probe)."""
    probe = Path(tempfile.mkdtemp(dir=work, prefix="probe-"))
    start = time.perf_counter()
    for feed in range(feeds):
        folder = probe / "digestbot" / "sources" / f"feed{feed:03d}" / "snapshots" / "probe"
        folder.mkdir(parents=True)
        for number in range(files // feeds):
            (folder / f"{number}.md").touch()
    return (time.perf_counter() - start) / files


def settle_files(work: Path, feeds: int, files: int) -> str:
    """Wait (up to SETTLE_AT_MOST) until files are made at this machine's usual speed; what
    was seen, to print.

    A first refresh makes an article file per entry (3,653 here), as the probe does. Without
    a journal, ext4 does not reuse an inode for a minute (five while its table is unwritten)
    after its file was removed, and it passes over each such inode again for every new file:
    after a run that removed tens of thousands of files (this benchmark's own folder, a test
    suite), making one takes near a millisecond of kernel time instead of 20-40 us, which the
    baseline (no files) does not pay.
    """
    first = cost = file_cost(work, feeds, files)
    waited = 0.0
    while cost > SLOW_FILE and waited < SETTLE_AT_MOST:
        time.sleep(SETTLE_STEP)
        waited += SETTLE_STEP
        cost = file_cost(work, feeds, files)
    seen = f"making a file took {first * 1e6:.0f} us"
    if waited:
        state = "usual" if cost <= SLOW_FILE else "STILL SLOW"
        seen += f" (files removed lately); after {waited:.0f} s {cost * 1e6:.0f} us ({state})"
    return seen


def all_not_modified(server: TimedFeedServer, feeds: list[Feed], since: int, run: Run) -> bool:
    """Every feed asked once with its ETag (so answered 304), and digestbot parsed none."""
    asked = server.requests[since:]
    etags = {feed.path: feed.etag for feed in feeds}
    conditional = sorted(r.path for r in asked if r.headers.get("If-None-Match") == etags[r.path])
    not_modified = run.logged(r"feed not modified source=feed\d+ status=304")
    parsed = run.logged(r"feed refreshed source=")
    return (
        len(asked) == len(feeds)
        and conditional == sorted(etags)
        and len(not_modified) == len(feeds)
        and not parsed
    )


def fresh_refreshes(work: Path, config: Path, count: int) -> tuple[list[Run], dict[str, str]]:
    """`count` first refreshes, each in a new cache folder; the env of the last one."""
    runs = []
    env: dict[str, str] = {}
    for attempt in range(count):
        env = environment(work, config, f"feeds-cache-{attempt}")
        busy = machine_cpu()
        run = digestbot("refresh", env=env)
        # The parsing workers are the forkserver's children, which no one waits for, so they
        # are missing from this process's children's time: the machine's is counted instead.
        run.cpu = machine_cpu() - busy
        lines = run.stdout.splitlines()
        if len(lines) != config.read_text().count("feed:") or " new, " not in lines[0]:
            raise SystemExit(f"unexpected first refresh:\n{run.stdout}")
        runs.append(run)
    return runs, env


def bench_feeds(items_folder: Path, work: Path, args: argparse.Namespace, table: Table) -> None:
    items = load_items(items_folder)
    with TimedFeedServer(latency=args.latency) as server:
        feeds = serve_feeds(server, items, args.feeds)
        urls = [server.url(feed.path) for feed in feeds]
        entries = sum(feed.items for feed in feeds)
        print(
            f"\nfeeds: {len(feeds)} RSS feeds, {entries} items, "
            f"{args.latency * 1000:.0f} ms latency per request"
        )
        base = one_by_one(urls)
        print(f"  {settle_files(work, len(feeds), entries)}")

        config = feed_config(work, urls)
        first, env = fresh_refreshes(work, config, FEED_REPEAT)
        second, others_done = [], []
        for _ in range(FEED_REPEAT):
            since = len(server.requests)
            run = digestbot("-v", "refresh", env=env)
            table.check("all 304", all_not_modified(server, feeds, since, run))
            second.append(run.seconds)
            others_done.append(run.last(r"feed not modified") or run.seconds)

        server.hang("/hang")
        hang_env = {**env, "DIGESTBOT_CONFIG": str(feed_config(work, urls, server.url("/hang")))}
        hung, hang_others, gave_up, said = [], [], [], ""
        for _ in range(FEED_REPEAT):
            arrived = len(server.arrivals)
            start = time.perf_counter()
            run = digestbot("-v", "refresh", env=hang_env, check=False)
            asked = [at - start for at, path in server.arrivals[arrived:] if path == "/hang"]
            failed = run.last(r"source refresh failed source=hang .*did not answer within")
            if run.returncode != 1 or failed is None or not asked:
                raise SystemExit("the hanging feed did not fail as expected:\n" + run.stdout)
            said = next(line for line in run.stdout.splitlines() if line.startswith("hang:"))
            hung.append(run.seconds)
            hang_others.append(run.last(r"feed not modified source=feed") or run.seconds)
            gave_up.append(failed - asked[0])

    print()
    table.baseline("feedparser.parse(url) one by one", base, f"({len(urls)} feeds)")
    seconds = median(run.seconds for run in first)
    table.row("first digestbot refresh", seconds, seconds / base, "feeds")
    cpu = median(run.cpu for run in first)
    label = "  the machine's CPU time meanwhile"
    print(
        f"  {label:44} {cpu:8.3f} s  {cpu / base:6.3f}x  ({cpu / len(urls) * 1000:.0f} ms a feed)"
    )
    print(
        f"  {'second refresh (all 304, nothing parsed)':44} {median(second):8.3f} s  "
        f"{median(second) / base:6.3f}x  {'all 304' if table.verdicts['all 304'] else 'NOT'}"
    )
    print(
        f"  {'refresh with a feed that never answers':44} {median(hung):8.3f} s  "
        f"(timeout {HANG_TIMEOUT:g} s; gave up {median(gave_up):.2f} s after asking)"
    )
    print(
        f"  {'  the other feeds done after':44} {median(hang_others):8.3f} s  "
        f"(without it: {median(others_done):.3f} s)"
    )
    costs_timeout = median(gave_up) <= HANG_TIMEOUT + SLACK
    not_others = median(hang_others) <= median(others_done) + SLACK
    extra = median(hung) - median(second)
    table.check("hang", costs_timeout and not_others and extra <= HANG_TIMEOUT + SLACK)
    print(f"  {'  added to the refresh':44} {extra:8.3f} s  (at most its timeout)")
    print(f"  digestbot refresh printed: {said}")


# main


def summary(table: Table) -> bool:
    lines = {
        "objects": "git: the first copy holds no history (objects <= 1.5x a depth-1 clone)",
        "nothing new": "git: preview with nothing new <= 1.3x preview --no-refresh",
        "one day": "git: preview after one day's 12 commits <= 1.6x preview --no-refresh",
        "reads only changes": "git: a refresh reads only the files that changed",
        "feeds": "feeds: first refresh of 100 feeds <= 0.1x a one-by-one feedparser loop",
        "all 304": "feeds: the second refresh is all 304s and parses nothing",
        "hang": "feeds: a feed that never answers costs its timeout, not the others' time",
    }
    print()
    ok = True
    for key, text in lines.items():
        if key not in table.verdicts:
            continue
        ok &= table.verdicts[key]
        print(f"{'met   ' if table.verdicts[key] else 'MISSED'} {text}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="the git history")
    parser.add_argument("--repeat", type=int, default=9, help="runs per git figure (feeds: 3)")
    parser.add_argument("--days", type=int, default=9, help="days of 12 commits replayed")
    parser.add_argument("--feeds", type=int, default=100, help="RSS feeds served")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per feed request")
    parser.add_argument("--only", choices=["git", "feeds"], help="measure one kind of source")
    args = parser.parse_args()
    if not args.bundle.is_file():
        print(f"bundle not found: {args.bundle} (see ../shared/feeds/README.md)", file=sys.stderr)
        return 2
    if shutil.which("git") is None:
        print("git is not installed", file=sys.stderr)
        return 2
    table = Table()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        remote = make_remote(args.bundle, work)
        print(
            f"history: {args.bundle} ({git('rev-list', '--count', 'main', cwd=remote.path)} "
            f"commits), digestbot: {' '.join(digestbot_command())}"
        )
        print(f"{load()} at the start")
        steps: dict[str, Callable[[], None]] = {
            "git": lambda: bench_git(remote, work, args, table),
            "feeds": lambda: bench_feeds(news_folder(remote, work), work, args, table),
        }
        for name, step in steps.items():
            if args.only in (None, name):
                step()
    print(f"\n{load()} at the end")
    return 0 if summary(table) else 1


def load() -> str:
    """The machine's load: digestbot's times grow with whatever else runs beside it."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def news_folder(remote: Remote, work: Path) -> Path:
    """The diablo4 news files at the tip: the feeds' items."""
    tree = work / "news"
    remote.days_back(0)
    git("clone", "--quiet", "--depth", "1", remote.url, tree)
    return tree / FOLDER


if __name__ == "__main__":
    raise SystemExit(main())
