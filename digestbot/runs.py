"""A run and how it ended, channel by channel: what every way of starting one reports.

A run is a scheduled occurrence (digest + scheduled time) or a manual send; `sender` delivers it
to its channels, `posting` posts one channel's claimed messages. Each channel's result is an
`Outcome`, whose `Status` is said in words people read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digestbot.config import DigestConfig


@dataclass(frozen=True)
class Run:
    """One occurrence of a digest: its ledger key and the time it is built for."""

    run_id: str
    digest: DigestConfig
    at: datetime
    scheduled: bool

    @classmethod
    def manual(cls, digest: DigestConfig, now: datetime) -> Run:
        stamp = now.astimezone(UTC).isoformat(timespec="seconds")
        return cls(f"{digest.name}@manual:{stamp}:{uuid.uuid4().hex[:8]}", digest, now, False)

    @classmethod
    def scheduled_at(cls, digest: DigestConfig, at: datetime) -> Run:
        return cls(f"{digest.name}@{at.astimezone(UTC).isoformat()}", digest, at, True)


class Status(StrEnum):
    """How a run ended in one channel; the value is what people read."""

    DELIVERED = "delivered"
    COMPLETED = "delivered (completed an interrupted run)"
    ALREADY_DELIVERED = "already delivered"
    NOTHING_NEW = "nothing new"
    IN_PROGRESS = "in progress elsewhere"
    NOT_STARTED = "not started"
    EXPIRED = "expired"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What happened in one channel, in words for the person who ran it."""

    digest: str
    channel: str
    status: Status
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAILED

    @property
    def delivered(self) -> bool:
        return self.status in (Status.DELIVERED, Status.COMPLETED)

    def __str__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.digest} → {self.channel}: {self.status}{detail}"
