"""The values a config file holds, checked one at a time: durations, sizes, timezones,
schedules, names and URLs that may carry a password. A value of the wrong shape (a list for a
name, a number for a schedule) is a ValueError the loader reports with its key."""

from __future__ import annotations

import re
from datetime import timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BeforeValidator, Field

from digestbot import crontab
from digestbot.clock import LONGEST
from digestbot.logs import REDACTED

_DURATION = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#\s]*)@")
_RAW_IN_PASSWORD = (
    "a {scheme}:// URL whose password holds '/', '?' or '#': write them percent-encoded "
    "(%2F, %3F, %23)"
)
_LATER_HOST = re.compile(r"@[\w-]+(?:\.[\w-]+)+(?::\d+)?(?:[/?#]|$)")
_QUERY_PARAMETER = re.compile(r"([?&;])([^=&#\s]+)=([^&#\s'\"<>]*)")
# Query parameters that carry a credential, by name without case, `_` or `-`: whole, or
# (the longer words) at its end: access_token, accessToken, X-Api-Key, client_secret...
_CREDENTIAL_NAMES = frozenset({"key", "pass", "pwd", "sig", "auth"})
_CREDENTIAL_ENDINGS = ("token", "apikey", "secret", "password", "passwd", "signature")
_SIZE = re.compile(r"(\d+)\s*(b|kb|mb|gb)?", re.I)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
DEFAULT_FRONT_MATTER_LIMIT = 1024**2  # bytes: the largest real front matter is ~142 KB


def parse_duration(value: object) -> timedelta:
    """'2d', '36h', '1h30m', '1w' -> timedelta."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower()
    if not text or _DURATION.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration; write it like 2d, 36h, 90m or 1h30m")
    seconds = sum(int(amount) * _SECONDS[unit] for amount, unit in _DURATION.findall(text))
    if seconds > LONGEST.total_seconds():
        raise ValueError(f"{value!r} is too long; at most {LONGEST.days}d (100 years)")
    return timedelta(seconds=seconds)


def _positive(duration: timedelta) -> timedelta:
    if duration <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return duration


def parse_size(value: object) -> int:
    """'1MB', '512KB', '2 mb', 4096 -> bytes."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a size; write it like 1MB or 512KB")
    match = _SIZE.fullmatch(str(value).strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{value!r} is not a size; write it like 1MB or 512KB")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def timezone(name: str) -> tzinfo:
    """The IANA timezone called `name`, or a ValueError that says what to write."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}; use an IANA name such as Europe/Berlin or UTC"
        ) from None


def _check_timezone(name: object) -> object:
    if name is not None:
        if not isinstance(name, str):
            raise ValueError(f"{name!r} is not a timezone name; use one like Europe/Berlin")
        timezone(name)
    return name


def _check_schedule(expression: object) -> str | None:
    if expression is None:
        return None
    if not isinstance(expression, str):
        raise ValueError(f"{expression!r} is not a schedule; write one like '0 9 * * 1-5'")
    try:
        crontab.parse(str(expression))
    except crontab.CrontabError as error:
        raise ValueError(f"{expression!r}: {error}") from None
    return " ".join(str(expression).split())


def _check_names(values: object) -> object:
    if not isinstance(values, list):
        return values  # pydantic says it should be a list
    if not all(isinstance(value, str) for value in values):
        raise ValueError("every entry must be text (a name, not a list or a number)")
    cleaned = [value.strip() for value in values]
    if not all(cleaned):
        raise ValueError("an entry is empty")
    return cleaned


def check_credentials(url: str | None) -> str | None:
    """Refuse a URL whose password would not be recognised as one (so not blanked out): a
    blank in it, or a `/`, `?` or `#`, which ends the host part early (`user:pa` reads as a
    host and a port). The URL is not quoted: it may hold the password."""
    if url is None:
        return None
    scheme, found, rest = url.partition("://")
    if not found:
        return url
    if any(char.isspace() for char in rest):
        raise ValueError(f"a {scheme}:// URL cannot hold a blank: write it percent-encoded (%20)")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in host:  # `bob:p@ss/word@feeds.example`: a host past the first one's path
        if not _LATER_HOST.search(rest[len(host) :]):
            return url
        raise ValueError(_RAW_IN_PASSWORD.format(scheme=scheme))
    if "@" not in rest:
        return url
    port = host.rpartition("]")[2].partition(":")[2]  # past an IPv6 address's brackets
    if port and not port.isdigit():
        raise ValueError(_RAW_IN_PASSWORD.format(scheme=scheme))
    return url


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
TimezoneName = Annotated[str | None, BeforeValidator(_check_timezone)]
Schedule = Annotated[str | None, BeforeValidator(_check_schedule)]
Names = Annotated[list[str], Field(min_length=1), BeforeValidator(_check_names)]
Size = Annotated[int, BeforeValidator(parse_size)]
SourceUrl = Annotated[str | None, AfterValidator(check_credentials)]


def repository_folder(folder: str | None) -> str:
    """A git source's `folder` as a relative path inside the repository ("" for all of it)."""
    cleaned = (folder or "").strip("/")
    parts = cleaned.split("/") if cleaned else []
    if any(part in ("", ".", "..", ".git") for part in parts) or "\\" in cleaned:
        raise ValueError(f"{folder!r} is not a folder inside a repository (like `_news`)")
    return cleaned


def redact_url(text: str) -> str:
    """`text` (a URL, or a message quoting URLs) without their credentials: `user:***@` for a
    password, `***@` for a token standing alone, `api_key=***` for a query parameter named
    like a credential (a private feed's address often carries one)."""
    return _QUERY_PARAMETER.sub(_unless_credential, _CREDENTIALS.sub(_redacted, text))


def url_secrets(url: str) -> list[str]:
    """The password, or the token standing alone, written into a URL's credentials, and the
    values of its credential-like query parameters, so that logs blank them out wherever they
    appear."""
    secrets = []
    for _, userinfo in _CREDENTIALS.findall(url):
        user, colon, password = userinfo.partition(":")
        secret = password if colon else user
        if secret:
            secrets.append(secret)
    query = _QUERY_PARAMETER.findall(url)
    return secrets + [value for _, name, value in query if value and _is_credential(name)]


def _unless_credential(parameter: re.Match[str]) -> str:
    start, name, value = parameter.groups()
    return f"{start}{name}={REDACTED}" if value and _is_credential(name) else parameter.group()


def _is_credential(name: str) -> bool:
    plain = name.lower().replace("_", "").replace("-", "")
    return plain in _CREDENTIAL_NAMES or plain.endswith(_CREDENTIAL_ENDINGS)


def _redacted(match: re.Match[str]) -> str:
    user, colon, _ = match.group(2).partition(":")
    return f"{match.group(1)}{user}:{REDACTED}@" if colon else f"{match.group(1)}{REDACTED}@"


# libyaml's parser when PyYAML has it: ten times the pure-Python one (config files and articles).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_problem(error: Exception) -> tuple[int | None, str | None]:
    """The line (1-based, when YAML knows it) and the reason of a YAML error, in words."""
    mark = getattr(error, "problem_mark", None)
    # A character YAML refuses (a control character) is a ReaderError: a reason, no mark.
    problem = getattr(error, "problem", None) or getattr(error, "reason", None)
    return (mark.line + 1 if mark else None), problem
