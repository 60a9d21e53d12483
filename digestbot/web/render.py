"""The dashboard's Block Kit renderer: reads the wire format compose produces (the
chat.postMessage arguments, `{"text": ..., "blocks": [...]}`) and draws it in HTML the way Slack
does. Pure: no clock, files or network.

Article text reaches this module from feeds nobody controls, so everything in a message is
treated as text: it is escaped with markupsafe, Slack's mrkdwn is interpreted by a small linear
scanner (no backtracking regular expression sees the whole text), and only http(s) addresses
become links or images. Malformed blocks (missing keys, wrong types, unknown kinds) render as a
placeholder instead of raising. The output has no script, no event or style attribute and never
the string `javascript:`; the page's stylesheet styles the `slack-*` classes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

# Slack escapes exactly these three in text it sends; anything else (`&#106;`) is literal text.
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_ENTITY = re.compile(r"&(amp|lt|gt);")
# Inline code and `<...>` references within one line. Both classes stop at their own closing
# character, so a failed attempt never rescans: the scan stays linear however hostile the text.
_INLINE = re.compile(r"`([^`]+)`|<([^<>]*)>")
# A headline as compose writes it: `*<url|title>*` opening a section's text.
_HEADLINE = re.compile(r"\*<([^<>|\n]*)\|([^<>\n]*)>\*")
_COMPACT_LINE = re.compile(r"^• <([^<>|\n]*)\|([^<>\n]*)>", re.MULTILINE)
# Browsers skip controls and whitespace around an address and drop tabs and newlines inside it
# (`java\tscript:` runs): strip what surrounds, refuse an address with any left inside.
_BLANK = "".join(map(chr, range(0x21))) + "\x7f" + "".join(map(chr, range(0x80, 0xA0)))
_BLANK += "".join(ch for ch in map(chr, range(0xA0, 0x3001)) if ch.isspace()) + "\u200b\ufeff"
_BLANK_INSIDE = re.compile("[" + re.escape(_BLANK) + "]")
# The colon of `javascript:` (or `vbscript:`) is written `&#58;`: a reader, and a link's
# address, see the same characters, yet the page never holds the string, even in plain text.
_SCRIPT_COLON = re.compile(r"(?<=script):", re.IGNORECASE)
_MARKERS = {
    marker: (Markup(f"<{tag}>"), Markup(f"</{tag}>"))
    for marker, tag in (("*", "strong"), ("_", "em"), ("~", "del"))
}
_MARKER_SPLIT = re.compile(r"([*_~])")
_BROADCASTS = frozenset({"channel", "here", "everyone"})
# A block type long enough to flood the page is cut in its placeholder.
_TYPE_SHOWN_MAX = 60

_THREAD_LABEL = Markup('<div class="slack-thread-label">reply in thread</div>')


def render_message(arguments: Mapping[str, Any]) -> Markup:
    """One message in a `slack-message` box; a thread reply (`"thread": true` from preview, or
    a `thread_ts`) is marked with a class and a label. Without blocks, Slack shows `text`."""
    if not isinstance(arguments, Mapping):
        arguments = {}
    reply = arguments.get("thread") is True or "thread_ts" in arguments
    blocks = arguments.get("blocks")
    if _items(blocks):
        body = render_blocks(blocks)
    else:
        body = _div("slack-text", render_mrkdwn(_as_text(arguments.get("text"))))
    if reply:
        return _div("slack-message slack-thread-reply", _THREAD_LABEL + body)
    return _div("slack-message", body)


def render_blocks(blocks: Sequence[Mapping[str, Any]]) -> Markup:
    """The blocks of a message, in order; an unknown or malformed block becomes a placeholder."""
    return _join(_block(block) for block in _items(blocks))


def render_mrkdwn(text: str) -> Markup:
    """Slack mrkdwn as HTML: formatting, code, links, mentions and line breaks; the rest is
    text, shown as Slack shows it (entities decoded once, then escaped)."""
    text = _as_text(text)
    parts: list[Markup] = []
    position = 0
    # ```pre``` may span lines, so it is cut out first; formatting never crosses a line. An
    # empty pair (``````) is not a block: the closing fence is looked for past one character.
    while (start := text.find("```", position)) >= 0:
        end = text.find("```", start + 4)
        if end < 0:
            break
        parts.append(_lines(text[position:start]))
        parts.append(_pre(text[start + 3 : end]))
        position = end + 3
    parts.append(_lines(text[position:]))
    return _join(parts)


def headlines(blocks: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The (url, title) of each article headline, decoded, in order: `*<url|title>*` opening a
    section (the full layout), or `• <url|title>` opening a line of one (the compact layout).
    Headlines without a link or with an address that is not http(s) are left out."""
    return [headline for block in _items(blocks) for headline in _headlines(block)]


