"""The git source: shallow, partial and sparse copies of a feed's repository, refreshed commit by
commit into snapshots where only the changed files are new, and failures that keep the last copy."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from conftest import wait_for
from gitrepos import (
    Remote,
    article,
    bare_copy_of,
    closed_port,
    git,
    processes_mentioning,
    silent_server,
)

from digestbot.config.values import redact_url
from digestbot.errors import SourceError
from digestbot.sources import git as git_source
from digestbot.sources import gitrun
from digestbot.sources.base import Copy
from digestbot.sources.git import GitSource

pytestmark = pytest.mark.slow  # git

BUNDLE = Path(__file__).resolve().parent.parent.parent / "shared" / "feeds" / "diablo4-news.bundle"
ARTICLES = (".md", ".txt")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    """A feed repository with a history: two articles in _news/, and files to leave alone."""
    repo = Remote(tmp_path / "remote")
    repo.commit({"_news/2023-05-07-old-news.md": article("old-news"), "README.md": "# D4\n"})
    repo.commit(
        {
            "_news/2023-05-07-old-news.md": None,
            "_news/2023-05-08-season-one.md": article("season-one", 120),
            "_news/2023-05-09-patch-notes.md": article("patch-notes", 40),
            "_news/.keep": "",
            "README.md": "# Diablo 4 news\n",
            "_layouts/post.html": "<html></html>\n",
            "assets/logo.txt": "not an article\n",
        }
    )
    return repo


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def source(
    remote: Remote | str,
    home: Path,
    folder: str | None = "_news",
    branch: str | None = None,
    timeout: float = 120,
) -> GitSource:
    """The source "d4" following `remote` (a Remote, or any URL)."""
    url = remote.url if isinstance(remote, Remote) else remote
    return GitSource("d4", url, home=home, folder=folder, branch=branch, timeout=timeout)


def in_repo(home: Path, *args: str) -> str:
    """git on the source's repository."""
    return git(*args, env={"GIT_DIR": str(home / "repo.git"), "GIT_WORK_TREE": str(home / "repo")})


def files(folder: Path) -> dict[str, os.stat_result]:
    """Every file under `folder` (relative path -> stat)."""
    return {
        str(path.relative_to(folder)): path.stat(follow_symlinks=False)
        for path in sorted(folder.rglob("*"))
        if not path.is_dir()
    }


def copy_of(feed: GitSource) -> Copy:
    copy = feed.current()
    assert copy is not None
    return copy


@pytest.mark.parametrize("by", ["file-url", "path"])
def test_first_copy_is_shallow_partial_and_sparse(remote: Remote, home: Path, by: str) -> None:
    """The first copy is shallow, partial and sparse (the folder only), and reports progress."""
    url = remote.url if by == "file-url" else str(remote.path)
    seen: list[tuple[int, int]] = []
    feed = source(url, home)
    assert feed.current() is None

    change = feed.refresh(lambda done, total: seen.append((done, total)))

    assert change.revision == remote.head()
    assert (change.new, change.changed, change.removed, change.not_modified) == (2, 0, 0, False)
    copy = copy_of(feed)
    assert copy.revision == remote.head()
    assert set(files(copy.folder)) == {
        ".keep",
        "2023-05-08-season-one.md",
        "2023-05-09-patch-notes.md",
    }
    assert (copy.folder / "2023-05-08-season-one.md").read_text() == article("season-one", 120)
    assert in_repo(home, "rev-parse", "--is-shallow-repository") == "true"
    assert in_repo(home, "rev-list", "--count", "--all") == "1"
    assert in_repo(home, "config", "remote.origin.promisor") == "true"
    assert in_repo(home, "config", "remote.origin.partialclonefilter") == "blob:none"
    missing = in_repo(home, "rev-list", "--objects", "--missing=print", "HEAD")
    assert remote.head("HEAD:assets/logo.txt") in {line[1:] for line in missing.splitlines()}
    assert not (home / "repo" / "assets").exists()
    assert not (home / "repo" / "_layouts").exists()
    # the folder's three files, and README.md: a sparse cone keeps the files at the top
    assert seen and seen[-1] == (4, 4)


def test_whole_repository_without_folder(remote: Remote, home: Path) -> None:
    """Without a folder, the copy is the whole repository, without git's own files."""
    feed = source(remote, home, folder=None)

    change = feed.refresh()

    assert change.new == 4  # every .md and .txt file: README.md and assets/logo.txt too
    copy = copy_of(feed)
    assert {name.split("/")[0] for name in files(copy.folder)} == {
        "README.md",
        "_layouts",
        "_news",
        "assets",
    }


