"""How people write a Slack channel and how Slack knows it: names, IDs, one key for both.

Shared by delivery (which posts to IDs) and the ledger (which knows a channel by its ID once
resolved), so that neither imports the other for it.
"""

from __future__ import annotations

import re

CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


def is_channel_id(channel: str) -> bool:
    """Whether `channel` is written as a Slack channel ID (C..., G..., D...)."""
    return CHANNEL_ID.fullmatch(channel) is not None


def channel_name(channel: str) -> str:
    """A channel as people write it: IDs as they are, names without '#', in lower case."""
    channel = channel.strip()
    return channel if is_channel_id(channel) else channel.lstrip("#").lower()


def scoped(team: str | None, channel: str) -> str:
    """How the ledger keys a channel: `TEAM:CHANNEL`, so that two workspaces' #general (or a
    Slack Connect channel both share, one ID) are two channels with two histories."""
    return f"{team}:{channel}" if team else channel


def unscoped(key: str) -> str:
    """The channel (ID or name) a ledger key stands for, without its workspace."""
    return key.rpartition(":")[2]


def team_of(key: str) -> str:
    """The workspace a ledger key names ("": a key from before workspaces)."""
    return key.rpartition(":")[0]