def _headlines(block: object) -> list[tuple[str, str]]:
    if not isinstance(block, Mapping) or block.get("type") != "section":
        return []
    text = block.get("text")
    if not isinstance(text, Mapping) or text.get("type") != "mrkdwn":
        return []
    mrkdwn = _as_text(text.get("text"))
    full = _HEADLINE.match(mrkdwn)
    pairs = [full.groups()] if full else _COMPACT_LINE.findall(mrkdwn)
    found = []
    for url, title in pairs:
        safe = _http_url(_decode(url))
        if safe:
            found.append((safe, _decode(title)))
    return found


# Blocks.


def _block(block: object) -> Markup:
    if not isinstance(block, Mapping):
        return _unsupported("div", "block", None)
    kind = block.get("type")
    # Checked as text first: a list or a mapping as the type cannot even be looked up.
    draw = _BLOCKS.get(kind) if isinstance(kind, str) else None
    return draw(block) if draw else _unsupported("div", "block", kind)


def _header(block: Mapping[str, Any]) -> Markup:
    return _div("slack-header", _text_object(block.get("text"), plain=True))


def _section(block: Mapping[str, Any]) -> Markup:
    body = Markup("")
    if block.get("text") is not None:
        body += _div("slack-text", _text_object(block.get("text")))
    fields = _items(block.get("fields"))
    if fields:
        body += _div("slack-fields", _join(_div("slack-field", _text_object(f)) for f in fields))
    accessory = block.get("accessory")
    if accessory is None:
        return _div("slack-section", _div("slack-section-body", body))
    if isinstance(accessory, Mapping) and accessory.get("type") == "image":
        side = _image(accessory, "slack-accessory-image")
    else:
        kind = accessory.get("type") if isinstance(accessory, Mapping) else None
        side = _unsupported("span", "element", kind)
    return _div(
        "slack-section slack-has-accessory",
        _div("slack-section-body", body) + _div("slack-accessory", side),
    )


def _context(block: Mapping[str, Any]) -> Markup:
    return _div("slack-context", _join(map(_context_element, _items(block.get("elements")))))


def _context_element(element: object) -> Markup:
    if not isinstance(element, Mapping):
        return _unsupported("span", "element", None)
    kind = element.get("type")
    if kind == "image":
        return _image(element, "slack-context-image")
    if kind in ("mrkdwn", "plain_text"):
        return _tag("span", "slack-context-text", _text_object(element))
    return _unsupported("span", "element", kind)


def _divider(block: Mapping[str, Any]) -> Markup:
    return Markup('<hr class="slack-divider">')


def _image_block(block: Mapping[str, Any]) -> Markup:
    image = _image(block, "slack-image")
    title = block.get("title")
    if title:
        image = _tag("figcaption", "slack-image-title", _text_object(title, plain=True)) + image
    return _tag("figure", "slack-image-block", image)


_BLOCKS: dict[str, Callable[[Mapping[str, Any]], Markup]] = {
    "header": _header,
    "section": _section,
    "context": _context,
    "divider": _divider,
    "image": _image_block,
}


# Elements and text objects.


def _image(element: Mapping[str, Any], css_class: str) -> Markup:
    """An `<img>` for an http(s) image_url; anything else is named, never loaded."""
    alt = _as_text(element.get("alt_text"))
    url = _http_url(element.get("image_url"))
    if url is None:
        label = f"[image: {alt}]" if alt else "[image]"
        return _tag("span", "slack-image-blocked", _escape(label))
    return Markup(
        f'<img class="{css_class}" src="{_escape(url)}" alt="{_escape(alt)}" loading="lazy"'
        ' referrerpolicy="no-referrer">'
    )


def _text_object(value: object, *, plain: bool = False) -> Markup:
    """A text object; headers (`plain`) and plain_text are never parsed as mrkdwn."""
    if not isinstance(value, Mapping):
        return _plain(_as_text(value))
    text = _as_text(value.get("text"))
    if value.get("type") == "mrkdwn" and not plain:
        return render_mrkdwn(text)
    return _plain(text)


def _plain(text: str) -> Markup:
    return _join((_escape(line) for line in text.split("\n")), "<br>")


def _unsupported(tag: str, what: str, kind: object) -> Markup:
    name = kind[:_TYPE_SHOWN_MAX] if isinstance(kind, str) and kind else "unknown"
    return _tag(tag, "slack-unsupported", _escape(f"[{name} {what}]"))


# mrkdwn.


def _pre(code: str) -> Markup:
    # Slack drops the line break that usually follows the opening fence and precedes the closing.
    code = code.removeprefix("\n").removesuffix("\n")
    return _tag("pre", "slack-pre", _escape(_decode(code)))


def _lines(text: str) -> Markup:
    return _join((_line(line) for line in text.split("\n")), "<br>")


def _line(line: str) -> Markup:
    """One line: references and code become atoms, then `*_~` pairs are matched around them."""
    atoms: list[str | Markup] = []
    position = 0
    for match in _INLINE.finditer(line):
        atoms.extend(_runs(line[position : match.start()]))
        code, reference = match.groups()
        if code is not None:
            atoms.append(_tag("code", "slack-code", _escape(_decode(code))))
        else:
            atoms.append(_reference(reference))
        position = match.end()
    atoms.extend(_runs(line[position:]))
    return _format(atoms)


