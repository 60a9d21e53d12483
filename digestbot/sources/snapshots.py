"""Complete copies of a source, published atomically: a run reads one copy from start to end.

A source's home holds `snapshots/<label>-<id>/` folders and a `current` symlink to the newest.
A new snapshot starts as hard links of the current one (no data is copied), is changed only by
replacing or removing whole files (`write_staged`, `replace_file`: never writing into a linked
file), and is then made current by renaming a symlink over `current`, which no reader can see
half-done.
Files that did not change keep their inode, so their size and mtime: the article index reads
only what changed. A run resolves `current` once (`current()`) and keeps that folder.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

KEEP = 3  # snapshots kept: the current one, and older ones that a run may still be reading


class Snapshots:
    """The snapshots of one source, under its home folder."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.folder = home / "snapshots"
        self.link = home / "current"

    def current(self) -> Path | None:
        """The current snapshot's folder (resolved: later publishing does not move it); None
        when there is none, or when it is gone (a cache cleaned by hand): a refresh makes one."""
        try:
            folder = self.folder / os.readlink(self.link)
        except OSError:
            return None
        return folder if folder.is_dir() else None

    def publish(self, fill: Callable[[Path], None], label: str) -> Path:
        """A new snapshot: the current one's files, changed by `fill`, made current at once."""

        def stage(staging: Path) -> None:
            current = self.current()
            if current is not None:
                _link_tree(current, staging)
            else:
                staging.mkdir()
            fill(staging)

        return self._publish(stage, label)

    def publish_folder(self, source: Path, label: str) -> Path:
        """A new snapshot holding exactly the files of `source` (hard links to them)."""
        return self._publish(lambda staging: _link_tree(source, staging), label)

    def _publish(self, stage: Callable[[Path], None], label: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{_safe(label)}-{uuid.uuid4().hex[:8]}"
        staging = self.folder / f".staging-{name}"
        try:
            stage(staging)
            final = self.folder / name
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._point_at(name)
        self._prune(keep=name)
        return final

    def _point_at(self, name: str) -> None:
        temporary = self.home / f".current-{uuid.uuid4().hex[:8]}"
        os.symlink(name, temporary)
        os.replace(temporary, self.link)  # rename: atomic for every reader

    def _prune(self, keep: str) -> None:
        snapshots = [p for p in self.folder.iterdir() if not p.name.startswith(".")]
        snapshots.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in snapshots[KEEP:]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)
        for staging in self.folder.glob(".staging-*"):  # left by a process killed mid-way
            shutil.rmtree(staging, ignore_errors=True)


def _link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, copy_function=os.link, symlinks=True)


def write_staged(path: Path, data: bytes) -> None:
    """Write a file of a snapshot still being staged (no reader sees it yet): no temporary file
    and rename, but a new inode, as the file may be linked from the current snapshot."""
    try:
        handle = open(path, "xb")  # noqa: SIM115 - closed below, on either path
    except FileExistsError:  # linked from the current snapshot: replaced, not written into
        path.unlink()
        handle = open(path, "xb")  # noqa: SIM115
    with handle:
        handle.write(data)


def replace_file(path: Path, data: bytes) -> None:
    """Write a file whole or not at all, as a new inode: a reader sees the old file or the new
    one, and snapshots linked to the old one keep it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _safe(label: str) -> str:
    return "".join(char if char.isalnum() or char in "-_." else "_" for char in label)[:40]
