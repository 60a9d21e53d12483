"""Step 1a: read one article file (Markdown with YAML front matter, Smartable news format).

Two readings of a file: `read_entry` takes only the fields that rank an article, fast enough to
index thousands of files; `read_article` parses the whole front matter, validates it, and gives
what a digest shows. Both raise `ArticleError` naming the file and the reason.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool
from pydantic import ValidationError as _ValidationError

from digestbot.clock import showable
from digestbot.config.values import DEFAULT_FRONT_MATTER_LIMIT, YAML_LOADER, yaml_problem
from digestbot.errors import ArticleError

_BOM = b"\xef\xbb\xbf"
_FENCES = 16  # room past the limit for a BOM and the closing line
_CLOSING = re.compile(rb"\n(?:---|\.\.\.)[ \t]*(?:\n|$)")
# A top-level key starts a line at column 0; the literal "\n" lets `re` skip ahead quickly.
_TOP_KEY = re.compile(rb"\n([A-Za-z_][\w-]*)[ \t]*:")
# Column-0 syntax the key scan cannot follow (quoted keys, flow style, anchors): parse it all.
_UNUSUAL = re.compile(rb"\n[\"'{\[?&*!|>%]")
_RANKING_KEYS = frozenset(
    b"title webUrl originalUrl heat quality published removed publishedDateTime topics".split()
    + [b"provider"]
)
# Zero-width characters, and control characters (escape sequences would reach a terminal or
# Slack as such): whitespace among them is squeezed to a space instead.
_INVISIBLE = dict.fromkeys(
    [
        *map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"),
        *(code for code in range(0x20) if chr(code) not in "\t\n\v\f\r"),
        *range(0x7F, 0xA0),
    ]
)
MAX_FRONT_MATTER = DEFAULT_FRONT_MATTER_LIMIT  # bytes read at most (config: max_front_matter)
_SPACES = re.compile(r"\s+")
# A digest shows at most three related links; feeds carry up to 179 per article.
RELATED_KEPT = 3
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Entry:
    """What ranks an article: one row of the index."""

    path: str
    title: str
    url: str | None
    heat: float | None
    quality: float | None
    published_at: datetime | None
    published: bool
    removed: bool
    topics: tuple[str, ...]
    provider: str | None = None  # the outlet's name: at most max_per_provider of one per topic
    source: str = ""  # the configured source it comes from; set by the index

    @property
    def key(self) -> str:
        """How the ledger knows the article whatever its URL or title: source and file path."""
        return f"{self.source}/{self.path}"


@dataclass(frozen=True, slots=True)
class Related:
    title: str
    url: str
    provider: str | None


@dataclass(frozen=True, slots=True)
class Article:
    """What a digest shows of an article."""

    path: str
    title: str
    url: str
    excerpt: str
    image: str | None
    provider: str | None
    provider_logo: str | None
    published_at: datetime | None
    related: tuple[Related, ...]
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}/{self.path}"


def _number(value: object) -> object:
    # YAML gives int or float; a quoted "107" or a boolean is a wrong type, not a number.
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise ValueError(f"should be a number, not {type(value).__name__}")


Number = Annotated[float | None, BeforeValidator(_number)]


class _Edge(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Image(_Edge):
    url: str | None = None


class _Provider(_Edge):
    name: str | None = None
    images: list[_Image] | None = None


class _RelatedFile(_Edge):
    title: str | None = None
    web_url: str | None = Field(None, alias="webUrl")
    original_url: str | None = Field(None, alias="originalUrl")
    provider: _Provider | None = None


class RankingFields(_Edge):
    """The front matter fields that rank an article."""

    title: str
    web_url: str | None = Field(None, alias="webUrl")
    original_url: str | None = Field(None, alias="originalUrl")
    heat: Number = None
    quality: Number = None
    published: StrictBool | None = None
    removed: StrictBool | None = None
    published_at: datetime | None = Field(None, alias="publishedDateTime")
    topics: list[str | None] | None = None
    provider: _Provider | None = None


class ArticleFile(RankingFields):
    """The whole front matter of an article file."""

    excerpt: str | None = None
    images: list[_Image] | None = None
    related: list[_RelatedFile] | None = None


def clean_text(text: str | None) -> str:
    """Decode HTML entities (some feeds escape twice), drop invisible characters, squeeze spaces."""
    if not text:
        return ""
    for _ in range(3):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return _SPACES.sub(" ", text.translate(_INVISIBLE)).strip()


def http_url(*candidates: str | None) -> str | None:
    """The first candidate that is an http(s) address, stripped of surrounding space."""
    for candidate in candidates:
        url = clean_url(candidate)
        if url and url[:8].lower().startswith(("http://", "https://")):
            return url
    return None


def clean_url(url: str | None) -> str:
    return (url or "").translate(_INVISIBLE).strip()


def read_entry(path: Path, name: str, limit: int = MAX_FRONT_MATTER) -> Entry:
    """The ranking fields of one file, parsing as little YAML as it safely can."""
    front = _front_matter(*_read_prefix(path, name, limit), name, limit)
    light = _ranking_yaml(front)
    try:
        return _entry(name, _validate(RankingFields, _load_yaml(light or front, name), name))
    except ArticleError:
        # The cut-down YAML failed: parse it all, which gives the real line and reason.
        return _entry(name, _validate(RankingFields, _load_yaml(front, name), name))


def read_article(path: Path, name: str, limit: int = MAX_FRONT_MATTER) -> tuple[Entry, Article]:
    """Parse and validate the whole front matter of one file."""
    data = _load_yaml(_front_matter(*_read_prefix(path, name, limit), name, limit), name)
    parsed = _validate(ArticleFile, data, name)
    entry = _entry(name, parsed)
    return entry, _article(entry, parsed)


def _read_prefix(path: Path, name: str, limit: int) -> tuple[bytes, int]:
    """The start of a file, as much as its front matter may take (never the whole of a huge
    one: its body is not read, and a front matter larger than `limit` is refused), and the
    file's size."""
    try:
        with path.open("rb") as file:
            return file.read(limit + _FENCES), os.fstat(file.fileno()).st_size
    except OSError as error:
        raise ArticleError(name, f"cannot be read ({error.strerror or error})") from None


