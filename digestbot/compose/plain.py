"""A digest's messages for people outside Slack: as plain text for a terminal (`preview`), as
chat.postMessage arguments (`preview --json`), and as a Block Kit Builder link."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from digestbot.compose import Message

BUILDER_URL = "https://app.slack.com/block-kit-builder/#"
_LINK = re.compile(r"<([^|>!]+)\|([^>]*)>")
_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_BOLD_LINE = re.compile(r"^\*(.+)\*$", re.M)


def preview_arguments(channel: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """What `preview --json` shows: each message's chat.postMessage arguments, with
    `"thread": true` marking a continuation, whose thread_ts only exists once posted."""
    return [
        {**message.arguments(channel), **({"thread": True} if message.thread else {})}
        for message in messages
    ]


def render_text(message: Message) -> str:
    """A plain-text rendering of a message, for people reading `preview` in a terminal."""
    lines = []
    for block in message.blocks:
        lines.extend(_render_block(block))
    return "\n".join(lines)


def _render_block(block: dict[str, Any]) -> list[str]:
    kind = block["type"]
    if kind == "header":
        title = block["text"]["text"]
        return [title, "=" * min(len(title), 72)]
    if kind == "divider":
        return [""]
    if kind == "section":
        lines = _plain(block["text"]["text"]).split("\n")
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "image":
            lines.append(f"    [image] {accessory['image_url']}")
        return lines
    if kind == "context":
        parts = [_plain(el["text"]) for el in block["elements"] if el["type"] != "image"]
        return ["    " + line for line in " ".join(parts).split("\n")]
    return [f"[{kind}]"]


def _plain(mrkdwn: str) -> str:
    text = _DATE.sub(r"\1", mrkdwn)
    text = _LINK.sub(lambda m: f"{m.group(2)} <{m.group(1)}>", text)
    text = _BOLD_LINE.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def builder_url(message: Message) -> str:
    """A Block Kit Builder link that shows the message as Slack would."""
    payload = json.dumps({"blocks": message.blocks}, separators=(",", ":"), ensure_ascii=False)
    return BUILDER_URL + quote(payload, safe="")