def _runs(raw: str) -> list[str]:
    """Decoded text as atoms: each marker on its own, the text between in one piece."""
    return [part for part in _MARKER_SPLIT.split(_decode(raw)) if part]


def _format(atoms: list[str | Markup]) -> Markup:
    """Pair formatting markers and write the line out.

    An atom is a marker, a run of text, or Markup (a reference or code, which counts as neither
    space nor letter). A marker opens after a boundary and before a non-space, and closes after
    a non-space and before a boundary. A closer takes the nearest open marker of its kind and
    leaves the markers opened since then as text: every marker is stacked and unstacked at most
    once (so the pass is linear), and the tags it writes always nest.
    """
    tags: dict[int, Markup] = {}
    stack: list[int] = []
    open_count = dict.fromkeys(_MARKERS, 0)
    for index, atom in enumerate(atoms):
        if isinstance(atom, Markup) or atom not in _MARKERS:
            continue
        before = atoms[index - 1] if index else None
        after = atoms[index + 1] if index + 1 < len(atoms) else None
        if open_count[atom] and _solid(before, -1) and _boundary(after, 0):
            while True:
                opener = stack.pop()
                open_count[atoms[opener]] -= 1
                if atoms[opener] == atom:
                    break
            # `**` is two asterisks, not an empty bold.
            if opener < index - 1:
                tags[opener], tags[index] = _MARKERS[atom]
            continue
        if _boundary(before, -1) and _solid(after, 0):
            stack.append(index)
            open_count[atom] += 1
    out: list[Markup] = []
    text: list[str] = []
    for index, atom in enumerate(atoms):
        markup = tags.get(index) or (atom if isinstance(atom, Markup) else None)
        if markup is None:
            text.append(atom)
            continue
        if text:
            out.append(_escape("".join(text)))
            text.clear()
        out.append(markup)
    out.append(_escape("".join(text)))
    return _join(out)


def _solid(atom: str | Markup | None, at: int) -> bool:
    """Whether the character of `atom` at `at`, next to a marker, is not a space."""
    return atom is not None and (isinstance(atom, Markup) or not atom[at].isspace())


def _boundary(atom: str | Markup | None, at: int) -> bool:
    """Whether the character of `atom` at `at`, next to a marker, ends a word."""
    return atom is None or isinstance(atom, Markup) or not atom[at].isalnum()


def _reference(inner: str) -> Markup:
    """`<...>`: a link, a mention, a broadcast or a date; none of them ever notifies anyone."""
    target, _, label = inner.partition("|")
    label = _decode(label)
    if target.startswith("!"):
        return _special(target[1:], label)
    if target.startswith("@"):
        return _mention("slack-mention", "@" + (label or _decode(target[1:])))
    if target.startswith("#"):
        return _mention("slack-mention slack-channel", "#" + (label or _decode(target[1:])))
    url = _decode(target)
    safe = _http_url(url)
    if safe is None:
        # Not a link Slack would open from a browser: the reader sees what it said, as text.
        return _escape(label or url)
    return Markup(
        f'<a class="slack-link" href="{_escape(safe)}" rel="noopener noreferrer nofollow"'
        f' target="_blank">{_escape(label or url)}</a>'
    )


def _special(command: str, label: str) -> Markup:
    name, _, argument = command.partition("^")
    if name in _BROADCASTS:
        return _mention("slack-mention slack-broadcast", "@" + name)
    if name == "subteam":
        return _mention("slack-mention", label or "@" + _decode(argument))
    # A date, or a command this renderer does not know: its fallback text, or the command.
    return _escape(label or f"<!{_decode(command)}>")


def _mention(css_class: str, text: str) -> Markup:
    return _tag("span", css_class, _escape(text))


# Text and addresses.


def _http_url(value: object) -> str | None:
    """The address if it is a plain http(s) URL with a host; None for anything else."""
    if not isinstance(value, str):
        return None
    url = value.strip(_BLANK)
    if _BLANK_INSIDE.search(url):
        return None
    scheme, separator, rest = url.partition("://")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not separator or scheme.lower() not in ("http", "https") or not host:
        return None
    return url


def _decode(text: str) -> str:
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def _escape(text: str) -> Markup:
    return Markup(_SCRIPT_COLON.sub("&#58;", str(escape(text))))


def _as_text(value: object) -> str:
    """Text from a field that should hold text: a number is shown, anything else is nothing."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _items(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


# Markup's own join and format check every piece again, which costs seconds on hostile texts of
# many short lines: pieces that are already Markup are joined as strings instead. `tag` and
# `css_class` are always constants of this module.


def _join(parts: Iterable[Markup], separator: str = "") -> Markup:
    return Markup(separator.join(parts))


def _tag(tag: str, css_class: str, content: Markup) -> Markup:
    return Markup(f'<{tag} class="{css_class}">{content}</{tag}>')


def _div(css_class: str, content: Markup) -> Markup:
    return _tag("div", css_class, content)