def _front_matter(data: bytes, size: int, name: str, limit: int) -> bytes:
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    if not data.startswith(b"---\n"):
        raise ArticleError(name, "no front matter (the file must start with a line '---')")
    closing = _CLOSING.search(data, 3)
    if closing is None and len(data) > limit:
        raise ArticleError(
            name, f"front matter larger than {_size(limit)} (the file is {_size(size)}): skipped"
        )
    if closing is None:
        raise ArticleError(name, "the front matter is never closed with a line '---'")
    return data[3 : closing.start() + 1]


def _size(count: int) -> str:
    if count >= 1024**3:
        return f"{count / 1024**3:.1f} GB"
    return f"{count / 1024**2:.1f} MB" if count >= 1024**2 else f"{count / 1024:.0f} KB"


def _ranking_yaml(front: bytes) -> bytes | None:
    if _UNUSUAL.search(front):
        return None
    keys = [(m.start(), m.group(1)) for m in _TOP_KEY.finditer(front)]
    keys.append((len(front), b""))
    return b"".join(
        front[start:end]
        for (start, key), (end, _) in zip(keys, keys[1:], strict=False)
        if key in _RANKING_KEYS
    )


def _load_yaml(front: bytes, name: str) -> Any:
    try:
        text = front.decode("utf-8")
    except UnicodeDecodeError as error:
        # A line, not a byte offset: the front matter has lost its BOM and CRs by now.
        line = front[: error.start].count(b"\n") + 1
        raise ArticleError(name, f"not UTF-8 text (line {line} cannot be decoded)") from None
    try:
        data = yaml.load(text, Loader=YAML_LOADER)
    except yaml.YAMLError as error:
        line, problem = yaml_problem(error)
        where = f" at line {line}" if line else ""
        reason = f"invalid YAML in the front matter{where}: {problem or 'syntax error'}"
        raise ArticleError(name, reason) from None
    if not isinstance(data, dict):
        raise ArticleError(name, "the front matter is not a mapping of fields")
    return data


def _validate(model: type[_Model], data: Any, name: str) -> _Model:
    try:
        return model.model_validate(data)
    except _ValidationError as error:
        first = error.errors(include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "front matter"
        message = first["msg"].removeprefix("Value error, ")
        raise ArticleError(name, f"field {field}: {message[0].lower()}{message[1:]}") from None


def _entry(name: str, fields: RankingFields) -> Entry:
    title = clean_text(fields.title)
    if not title:
        raise ArticleError(name, "field title: is empty")
    return Entry(
        path=name,
        title=title,
        url=http_url(fields.web_url, fields.original_url),
        heat=fields.heat,
        quality=fields.quality,
        published_at=_moment(fields.published_at, name),
        published=fields.published is True,
        removed=fields.removed is True,
        topics=tuple(clean_text(topic) for topic in fields.topics or () if topic),
        provider=clean_text(fields.provider.name) or None if fields.provider else None,
    )


def _moment(published_at: datetime | None, name: str) -> datetime | None:
    """The publishing time, in UTC when the file gives no offset, and one a digest can show."""
    if published_at is None:
        return None
    if published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    if not showable(published_at):
        raise ArticleError(name, "field publishedDateTime: is out of range")
    return published_at


def _article(entry: Entry, fields: ArticleFile) -> Article:
    provider = fields.provider or _Provider()
    return Article(
        path=entry.path,
        title=entry.title,
        url=entry.url or "",
        excerpt=clean_text(fields.excerpt),
        image=_first_image(fields.images),
        provider=entry.provider,
        provider_logo=_first_image(provider.images),
        published_at=entry.published_at,
        related=tuple(_related(fields.related or ())),
    )


def _first_image(images: list[_Image] | None) -> str | None:
    return http_url(images[0].url) if images else None


def _related(items: list[_RelatedFile]) -> list[Related]:
    related = []
    for item in items:
        url = http_url(item.web_url, item.original_url)
        title = clean_text(item.title)
        if url and title:
            provider = clean_text(item.provider.name) if item.provider else ""
            related.append(Related(title=title, url=url, provider=provider or None))
        if len(related) == RELATED_KEPT:
            break
    return related
