"""Small git repositories for the git source's tests: Smartable article files, committed one
change at a time, served as a remote by path or file://, and a remote that never answers."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The tests' own git calls ignore the machine's git config too (signing, hooks, templates).
GIT_ENV = {
    **{key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Smartable bot",
    "GIT_AUTHOR_EMAIL": "bot@example.com",
    "GIT_COMMITTER_NAME": "Smartable bot",
    "GIT_COMMITTER_EMAIL": "bot@example.com",
    "LC_ALL": "C",
}


def git(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run git; its stdout (stripped)."""
    done = subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        env={**GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def article(slug: str, heat: int = 50, *, published: bool = True, title: str = "") -> str:
    """A news file in Smartable's format (front matter as in seeds/)."""
    title = title or slug.replace("-", " ").capitalize()
    return f"""---
category: news
title: "{title}"
excerpt: "What happened with {slug}."
publishedDateTime: 2023-05-08T09:53:00Z
webUrl: "https://www.example.com/news/{slug}"
type: article
quality: 80
heat: {heat if published else -1}
published: {"true" if published else "false"}

provider:
  name: Example News
  domain: example.com

topics:
  - Diablo 4

related:
  - title: "More on {slug}"
    webUrl: "https://www.example.org/{slug}"
---
"""


class Remote:
    """A repository that a feed's bot commits to, on branch `main`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        git("init", "--quiet", "--initial-branch=main", path)
        # git's own servers refuse partial clones unless asked; GitHub allows them.
        git("config", "uploadpack.allowFilter", "true", cwd=path)

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def commit(self, files: dict[str, str | None], message: str = "Update news") -> str:
        """Write (or, for None, delete) files, commit them, and return the commit."""
        for name, text in files.items():
            path = self.path / name
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        git("add", "--all", cwd=self.path)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.path)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return git("rev-parse", ref, cwd=self.path)

    def rewrite(self, files: dict[str, str | None]) -> str:
        """Replace the whole history by one new commit (a force-push); the commit."""
        git("checkout", "--quiet", "--orphan", "rewritten", cwd=self.path)
        commit = self.commit(files, message="Rewritten history")
        git("branch", "--quiet", "-M", "main", cwd=self.path)
        return commit


@contextmanager
def silent_server() -> Iterator[int]:
    """A local port whose server takes connections and never answers; its number."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel completes each handshake: the client waits for a reply
        yield int(server.getsockname()[1])


def closed_port() -> int:
    """A local port that refuses connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def processes_mentioning(text: str) -> list[str]:
    """The command lines of running processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


def bare_copy_of(bundle: Path, shared: Path, path: Path) -> Path:
    """A bare remote at `path` with the bundle's history, served as file:// (partial clones
    allowed). The bundle is unpacked once into `shared` (by the first test process to get
    there); each copy then hard-links its objects, so that tests may move its branches freely."""
    with (shared.parent / f"{shared.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "HEAD").is_file():
            git("clone", "--quiet", "--bare", bundle, shared)
    git("clone", "--quiet", "--bare", "--local", shared, path)
    git("config", "uploadpack.allowFilter", "true", cwd=path)
    return path
