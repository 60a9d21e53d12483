"""Slack's mrkdwn as compose writes it: escaped text, links whose address cannot break out,
words cut at a boundary, and dates each reader sees in their own timezone and locale."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

_URL_SAFE = ";/?:@&=+$,-_.!~*'()#%[]"
LINKABLE_URL_MAX = 1500  # a longer address is shown unlinked: Slack's text limits come first


def escape(text: str) -> str:
    """mrkdwn-escape: only &, < and > are special, and all three must be."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str:
    """Percent-encode what would break `<url|label>` (|, <, >, spaces, quotes, non-ASCII)."""
    return quote(url, safe=_URL_SAFE)


def link(url: str, label: str) -> str:
    """`<url|label>` with both made safe; the label alone when the address is too long."""
    address = safe_url(url)
    text = escape(label)
    return f"<{escape(address)}|{text}>" if len(address) <= LINKABLE_URL_MAX else text


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def plain_date(moment: datetime) -> str:
    """14 May 2020, in the moment's own timezone."""
    return f"{moment.day} {moment.strftime('%B %Y')}"


def long_date(moment: datetime) -> str:
    """Thursday, 14 May 2020."""
    return f"{moment.strftime('%A')}, {plain_date(moment)}"


def date_token(moment: datetime, style: str, fallback: str) -> str:
    """A date Slack shows in each reader's timezone and locale (`{date_short_pretty}`,
    `{date_long_pretty}`...), with `fallback` for clients that cannot."""
    return f"<!date^{int(moment.timestamp())}^{{{style}}}|{escape(fallback)}>"
