"""Tests for the fake's Block Kit validation and image downloads, through chat.postMessage."""

from __future__ import annotations

from typing import Any

from conftest import slack_error
from fakeslack import FakeSlack
from slack_sdk import WebClient


def section(text: str, **extra: Any) -> dict[str, Any]:
    """A mrkdwn section block."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def image(url: str) -> dict[str, Any]:
    """An image block; also valid as a section accessory or context element."""
    return {"type": "image", "image_url": url, "alt_text": "pic"}


def blocks_error(client: WebClient, channel: str, blocks: list[dict[str, Any]]) -> str:
    """Post blocks that Slack must reject and return the single invalid_blocks message."""
    err = slack_error(client.chat_postMessage, channel=channel, text="fallback", blocks=blocks)
    assert err.response["error"] == "invalid_blocks"
    (message,) = err.response["errors"]
    assert err.response["response_metadata"]["messages"] == [f"[ERROR] {message}"]
    return message


def test_too_many_blocks(client: WebClient, news: str) -> None:
    """51 blocks are rejected at /blocks."""
    message = blocks_error(client, news, [{"type": "divider"}] * 51)
    assert message == "no more than 50 items allowed [json-pointer:/blocks]"


def test_section_text_too_long(client: WebClient, news: str) -> None:
    """Section text over 3000 characters points at that text."""
    message = blocks_error(client, news, [{"type": "divider"}, section("x" * 3001)])
    assert message == "must be less than 3001 characters [json-pointer:/blocks/1/text/text]"


def test_empty_text_object(client: WebClient, news: str) -> None:
    """An empty text object is rejected."""
    message = blocks_error(client, news, [section("")])
    assert message == "must be more than 0 characters [json-pointer:/blocks/0/text/text]"


def test_non_http_image(client: WebClient, news: str) -> None:
    """An image block with a non-http URL points at its image_url."""
    message = blocks_error(client, news, [section("a"), image("ftp://example.com/a.png")])
    assert message.endswith("[json-pointer:/blocks/1/image_url]")


def test_other_block_limits(client: WebClient, news: str) -> None:
    """Header length, field count, duplicate block_id and a long button are each rejected."""
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}
    cases = {
        "/blocks/0/text/text": [header],
        "/blocks/0/fields": [fields],
        "/blocks/1/block_id": [section("a", block_id="x"), section("b", block_id="x")],
        "/blocks/0/elements/0/text/text": [{"type": "actions", "elements": [button]}],
    }
    for pointer, blocks in cases.items():
        assert blocks_error(client, news, blocks).endswith(f"[json-pointer:{pointer}]")


def test_blocks_as_form_encoded_json_string(fake: FakeSlack, client: WebClient, news: str) -> None:
    """Blocks sent form-encoded as a JSON string are parsed and stored as a list."""
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]'
    client.api_call("chat.postMessage", data={"channel": news, "text": "hi", "blocks": blocks})
    assert fake.posts[0]["blocks"][0]["text"]["text"] == "hi"


def test_broken_accessory_image(fake: FakeSlack, client: WebClient, news: str) -> None:
    """A broken accessory image rejects the whole message, pointing at the accessory."""
    fake.broken_images.add("https://img.example/dead.png")
    accessory = image("https://img.example/dead.png")
    blocks = [section("a"), section("b"), {"type": "divider"}, section("c", accessory=accessory)]
    message = blocks_error(client, news, blocks)
    assert message == "downloading image failed [json-pointer:/blocks/3/accessory/image_url]"
    assert fake.posts == []


def test_webp_context_image(fake: FakeSlack, client: WebClient, news: str) -> None:
    """A WebP image in a context block fails to download, pointing at the element."""
    elements = [{"type": "mrkdwn", "text": "by"}, image("https://img.example/a.webp")]
    message = blocks_error(client, news, [{"type": "context", "elements": elements}])
    assert message == "downloading image failed [json-pointer:/blocks/0/elements/1/image_url]"
