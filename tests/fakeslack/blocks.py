"""Block Kit validation: the limits in shared/docs/slack-facts.md, with Slack's error messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit


class BlockError(Exception):
    """One Block Kit violation, formatted the way Slack reports it."""

    def __init__(self, msg: str, pointer: str) -> None:
        super().__init__(f"{msg} [json-pointer:{pointer}]")


def _check(ok: bool, msg: str, pointer: str) -> None:
    if not ok:
        raise BlockError(msg, pointer)


def _check_str(value: Any, limit: int, pointer: str) -> None:
    _check(isinstance(value, str), "must be a string", pointer)
    _check(len(value) > 0, "must be more than 0 characters", pointer)
    _check(len(value) <= limit, f"must be less than {limit + 1} characters", pointer)


def _check_items(items: Any, most: int, pointer: str, least: int = 1) -> None:
    _check(isinstance(items, list), "must provide an array", pointer)
    _check(len(items) >= least, f"must provide at least {least} items", pointer)
    _check(len(items) <= most, f"no more than {most} items allowed", pointer)


def _text_obj(obj: Any, ptr: str, limit: int = 3000, kinds: tuple[str, ...] = ()) -> None:
    kinds = kinds or ("plain_text", "mrkdwn")
    _check(isinstance(obj, dict), "must provide an object", ptr)
    _check(obj.get("type") in kinds, f"must be one of: {', '.join(kinds)}", f"{ptr}/type")
    _check_str(obj.get("text"), limit, f"{ptr}/text")


def _image(obj: dict[str, Any], ptr: str) -> None:
    _check("image_url" in obj, "missing required field: image_url", ptr)
    url = obj["image_url"]
    _check_str(url, 3000, f"{ptr}/image_url")
    parts = urlsplit(url)
    _check(
        parts.scheme in ("http", "https") and bool(parts.netloc),
        "must be a valid http(s) URL",
        f"{ptr}/image_url",
    )
    _check("alt_text" in obj, "missing required field: alt_text", ptr)
    _check_str(obj["alt_text"], 2000, f"{ptr}/alt_text")


def _element(obj: Any, ptr: str) -> None:
    """An accessory or actions element; interactive types other than buttons pass through."""
    _check(isinstance(obj, dict), "must provide an object", ptr)
    if obj.get("type") == "image":
        _image(obj, ptr)
    elif obj.get("type") == "button":
        _text_obj(obj.get("text"), f"{ptr}/text", 75, ("plain_text",))
        if "url" in obj:
            _check_str(obj["url"], 3000, f"{ptr}/url")


def _section(block: dict[str, Any], ptr: str) -> None:
    _check("text" in block or "fields" in block, "must provide either text or fields", ptr)
    if "text" in block:
        _text_obj(block["text"], f"{ptr}/text")
    if "fields" in block:
        _check_items(block["fields"], 10, f"{ptr}/fields")
        for i, item in enumerate(block["fields"]):
            _text_obj(item, f"{ptr}/fields/{i}", 2000)
    if "accessory" in block:
        _element(block["accessory"], f"{ptr}/accessory")


def _context(block: dict[str, Any], ptr: str) -> None:
    _check_items(block.get("elements"), 10, f"{ptr}/elements")
    for i, item in enumerate(block["elements"]):
        if isinstance(item, dict) and item.get("type") == "image":
            _image(item, f"{ptr}/elements/{i}")
        else:
            _text_obj(item, f"{ptr}/elements/{i}")


def _image_block(block: dict[str, Any], ptr: str) -> None:
    _image(block, ptr)
    if "title" in block:
        _text_obj(block["title"], f"{ptr}/title", 2000, ("plain_text",))


def _actions(block: dict[str, Any], ptr: str) -> None:
    _check_items(block.get("elements"), 25, f"{ptr}/elements")
    for i, item in enumerate(block["elements"]):
        _element(item, f"{ptr}/elements/{i}")


def _no_check(block: dict[str, Any], ptr: str) -> None:
    """Block types digestbot does not send: accepted as they are."""


_BLOCK_CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "section": _section,
    "context": _context,
    "header": lambda b, p: _text_obj(b.get("text"), f"{p}/text", 150, ("plain_text",)),
    "image": _image_block,
    "actions": _actions,
    **dict.fromkeys(("divider", "rich_text", "markdown", "input", "file", "video"), _no_check),
}


def block_text(blocks: list[Any]) -> int:
    """Characters in the text objects of blocks: what Slack's unstated limit counts."""

    def texts(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
                yield value["text"]
            for inner in value.values():
                yield from texts(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from texts(inner)

    return sum(len(text) for text in texts(blocks))


def validate_blocks(blocks: list[Any]) -> None:
    """Raise BlockError for the first violation of Slack's Block Kit limits."""
    _check_items(blocks, 50, "/blocks", least=0)
    seen: set[str] = set()
    for n, block in enumerate(blocks):
        ptr = f"/blocks/{n}"
        _check(isinstance(block, dict), "must provide an object", ptr)
        check = _BLOCK_CHECKS.get(block.get("type", ""))
        if check is None:
            raise BlockError(f"unsupported type: {block.get('type')}", f"{ptr}/type")
        if "block_id" in block:
            _check_str(block["block_id"], 255, f"{ptr}/block_id")
            _check(block["block_id"] not in seen, "duplicate block_id", f"{ptr}/block_id")
            seen.add(block["block_id"])
        check(block, ptr)


def image_urls(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """Every image URL Slack would download, with its json-pointer, in message order."""
    for n, block in enumerate(blocks):
        ptr, kind = f"/blocks/{n}", block.get("type")
        accessory = block.get("accessory") or {}
        if kind == "image":
            yield block["image_url"], f"{ptr}/image_url"
        elif kind == "section" and accessory.get("type") == "image":
            yield accessory["image_url"], f"{ptr}/accessory/image_url"
        elif kind == "context":
            for m, item in enumerate(block["elements"]):
                if isinstance(item, dict) and item.get("type") == "image":
                    yield item["image_url"], f"{ptr}/elements/{m}/image_url"