def test_new_commit_replaces_only_changed_files(remote: Remote, home: Path) -> None:
    """Only changed files get new inodes; the previous snapshot keeps its old contents."""
    feed = source(remote, home)
    feed.refresh()
    old = copy_of(feed)
    before = files(old.folder)
    time.sleep(1.01 - time.time() % 1)  # a rewritten file would show a later mtime, and
    links = home.parent / "links"  # a new link (as each snapshot makes) gives a later ctime
    links.mkdir()
    for path in old.folder.iterdir():
        os.link(path, links / path.name)

    commit = remote.commit(
        {
            "_news/2023-05-08-season-one.md": article("season-one", 300),
            "_news/2023-05-10-new-class.md": article("new-class", 90),
            "README.md": "# changed outside the folder\n",
        }
    )
    change = feed.refresh()

    assert (change.revision, change.new, change.changed, change.removed) == (commit, 1, 1, 0)
    new = copy_of(feed)
    assert new.folder != old.folder and new.revision == commit
    after = files(new.folder)
    kept = after["2023-05-09-patch-notes.md"]
    assert (kept.st_ino, kept.st_mtime_ns) == (
        before["2023-05-09-patch-notes.md"].st_ino,
        before["2023-05-09-patch-notes.md"].st_mtime_ns,
    )
    assert after["2023-05-08-season-one.md"].st_ino != before["2023-05-08-season-one.md"].st_ino
    assert (old.folder / "2023-05-08-season-one.md").read_text() == article("season-one", 120)
    assert (new.folder / "2023-05-08-season-one.md").read_text() == article("season-one", 300)
    assert "2023-05-10-new-class.md" not in set(files(old.folder))


def test_nothing_new_is_not_modified(remote: Remote, home: Path) -> None:
    """When the remote's commit is the current copy's, nothing is published."""
    feed = source(remote, home)
    feed.refresh()
    first = copy_of(feed)

    change = feed.refresh()

    assert change.not_modified and change.revision == first.revision
    assert copy_of(feed) == first
    assert len(list((home / "snapshots").iterdir())) == 1


def test_deleted_files_counted_as_removed(remote: Remote, home: Path) -> None:
    """A file deleted from the folder is counted as removed and is gone from the new copy."""
    feed = source(remote, home)
    feed.refresh()

    remote.commit({"_news/2023-05-09-patch-notes.md": None, "assets/logo.txt": None})
    change = feed.refresh()

    assert (change.new, change.changed, change.removed) == (0, 0, 1)
    assert "2023-05-09-patch-notes.md" not in files(copy_of(feed).folder)


def test_rewritten_history_is_followed(remote: Remote, home: Path) -> None:
    """A force-pushed remote whose history shares nothing with the copy's is followed."""
    feed = source(remote, home)
    feed.refresh()

    commit = remote.rewrite({"_news/2023-05-09-patch-notes.md": article("patch-notes", 77)})
    change = feed.refresh()

    assert (change.revision, change.new, change.changed, change.removed) == (commit, 0, 1, 0)
    copy = copy_of(feed)
    assert (copy.folder / "2023-05-09-patch-notes.md").read_text() == article("patch-notes", 77)


def test_branch_option_and_default_branch(remote: Remote, home: Path, tmp_path: Path) -> None:
    """`branch` follows that branch; without it, the remote's default branch."""
    main = remote.head()
    git("checkout", "--quiet", "-b", "weekly", cwd=remote.path)
    weekly = remote.commit({"_news/2023-05-12-weekly.md": article("weekly")})
    git("checkout", "--quiet", "main", cwd=remote.path)

    assert source(remote, home, branch="weekly").refresh().revision == weekly
    assert source(remote, tmp_path / "other").refresh().revision == main


def test_revision_survives_a_restart(remote: Remote, home: Path) -> None:
    """A new GitSource on the same home finds the copy and its full commit."""
    source(remote, home).refresh()

    copy = copy_of(source(remote, home))

    assert copy.revision == remote.head() and len(copy.revision) == 40


def test_symlinks_become_plain_files(remote: Remote, home: Path) -> None:
    """A symlink in the feed is checked out as a plain file, never a way out of the folder."""
    (remote.path / "_news" / "2023-05-11-link.md").symlink_to("/etc/passwd")
    remote.commit({})

    source(remote, home).refresh()

    link = copy_of(source(remote, home)).folder / "2023-05-11-link.md"
    assert not link.is_symlink() and link.read_text() == "/etc/passwd"


