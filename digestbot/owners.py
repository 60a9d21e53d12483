"""Who holds a claim in the ledger, and whether they still can.

An owner is `host/pid-namespace/pid/start-time/token`: the process, so that a claim whose
process died can be taken over, and a token per claim (or takeover), so that two threads of
one process never write the same claim. On the same host and PID namespace a process is dead
when it no longer exists (or its pid was reused); anywhere else, when its heartbeat is older
than STALE_AFTER.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import uuid

STALE_AFTER = 90.0  # seconds without a heartbeat before another host may take over a claim

# The owners (claims) this process is delivering right now.
_active: set[str] = set()
_active_lock = threading.Lock()


def this_process() -> str:
    """This process's identity (read from /proc once per pid: it is asked for every claim)."""
    return _identity(os.getpid())


@functools.cache
def _identity(pid: int) -> str:
    return f"{socket.gethostname()}/{_pid_namespace()}/{pid}/{_start_time(pid)}"


def new_owner() -> str:
    """A fresh owner for one claim of this process, marked active at once."""
    owner = f"{this_process()}/{uuid.uuid4().hex[:12]}"
    with _active_lock:
        _active.add(owner)
    return owner


def release(owner: str) -> None:
    """This process stops working on the claim held as `owner`."""
    with _active_lock:
        _active.discard(owner)


def alive(owner: str, heartbeat: float, now: float) -> bool:
    """Whether a claim's owner may still be working on it."""
    process = owner.rpartition("/")[0]
    if process == this_process():
        with _active_lock:
            return owner in _active
    host, namespace, pid_text, started = (process.split("/") + ["", "", "", ""])[:4]
    local = host == socket.gethostname() and namespace == _pid_namespace()
    if not local or not pid_text.isdigit():
        return now - heartbeat < STALE_AFTER
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    current = _start_time(int(pid_text))
    return current != "" and started in ("0", current)


def _pid_namespace() -> str:
    # Containers on one host (host networking) share a hostname but not their pids.
    try:
        return os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        return "0"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks ("0" where /proc is missing; "" for a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "0"
    return "" if fields[0] == "Z" else fields[19]
