"""Running the system git for a source: a neutral environment, a deadline, progress, and a clean
stop of a git that hangs.

git runs with no prompt, no user or system config and the C locale; the remote's URL reaches it
through the environment only, so credentials in it are never written to disk. Each git runs in
its own process group: on timeout it gets SIGTERM (to remove its lock files), then the whole
group SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from digestbot.index import Progress

STOP_GRACE = 1.0  # seconds git has after SIGTERM to remove its lock files before SIGKILL
_PROGRESS = re.compile(rb"\d+% \(\d+/\d+\)")
_RECEIVING = re.compile(rb"Receiving objects:\s+\d+% \((\d+)/(\d+)\)")
_UNSAID = "Could not read from remote repository."  # git's words when the transport failed


class GitFailure(Exception):
    """A git step failed. `tree_intact`: the failure left the working tree as it was."""

    def __init__(self, reason: str, *, tree_intact: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tree_intact = tree_intact


class Git:
    """Runs git on one repository within a refresh's deadline, in a neutral environment."""

    def __init__(
        self, tree: Path, git_dir: Path, url: str, timeout: float, progress: Progress | None
    ) -> None:
        self.tree = tree
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.progress = progress
        self.env = _environment(git_dir, tree, url)

    def run(self, *args: str, doing: str, stdin: str = "", network: bool = False) -> str:
        """git ARGS; its output. `network`: a failure is the remote's, not the tree's."""
        with tempfile.TemporaryFile() as feed:  # a file, not a pipe: no deadlock on big inputs
            feed.write(stdin.encode())
            feed.seek(0)
            try:
                process = subprocess.Popen(
                    ["git", *args],
                    cwd=self.tree,
                    env=self.env,
                    stdin=feed,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,  # its own process group, killed as a whole
                )
            except FileNotFoundError as error:
                if error.filename != "git":
                    raise
                raise GitFailure("git is not installed (not on PATH)", tree_intact=True) from None
        errors = _Stderr(self.progress)
        with process:
            try:
                out = self._communicate(process, errors)
            except BaseException as error:
                stopped = _stop(process)
                if isinstance(error, subprocess.TimeoutExpired):
                    reason = f"timed out after {self.timeout:g} s ({doing})"
                    raise GitFailure(reason, tree_intact=network and stopped) from None
                raise
        if process.returncode != 0:
            reason = f"{doing} failed: {errors.reason() or f'git exited with {process.returncode}'}"
            raise GitFailure(reason, tree_intact=network)
        return out.decode("utf-8", "surrogateescape")

    def _communicate(self, process: subprocess.Popen[bytes], errors: _Stderr) -> bytes:
        assert process.stdout is not None and process.stderr is not None
        out = bytearray()
        readers: dict[int, Callable[[bytes], None]] = {
            process.stdout.fileno(): out.extend,
            process.stderr.fileno(): errors.feed,
        }
        with selectors.DefaultSelector() as selector:
            for fd in readers:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                for key, _ in selector.select(self._remaining()):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        readers[key.fd](chunk)
                    else:
                        selector.unregister(key.fd)
        process.wait(self._remaining())
        return bytes(out)

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise subprocess.TimeoutExpired("git", self.timeout)
        return remaining


class _Stderr:
    """git's stderr as it comes: download progress to the callback, the rest kept for a reason."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.lines: deque[str] = deque(maxlen=200)
        self._pending = b""
        self._shown: tuple[int, int] | None = None

    def feed(self, chunk: bytes) -> None:
        *lines, self._pending = re.split(rb"[\r\n]", self._pending + chunk)
        for line in lines:
            self._line(line)

    def reason(self) -> str:
        """git's first error line (else its last line), without its prefix, on one line."""
        self.feed(b"\n")
        lines = list(self.lines)
        errors = [n for n, line in enumerate(lines) if line.startswith(("fatal:", "error:"))]
        chosen = errors[0] if errors else len(lines) - 1
        if chosen > 0 and lines[chosen].endswith(_UNSAID):
            chosen -= 1  # the transport (ssh, a server) said why, just before
        line = lines[chosen] if lines else ""
        return line.removeprefix("fatal:").removeprefix("error:").strip()

    def _line(self, raw: bytes) -> None:
        receiving = _RECEIVING.search(raw)
        if receiving and self.progress is not None:
            done, total = int(receiving.group(1)), int(receiving.group(2))
            if (done, total) != self._shown:  # git prints the last state twice
                self._shown = (done, total)
                self.progress(done, total)
        line = " ".join(raw.decode("utf-8", "replace").split())
        if line and not _PROGRESS.search(raw):
            self.lines.append(line)


def _environment(git_dir: Path, tree: Path, url: str) -> dict[str, str]:
    """The caller's environment less what changes git's behaviour, plus this repository."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "LC_")) and key not in ("LANG", "LANGUAGE", "SSH_ASKPASS")
    }
    config = {
        "remote.origin.url": url,  # from the environment only: never written to disk
        "core.symlinks": "false",  # a feed's symlink becomes a plain file, not a way out
        # Each snapshot's hard link changes a file's ctime: trusted, it would have git rewrite
        # every unchanged file at the next checkout.
        "core.trustctime": "false",
        "gc.autoDetach": "false",  # an automatic gc stays in the process group and the timeout
    }
    env.update(
        GIT_DIR=str(git_dir),  # explicit: never a repository found above the tree
        GIT_WORK_TREE=str(tree),
        LC_ALL="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",  # empty: no askpass program, not even core.askPass or SSH_ASKPASS
        GIT_SSH_COMMAND="ssh -o BatchMode=yes",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_COUNT=str(len(config)),
    )
    for index, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _stop(process: subprocess.Popen[bytes]) -> bool:
    """Stop git and its children; True when they ended on SIGTERM (git removes its lock files
    then), False when SIGKILL was needed."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_GRACE)
        stopped = True
    except subprocess.TimeoutExpired:
        stopped = False
    _signal_group(process.pid, signal.SIGKILL)  # helpers that outlived git itself
    process.wait()
    return stopped


def _signal_group(group: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has ended already
        os.killpg(group, signal_number)
