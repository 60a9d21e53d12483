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
