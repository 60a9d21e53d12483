"""Step 1, a source: a Smartable feed's git repository, followed commit by commit.

A feed's bot commits every few hours, rewriting many article files (heat moves, articles turn
published or unpublished, URLs change) and adding a few; only a file's path is stable. The source
keeps a git working tree under `home/repo` (its git folder beside it, `home/repo.git`, so that the
tree holds the commit's files only) and follows the remote's latest commit:

- fetch that commit alone (depth 1) with its trees, without file contents (`--filter=blob:none`),
  whatever its history: a force-pushed or rewritten remote is followed like any other;
- download in one batch the contents that changed inside the sparse checkout (cone mode: the
  article `folder`, and the files directly in the folders on the way to it; everything when no
  folder is given), so that the first copy shows its download's progress;
- `git reset --hard` to it: git unlinks and recreates each file it changes, so the snapshots,
  hard links of the tree, keep their content, and unchanged files keep inode, size and mtime;
- publish the folder as a new snapshot (`snapshots`): the article index reads only what changed.

git is the system's `git`, 2.35 or later (`sparse-checkout set --cone`), run with a neutral
environment: no prompt, no user or system config, the C locale. The URL reaches git through the
environment, so credentials in it are never written to disk, and no message shows them
(`redact_url`). A refresh is bounded by `timeout`: a git that hangs is stopped with its whole
process group. The tree is trusted only when the last refresh left it consistent (a marker in
the git folder): after a crash, a killed git or a failed local step, the next refresh makes it
anew, as it does every REMAKE_AFTER commits. A failure raises SourceError; the copy stays.
"""

from __future__ import annotations

import filecmp
import json
import logging
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from digestbot.config.values import redact_url, repository_folder
from digestbot.errors import SourceError
from digestbot.index import SUFFIXES, Progress
from digestbot.sources.base import Change, Copy
from digestbot.sources.gitrun import Git, GitFailure
from digestbot.sources.snapshots import KEEP, Snapshots, replace_file

log = logging.getLogger(__name__)

FETCHED = "refs/digestbot/fetched"  # where the remote's commit lands, whichever branch it is on
MARKER = "digestbot.json"  # in the git folder when the tree is consistent, for a folder
REVISIONS = "revisions"  # in home: full ids of the latest published commits, newest first
# git knows the empty tree without storing it; a repository made here is SHA-1.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SUBMODULE = "160000"
# git never prunes what a partial clone fetched: each commit adds its trees and changed files
# (about 5 KB for diablo4). After this many commits (about 3 months of a feed) the repository
# is made anew, at the cost of one full download and of the article index reading every file.
REMAKE_AFTER = 1000


@dataclass(frozen=True)
class _Followed:
    """The tree brought to the remote's commit."""

    commit: str
    base: str | None  # the commit the tree held before; None for a tree just made
    entries: list[_Entry]  # the files that differ from `base` to `commit`
    checkouts: int  # commits checked out since the tree was made


@dataclass(frozen=True)
class _Entry:
    """One file that differs between two commits (`git diff-tree --raw`)."""

    status: str  # A added, D deleted, M modified, T type changed
    mode: str
    blob: str
    path: str