def test_neutral_environment(remote: Remote, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's git settings (a global config, GIT_DIR, a locale) change nothing."""
    config = home.parent / "gitconfig"
    config.write_text(f'[url "file:///nowhere/"]\n\tinsteadOf = {remote.url}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_DIR", str(remote.path / ".git"))
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")

    assert source(remote, home).refresh().new == 2
    assert git("rev-parse", "HEAD", cwd=remote.path) == remote.head()


def test_remote_that_disappears_keeps_the_copy(remote: Remote, home: Path) -> None:
    """A remote gone raises SourceError with git's reason; the copy stays, later refreshes work."""
    feed = source(remote, home)
    feed.refresh()
    copy = copy_of(feed)
    moved = remote.path.with_name("moved")
    remote.path.rename(moved)

    with pytest.raises(SourceError) as failure:
        feed.refresh()

    assert failure.value.source == "d4"
    assert "does not appear to be a git repository" in failure.value.reason
    assert "\n" not in str(failure.value)
    assert copy_of(feed) == copy
    assert (copy.folder / "2023-05-08-season-one.md").read_text() == article("season-one", 120)
    moved.rename(remote.path)
    commit = remote.commit({"_news/2023-05-13-back.md": article("back")})
    assert feed.refresh().new == 1 and copy_of(feed).revision == commit


def test_unknown_branch_keeps_the_copy(remote: Remote, home: Path) -> None:
    """An unknown branch raises SourceError saying so; the last copy stays."""
    source(remote, home).refresh()
    copy = copy_of(source(remote, home))

    with pytest.raises(SourceError) as failure:
        source(remote, home, branch="nope").refresh()

    assert "couldn't find remote ref refs/heads/nope" in failure.value.reason
    assert copy_of(source(remote, home)) == copy


def test_hanging_remote_times_out(remote: Remote, home: Path) -> None:
    """A silent remote times out, every git process killed; the last copy stays."""
    source(remote, home).refresh()
    copy = copy_of(source(remote, home))

    with silent_server() as port:
        hanging = source(f"http://127.0.0.1:{port}/d4.git", home, timeout=0.5)
        with pytest.raises(SourceError) as failure:
            hanging.refresh()

        assert "timed out after 0.5 s" in failure.value.reason
        # Killed, they may take a moment to be gone.
        assert wait_for(lambda: processes_mentioning(f"127.0.0.1:{port}") == [])
    assert copy_of(source(remote, home)) == copy
    assert source(remote, home).refresh().not_modified  # the tree is fine for the next attempt


def test_stuck_git_is_killed(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A git that ignores SIGTERM is killed at the timeout, with the processes it started."""
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\ntrap '' TERM\nsleep 987.654 &\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(gitrun, "STOP_GRACE", 0.2)

    with pytest.raises(SourceError, match="timed out after 0.5 s"):
        source("https://example.com/d4.git", home, timeout=0.5).refresh()

    assert wait_for(lambda: processes_mentioning("987.654") == [])


@pytest.mark.parametrize("server", ["closed", "silent"])
def test_credentials_never_shown(home: Path, server: str, caplog: pytest.LogCaptureFixture) -> None:
    """A token in the URL appears in no error and no log line, whatever the failure."""
    caplog.set_level(logging.DEBUG)
    with silent_server() as silent:
        port = closed_port() if server == "closed" else silent
        feed = source(f"http://user:s3cretTOKEN@127.0.0.1:{port}/d4.git", home, timeout=0.5)

        with pytest.raises(SourceError) as failure:
            feed.refresh()

    text = f"{failure.value}\n{failure.value.reason}\n{caplog.text}"
    assert "s3cretTOKEN" not in text
    assert ("timed out" if server == "silent" else "127.0.0.1") in failure.value.reason
    assert "d4: " in str(failure.value)


def test_redact_url() -> None:
    """redact_url hides a password, or a bare token, and leaves other URLs alone."""
    assert redact_url("https://user:TOKEN@host/x.git") == "https://user:***@host/x.git"
    assert redact_url("https://ghp_TOKEN@github.com/a/b") == "https://***@github.com/a/b"
    assert redact_url("https://u:p@ss@host/x") == "https://u:***@host/x"
    assert redact_url("see 'http://a:b@h/x' now") == "see 'http://a:***@h/x' now"
    assert redact_url("https://github.com/a/b.git") == "https://github.com/a/b.git"
    assert redact_url("/srv/feeds/d4.git") == "/srv/feeds/d4.git"


def test_broken_repository_is_made_anew(
    remote: Remote, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A repository git cannot read is made anew from scratch; counts compare the files."""
    feed = source(remote, home)
    feed.refresh()
    (home / "repo.git" / "HEAD").write_text("garbage\n")
    commit = remote.commit({"_news/2023-05-09-patch-notes.md": article("patch-notes", 41)})
    caplog.set_level(logging.INFO)

    change = feed.refresh()

    assert (change.revision, change.new, change.changed, change.removed) == (commit, 0, 1, 0)
    assert "git tree made anew source=d4 reason=unreadable" in caplog.text
    assert in_repo(home, "rev-parse", "HEAD") == commit


def test_interrupted_refresh_is_made_anew(
    remote: Remote, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After a refresh that never finished (a crash, a lock left) the repository is made anew."""
    caplog.set_level(logging.INFO)
    feed = source(remote, home)
    feed.refresh()
    (home / "repo.git" / "digestbot.json").unlink()
    (home / "repo.git" / "shallow.lock").write_text("")
    commit = remote.commit({"_news/2023-05-13-after.md": article("after")})

    change = feed.refresh()

    assert (change.revision, change.new, change.changed, change.removed) == (commit, 1, 0, 0)
    assert "git tree made anew source=d4 reason=interrupted" in caplog.text


def test_grown_repository_is_made_anew(
    remote: Remote, home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """After REMAKE_AFTER commits the repository, which git never prunes, is made anew."""
    monkeypatch.setattr(git_source, "REMAKE_AFTER", 2)
    feed = source(remote, home)
    feed.refresh()
    remote.commit({"_news/2023-05-13-second.md": article("second")})
    feed.refresh()
    caplog.set_level(logging.INFO)
    commit = remote.commit({"_news/2023-05-14-third.md": article("third")})

    change = feed.refresh()

    assert "git tree made anew source=d4 reason=grown" in caplog.text
    assert (change.revision, change.new, change.changed, change.removed) == (commit, 1, 0, 0)
    assert in_repo(home, "rev-list", "--count", "--all") == "1"


def test_folder_must_be_inside_the_repository(home: Path) -> None:
    """A folder that leaves the repository is refused when the source is made."""
    for folder in ("../etc", "_news/../..", ".git"):
        with pytest.raises(ValueError, match="not a folder inside a repository"):
            source("https://example.com/x.git", home, folder=folder)


@pytest.fixture(scope="module")
def diablo4(tmp_path_factory: pytest.TempPathFactory, run_folder: Path) -> Path:
    """The real diablo4 feed's history as a bare remote."""
    if not BUNDLE.is_file():
        pytest.skip(f"{BUNDLE} is absent (the real feed history, ../shared/feeds)")
    remote = tmp_path_factory.mktemp("diablo4") / "remote.git"
    return bare_copy_of(BUNDLE, run_folder / "diablo4.git", remote)


def test_replay_a_real_day(diablo4: Path, home: Path) -> None:
    """A real day (12 commits) in one refresh: git's counts, new inodes for changed files only."""
    day0, day1 = (git("rev-parse", f"main~{n}", cwd=diablo4) for n in (24, 12))
    feed = GitSource("d4", f"file://{diablo4}", home=home, folder="_news")
    git("update-ref", "refs/heads/main", day0, cwd=diablo4)
    first = feed.refresh()
    before = files(copy_of(feed).folder)

    git("update-ref", "refs/heads/main", day1, cwd=diablo4)
    change = feed.refresh()

    diff = git("diff", "--no-renames", "--name-status", day0, day1, "--", "_news", cwd=diablo4)
    status = {
        path.removeprefix("_news/"): kind
        for kind, path in (line.split("\t") for line in diff.splitlines())
    }
    articles = {path: kind for path, kind in status.items() if path.endswith(ARTICLES)}
    expected = tuple(sum(kind == k for kind in articles.values()) for k in "AMD")
    assert (change.new, change.changed, change.removed) == expected
    assert first.new > 1000 and sum(expected) > 10
    after = files(copy_of(feed).folder)
    renewed = {path for path, stat in after.items() if stat.st_ino != before.get(path, stat).st_ino}
    renewed |= set(after) - set(before)
    assert renewed == {path for path, kind in status.items() if kind in "AM"}
    assert set(before) - set(after) == {path for path, kind in status.items() if kind == "D"}


def test_without_git_the_first_copy_says_so(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No git on PATH before the first copy: the reason is that, not a disk error about a
    marker file in a repository that was never made."""
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(SourceError) as failure:
        source("https://example.com/d4.git", home).refresh()
    assert failure.value.reason.endswith("git is not installed (not on PATH)")