class GitSource:
    """A Smartable feed's git repository: its article folder at the remote's latest commit."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        home: Path,
        folder: str | None = None,
        branch: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.name = name
        self.url = url
        self.home = home
        self.folder = repository_folder(folder)  # "" for the whole repository
        self.branch = branch
        self.timeout = timeout
        self._tree = home / "repo"
        self._git_dir = home / "repo.git"
        self._snapshots = Snapshots(home)

    def current(self) -> Copy | None:
        """The last published copy: a snapshot of the folder and its commit."""
        snapshot = self._snapshots.current()
        if snapshot is None:
            return None
        label = snapshot.name.rpartition("-")[0]
        revision = next((c for c in self._revisions() if c[:12] == label), "")
        return Copy(folder=snapshot, revision=revision)

    def refresh(self, progress: Progress | None = None) -> Change:
        """Follow the remote's latest commit; a failure raises SourceError, the copy stays."""
        git = Git(self._tree, self._git_dir, self.url, self.timeout, progress)
        try:
            change = self._refresh(git)
        except GitFailure as failure:
            raise self._failed(failure.reason) from None
        except OSError as error:
            raise self._failed(f"disk error: {error}") from None
        if change.not_modified:
            log.info("git not modified source=%s commit=%s", self.name, change.revision[:12])
        else:
            log.info(
                "git refreshed source=%s commit=%s new=%d changed=%d removed=%d",
                self.name,
                change.revision[:12],
                change.new,
                change.changed,
                change.removed,
            )
        return change

    def _refresh(self, git: Git) -> Change:
        previous = self.current()
        checkouts = self._checkouts()
        try:
            followed = self._follow(git, checkouts)
        except GitFailure as failure:
            # Before the first clone there is no tree to vouch for (nor room for the marker).
            if failure.tree_intact and self._marker().parent.is_dir():
                self._mark_consistent(checkouts or 0)
            raise
        self._mark_consistent(followed.checkouts)
        commit = followed.commit
        if previous is not None and commit == previous.revision:
            return Change(commit, not_modified=True)
        folder = self._tree / self.folder
        if not folder.is_dir():
            raise GitFailure(f"commit {commit[:12]} has no folder {self.folder}", tree_intact=True)
        if previous is not None and previous.revision == followed.base:
            change = self._counted(commit, followed.entries)
        else:  # the tree was made anew, or a refresh stopped mid-way: compare the files
            change = Change(commit, *_compare(previous.folder if previous else None, folder))
        self._remember(commit)  # before publishing: a snapshot's label holds 12 digits only
        self._snapshots.publish_folder(folder, label=commit[:12])
        return change

    def _follow(self, git: Git, checkouts: int | None) -> _Followed:
        """Bring the tree to the remote's commit (made anew first when it cannot be trusted)."""
        reusable = checkouts is not None and checkouts < REMAKE_AFTER
        base = self._head(git) if reusable else None
        # From here on, a crash or a killed git leaves the tree to be made anew.
        self._marker().unlink(missing_ok=True)
        if base is None or checkouts is None:
            self._make_tree(git, checkouts)
            checkouts = 0
        commit = self._fetch(git)
        entries = self._diff(git, base or EMPTY_TREE, commit)
        self._download(git, entries)
        # Also when nothing is new: it costs a stat per file, and undoes any change by hand.
        git.run("reset", "--hard", "--quiet", commit, doing="checkout")
        return _Followed(commit, base, entries, checkouts + (commit != base))

    def _make_tree(self, git: Git, checkouts: int | None) -> None:
        """A new, empty repository: sparse on the folder, no commit yet."""
        if self._git_dir.exists():
            grown = checkouts is not None and checkouts >= REMAKE_AFTER
            why = "interrupted" if checkouts is None else "grown" if grown else "unreadable"
            log.info("git tree made anew source=%s reason=%s", self.name, why)
        for folder in (self._tree, self._git_dir):
            if folder.exists():
                shutil.rmtree(folder)
        self._tree.mkdir(parents=True)
        git.run("init", "--quiet", "--initial-branch=digestbot", doing="init")
        if self.folder:
            # --stdin: the folder is a path, never an option
            git.run("sparse-checkout", "set", "--cone", "--stdin", stdin=self.folder, doing="init")

    def _fetch(self, git: Git) -> str:
        """Fetch the remote's commit alone, with its trees and no file contents; its id."""
        source = f"refs/heads/{self.branch}" if self.branch else "HEAD"
        git.run(
            "fetch",
            "--depth=1",
            "--filter=blob:none",
            "--no-tags",
            "--no-write-fetch-head",
            "--recurse-submodules=no",
            "--progress",
            "origin",
            f"+{source}:{FETCHED}",
            doing="fetch",
            network=True,
        )
        return git.run("rev-parse", "--verify", f"{FETCHED}^{{commit}}", doing="fetch").strip()

    def _head(self, git: Git) -> str | None:
        """The commit the tree holds; None when there is none, or git cannot read it."""
        try:
            return git.run("rev-parse", "--quiet", "--verify", "HEAD^{commit}", doing="").strip()
        except GitFailure:
            return None

    def _diff(self, git: Git, base: str, commit: str) -> list[_Entry]:
        # Trees only, both local (even for unrelated histories); renames would need contents.
        out = git.run("diff-tree", "-r", "-z", "--no-renames", base, commit, doing="diff")
        fields = out.split("\0")
        entries = []
        for meta, path in zip(fields[0:-1:2], fields[1::2], strict=True):
            _, mode, _, blob, status = meta.split(" ")
            entries.append(_Entry(status, mode, blob, path))
        return entries

    def _download(self, git: Git, entries: list[_Entry]) -> None:
        """Fetch, in one batch, the contents the checkout needs, rather than one by one."""
        blobs = {
            e.blob for e in entries if e.status != "D" and e.mode != SUBMODULE and self._in_cone(e)
        }
        if not blobs:
            return
        git.run(
            # noop: our commit must not tell the remote that we have its file contents
            "-c",
            "fetch.negotiationAlgorithm=noop",
            "fetch",
            "--no-tags",
            "--no-write-fetch-head",
            "--recurse-submodules=no",
            "--progress",
            "--stdin",
            "origin",
            stdin="\n".join(sorted(blobs)) + "\n",
            doing="download",
            network=True,
        )

    def _in_cone(self, entry: _Entry) -> bool:
        """Checked out by the sparse checkout: under the folder, or directly in a folder on
        the way to it."""
        parent = entry.path.rpartition("/")[0]
        folder = self.folder
        return not folder or _under(entry.path, folder) or parent == "" or _under(folder, parent)

    def _counted(self, commit: str, entries: list[_Entry]) -> Change:
        counts = Counter(
            entry.status
            for entry in entries
            if entry.path.endswith(SUFFIXES)
            and (not self.folder or _under(entry.path, self.folder))
        )
        changed = counts["M"] + counts["T"]  # T: a file turned symlink, or back
        return Change(commit, new=counts["A"], changed=changed, removed=counts["D"])

    def _remember(self, commit: str) -> None:
        kept = [commit, *(c for c in self._revisions() if c != commit)][: KEEP + 1]
        replace_file(self.home / REVISIONS, ("\n".join(kept) + "\n").encode())

    def _revisions(self) -> list[str]:
        try:
            return (self.home / REVISIONS).read_text(encoding="utf-8").split()
        except OSError:
            return []

    def _mark_consistent(self, checkouts: int) -> None:
        marker = {"folder": self.folder, "checkouts": checkouts}
        self._marker().write_text(json.dumps(marker), encoding="utf-8")

    def _checkouts(self) -> int | None:
        """Commits checked out since the tree was made; None when it is not known consistent
        (for this folder)."""
        try:
            marker = json.loads(self._marker().read_text(encoding="utf-8"))
            return int(marker["checkouts"]) if marker["folder"] == self.folder else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _marker(self) -> Path:
        return self._git_dir / MARKER

    def _failed(self, reason: str) -> SourceError:
        reason = redact_url(reason)
        password = urlsplit(self.url).password
        for secret in filter(None, {password, unquote(password or "")}):
            reason = reason.replace(secret, "***")
        return SourceError(self.name, reason)  # logged by whoever handles it, with what follows


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder + "/")


def _compare(old: Path | None, new: Path) -> tuple[int, int, int]:
    """Article files (new, changed, removed) from the folder `old` to the folder `new`."""
    after = _articles(new)
    if old is None:
        return len(after), 0, 0
    before = _articles(old)
    changed = sum(
        1 for path in before & after if not filecmp.cmp(old / path, new / path, shallow=False)
    )
    return len(after - before), changed, len(before - after)


def _articles(folder: Path) -> set[Path]:
    """The article files under `folder`, relative to it."""
    return {
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.name.endswith(SUFFIXES) and path.is_file()
    }
