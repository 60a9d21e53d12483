"""The config file and the environment: valid input loads, invalid input names the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, ConfigWriter

from digestbot.config import load_config, load_settings, parse_duration
from digestbot.config.values import (
    parse_size,
    redact_url,
    repository_folder,
    url_secrets,
    yaml_problem,
)
from digestbot.errors import ConfigError


def digest(**changes: object) -> dict:
    body = {"topics": ["AI"], "channels": ["#ai-news"], "schedule": "0 9 * * 1-5"}
    body.update(changes)
    return {"articles": ".", "digests": {"ai-daily": body}}


def error_for(write_config: ConfigWriter, data: dict | str) -> str:
    path = write_config(data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_example_config_loads_and_points_at_the_seeds() -> None:
    """config/digestbot.yaml is valid and its articles path is relative to the file."""
    config = load_config(ROOT / "config" / "digestbot.yaml")
    assert config.articles == ROOT / "seeds"
    ai = config.digests["ai-daily"]
    assert ai.name == "ai-daily" and ai.topics == ["AI", "AI Hardware"] and ai.top == 5
    assert ai.schedule == "0 9 * * 1-5" and ai.timezone == "Europe/Berlin"
    assert ai.catch_up == timedelta(hours=1) and ai.max_age is None


def test_defaults_and_durations(write_config: ConfigWriter) -> None:
    """Optional keys take their defaults; durations read like 2d or 1h30m."""
    config = load_config(write_config(digest(max_age="2d", catch_up="1h30m")))
    ai = config.digests["ai-daily"]
    assert config.timezone == "UTC" and ai.title is None and ai.heading == "ai-daily"
    assert ai.max_age == timedelta(days=2) and ai.catch_up == timedelta(minutes=90)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"topcs": ["AI"]}, "digests.ai-daily.topcs: unknown key (did you mean 'topics'?)"),
        ({"topics": []}, "digests.ai-daily.topics: List should have at least 1 item"),
        ({"channels": []}, "digests.ai-daily.channels: List should have at least 1 item"),
        ({"channels": ["#a b"]}, "digests.ai-daily.channels"),
        ({"schedule": "0 25 * * *"}, "digests.ai-daily.schedule: '0 25 * * *': 25 is out of range"),
        ({"schedule": "every day"}, "digests.ai-daily.schedule: 'every day': expected 5 fields"),
        (
            {"timezone": "Mars/Olympus"},
            "digests.ai-daily.timezone: unknown timezone 'Mars/Olympus'",
        ),
        ({"top": 0}, "digests.ai-daily.top: Input should be greater than or equal to 1"),
        ({"max_age": "soon"}, "digests.ai-daily.max_age: 'soon' is not a duration"),
        (
            {"max_age": "1000000000d"},
            "digests.ai-daily.max_age: '1000000000d' is too long; at most 36500d (100 years)",
        ),
        ({"catch_up": "99999999999d"}, "digests.ai-daily.catch_up: '99999999999d' is too long"),
        ({"name": "x"}, "digests: ai-daily.name: unknown key"),
    ],
)
def test_invalid_digest_names_digest_and_key(
    write_config: ConfigWriter, changes: dict, expected: str
) -> None:
    """Each mistake in a digest is reported with the digest, the key and what is wrong."""
    message = error_for(write_config, digest(**changes))
    assert expected in message
    assert "Traceback" not in message


def test_missing_keys_and_top_level_mistakes(write_config: ConfigWriter) -> None:
    """Missing required keys and unknown top-level keys are named."""
    message = error_for(write_config, {"digests": {}, "timezon": "UTC"})
    assert "articles: required key is missing" in message
    assert "timezon: unknown key (did you mean 'timezone'?)" in message


def test_a_key_written_twice_is_an_error(write_config: ConfigWriter) -> None:
    """A digest defined twice is refused with its line, not silently cut to the last one;
    a YAML merge (<<) may still override what it brings."""
    twice = "digests:\n  d:\n    topics: [AI]\n    channels: ['#a']\n  d:\n    topics: [X]\n"
    message = error_for(write_config, "articles: .\n" + twice)
    assert message.endswith("not valid YAML (line 6): 'd' is written twice in one mapping")
    after_a_merge = "x: &x {a: 1}\ny:\n  <<: *x\n  b: 1\n  b: 2\n"
    message = error_for(write_config, after_a_merge)
    assert message.endswith("not valid YAML (line 5): 'b' is written twice in one mapping")
    merged = (
        "articles: .\ndigests:\n  a: &a\n    topics: [AI]\n    channels: ['#a']\n"
        "  b:\n    <<: *a\n    topics: [X]\n"
    )
    config = load_config(write_config(merged))
    assert (config.digests["b"].topics, config.digests["b"].channels) == (["X"], ["#a"])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("articles: ''\n", "articles: it is empty: write the articles folder, like ../seeds"),
        (
            "sources: {local: {folder: ' '}}\n",
            "sources.local: `folder` is empty: write the articles folder, like ../seeds",
        ),
    ],
)
def test_an_empty_folder_is_refused(write_config: ConfigWriter, text: str, problem: str) -> None:
    """An empty folder would read the config file's own folder: refused, naming the key."""
    message = error_for(write_config, text + "digests: {d: {topics: [AI], channels: ['#a']}}\n")
    assert message.endswith(f": {problem}")


def test_a_config_without_digests_is_refused(write_config: ConfigWriter) -> None:
    """`digests: {}` would run nothing and say nothing: at least one digest, as documented."""
    message = error_for(write_config, "articles: .\ndigests: {}\n")
    assert message.endswith(": digests: define at least one digest")


def test_not_yaml_or_not_a_mapping(write_config: ConfigWriter) -> None:
    """Broken YAML names the line; a list or a scalar at the top level is refused clearly."""
    assert "not valid YAML (line 2)" in error_for(write_config, "digests:\n  a: b: c\n")
    for text in ("- just\n- a list\n", "- [articles, .]\n- [digests, {}]\n", "42\n", "true\n"):
        assert error_for(write_config, text).endswith(": the config must be a mapping of keys")


def test_a_config_that_is_not_utf8_names_the_file_and_the_byte(tmp_path: Path) -> None:
    """A config saved in Latin-1 is an error naming the file, not a traceback."""
    path = tmp_path / "digestbot.yaml"
    path.write_bytes("articles: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot be read as a config mapping: ")
    assert "utf-8" in message and "0xe9" in message


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    """A config path that does not exist explains DIGESTBOT_CONFIG."""
    with pytest.raises(ConfigError, match="config file not found.*DIGESTBOT_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_settings_defaults() -> None:
    """Without environment variables the defaults apply and no token is set."""
    settings = load_settings()
    assert settings.config_path == Path("config/digestbot.yaml")
    assert settings.database_url == "sqlite:///digestbot.db"
    assert settings.slack_bot_token is None
    assert settings.slack_api_url == "https://slack.com/api/"


@pytest.mark.parametrize(
    ("variables", "url"),
    [
        ({"DATABASE_URL": "postgres://u:p@h/db"}, "postgresql+psycopg://u:p@h/db"),
        (
            {"DIGESTBOT_DATABASE_URL": "postgresql://h/db", "DATABASE_URL": "sqlite:///x.db"},
            "postgresql+psycopg://h/db",
        ),
        ({"DIGESTBOT_DATABASE_URL": "sqlite:////tmp/state.db"}, "sqlite:////tmp/state.db"),
    ],
)
def test_database_url_fallback_and_heroku_form(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], url: str
) -> None:
    """DIGESTBOT_DATABASE_URL wins over DATABASE_URL; postgres:// becomes psycopg 3."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert load_settings().database_url == url


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot token never shows in the settings' repr."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
    settings = load_settings()
    assert "xoxb-not-a-real-token" not in repr(settings)
    assert settings.secrets() == ["xoxb-not-a-real-token"]


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad PORT is reported with the variable's name."""
    monkeypatch.setenv("PORT", "web")
    with pytest.raises(ConfigError, match="PORT"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("2d", timedelta(days=2)),
        ("36h", timedelta(hours=36)),
        ("1w 2d", timedelta(days=9)),
        ("36500d", timedelta(days=36_500)),  # the longest: 100 years
    ],
)
def test_parse_duration(text: str, delta: timedelta) -> None:
    """Durations combine units."""
    assert parse_duration(text) == delta


def test_secrets_are_stripped_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token read from a file keeps no newline; one with spaces inside is refused, unseen."""
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-abc\n")
    assert load_settings().secrets() == ["xapp-1-abc"]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1 xoxb-2")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "SLACK_BOT_TOKEN: must be one word" in str(caught.value)
    assert "xoxb-1" not in str(caught.value)


def with_sources(configured: dict, **digest_changes: object) -> dict:
    data = digest(**digest_changes)
    del data["articles"]
    return {**data, "sources": configured}


def test_sources_of_each_kind_load_with_their_defaults(write_config: ConfigWriter) -> None:
    """git, feed and folder sources load; refresh and timeout default by kind; folders are
    relative to the config file, git's `folder` is inside the repository."""
    path = write_config(
        with_sources(
            {
                "ai": {"git": "https://example.com/ai.git", "folder": "_news", "branch": "main"},
                "blog": {"feed": "https://example.com/feed", "topics": ["Azure"], "weight": 2},
                "local": {"folder": "seeds", "refresh": "0s"},
            },
            sources=["ai", "blog"],
        )
    )
    config = load_config(path)
    ai, blog, local = (config.sources[name] for name in ("ai", "blog", "local"))
    assert (ai.kind, ai.folder, ai.branch) == ("git", "_news", "main")
    assert ai.fetch_timeout == timedelta(minutes=2) and ai.refresh == timedelta(minutes=15)
    assert (blog.kind, blog.topics, blog.weight) == ("feed", ["Azure"], 2.0)
    assert blog.fetch_timeout == timedelta(seconds=20) and blog.half_life == timedelta(days=1)
    assert local.kind == "folder" and local.folder == str(path.parent / "seeds")
    assert local.refresh == timedelta(0)
    assert config.digest_sources(config.digests["ai-daily"]) == ["ai", "blog"]


def test_articles_key_is_a_folder_source_called_articles(write_config: ConfigWriter) -> None:
    """`articles: PATH` still works: one folder source named `articles`, read by every digest."""
    config = load_config(write_config(digest()))
    [source] = config.all_sources.values()
    assert (source.name, source.kind) == ("articles", "folder")
    assert config.digest_sources(config.digests["ai-daily"]) == ["articles"]


@pytest.mark.parametrize(
    ("sources", "changes", "expected"),
    [
        ({"ai": {"git": "x", "feed": "y"}}, {}, "sources.ai: Value error, give one of"),
        ({"ai": {"refresh": "1h"}}, {}, "sources.ai: Value error, give one of `git`"),
        ({"ai": {"feed": "x", "folder": "y"}}, {}, "`folder` is for git sources and folders"),
        ({"ai": {"git": "x", "topics": ["A"]}}, {}, "`topics` is only for feed sources"),
        ({"ai": {"feed": "x", "branch": "main"}}, {}, "`branch` is only for git sources"),
        ({"ai": {"git": "x", "folder": "../etc"}}, {}, "'../etc' is not a folder inside a repo"),
        ({"ai": {"feed": "x", "wieght": 2}}, {}, "sources.ai.wieght: unknown key"),
        ({"ai": {"feed": "x", "refresh": "soon"}}, {}, "sources.ai.refresh: 'soon' is not"),
        ({"ai": {"feed": "x", "refresh": "9999999999w"}}, {}, "sources.ai.refresh: '9999999"),
        ({"ai": {"feed": "x", "half_life": "0s"}}, {}, "sources.ai.half_life: must be longer"),
        ({"ai": {"feed": "x", "timeout": "0m"}}, {}, "sources.ai.timeout: must be longer than"),
        ({"ai": {"feed": "x", "weight": float("inf")}}, {}, "weight: Input should be a finite"),
        ({"ai": {"feed": "x", "weight": 1e308}}, {}, "sources.ai.weight: Input should be less"),
        ({"ai": {"feed": "x"}}, {"sources": ["ai", "nope"]}, "digests.ai-daily.sources: no"),
        ({"ai": {"feed": "x"}}, {"sources": []}, "digests.ai-daily.sources: List should"),
    ],
)
def test_source_mistakes_name_the_key(
    write_config: ConfigWriter, sources: dict, changes: dict, expected: str
) -> None:
    """Unknown keys, a source of no kind or two, feed keys on git, unknown names: errors
    naming the key."""
    message = error_for(write_config, with_sources(sources, **changes))
    assert expected.replace("Value error, ", "") in message


def test_unknown_source_key_suggests_the_right_one(write_config: ConfigWriter) -> None:
    """A typo under a source is reported with the key it probably meant."""
    message = error_for(write_config, with_sources({"ai": {"feed": "x", "wieght": 2}}))
    assert "sources.ai.wieght: unknown key (did you mean 'weight'?)" in message


def test_a_password_in_a_source_url_never_shows(write_config: ConfigWriter, cli) -> None:
    """Credentials in a source's URL are blanked out in what digestbot prints."""
    secret = "ghp_s3cretT0ken"
    write_config(
        with_sources({"ai": {"git": f"https://bot:{secret}@example.com/ai.git", "timeout": "x"}})
    )
    result = cli("check")
    assert result.code == 1 and "sources.ai.timeout" in result.err
    assert secret not in result.out + result.err
    write_config(with_sources({"ai": {"git": f"https://bot:{secret}@example.com/ai.git"}}))
    result = cli("status")
    assert "ai (git https://bot:***@example.com/ai.git)" in result.out
    assert secret not in result.out + result.err


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("git", "https://bot:GIT/PW5@example.com/ai.git"),
        ("feed", "http://bot:FEED?PW6@example.com/feed.xml"),
        ("feed", "http://bot:FEED#PW6@example.com/feed.xml"),
        ("git", "https://bot:GIT PW5@example.com/ai.git"),
        ("git", "https://bot:PW6:8080/x@example.com/ai.git"),
        ("feed", "http://bot:PW5/x@example.com/feed?next=http://example.org/"),
        ("feed", "https://bot:p@PW6/word@feeds.example.com/rss"),
    ],
)
def test_a_password_that_would_end_the_host_is_refused_unseen(
    write_config: ConfigWriter, cli, kind: str, url: str
) -> None:
    """A password with a raw `/`, `?` or `#` would not read as one, so nothing could blank it
    out: the config is refused, naming the key, without showing it."""
    write_config(with_sources({"ai": {kind: url}}))
    result = cli("check")
    assert result.code == 1
    scheme = url.partition("://")[0]
    reason = (
        f"a {scheme}:// URL cannot hold a blank: write it percent-encoded (%20)"
        if " " in url
        else f"a {scheme}:// URL whose password holds '/', '?' or '#': write them "
        "percent-encoded (%2F, %3F, %23)"
    )
    assert f"sources.ai.{kind}: {reason}" in result.err
    assert "PW5" not in result.out + result.err and "PW6" not in result.out + result.err


@pytest.mark.parametrize(
    "url",
    [
        "https://medium.com/feed/@a",
        "https://example.com:8443/feed/@a",
        "https://[::1]/feed/@a",
        "https://[::1]:8443/feed/@a",
        "https://example.com:/feed/@a",
        "https://bot:pw@example.com/feed/@a",
    ],
)
def test_an_at_sign_in_a_feed_path_is_no_password(write_config: ConfigWriter, url: str) -> None:
    """`https://medium.com/feed/@someone` has no credentials: it loads as written, whatever
    the host and port before it."""
    config = load_config(write_config(with_sources({"m": {"feed": url}})))
    assert config.sources["m"].feed == url


def test_a_typo_under_slash_is_an_error_naming_the_key(write_config: ConfigWriter) -> None:
    """`slash.allowed_user` (a typo that would open /digest to everyone) is refused by name."""
    message = error_for(write_config, {**digest(), "slash": {"allowed_user": ["U0BOSS"]}})
    assert "slash.allowed_user: unknown key (did you mean 'allowed_users'?)" in message


def test_slash_limits_load_as_written(write_config: ConfigWriter) -> None:
    """slash.allowed_users and slash.allowed_channels load as lists; both default to empty."""
    limits = {"allowed_users": ["U0BOSS"], "allowed_channels": ["#ai-news", "C0000001"]}
    config = load_config(write_config({**digest(), "slash": limits}))
    assert config.slash.allowed_users == ["U0BOSS"]
    assert config.slash.allowed_channels == ["#ai-news", "C0000001"]
    default = load_config(write_config(digest())).slash
    assert default.allowed_users == [] and default.allowed_channels == []


@pytest.mark.parametrize(
    ("top", "error"),
    [
        (1, None),
        (50, None),
        (0, "digests.ai-daily.top: Input should be greater than or equal to 1"),
        (51, "digests.ai-daily.top: Input should be less than or equal to 50"),
    ],
)
def test_top_is_between_1_and_50(write_config: ConfigWriter, top: int, error: str | None) -> None:
    """`top` takes 1 to 50 articles per topic; 0 or 51 is an error naming the key."""
    if error is None:
        assert load_config(write_config(digest(top=top))).digests["ai-daily"].top == top
    else:
        assert error in error_for(write_config, digest(top=top))


@pytest.mark.parametrize("key", ["topics", "channels"])
@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_topic_or_channel_name_is_an_error(
    write_config: ConfigWriter, key: str, blank: str
) -> None:
    """A blank entry in topics or channels is an error naming the key; names are trimmed."""
    message = error_for(write_config, digest(**{key: ["AI", blank]}))
    assert f"digests.ai-daily.{key}: an entry is empty" in message
    trimmed = load_config(write_config(digest(**{key: ["  AI  "]}))).digests["ai-daily"]
    assert getattr(trimmed, key) == ["AI"]


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "",
            "articles: required key is missing (or list the `sources:` to read); "
            "digests: required key is missing",
        ),
        (
            "digests: {}\ntimezon: UTC\n",
            "articles: required key is missing (or list the `sources:` to read); "
            "digests: define at least one digest; timezon: unknown key (did you mean 'timezone'?)",
        ),
        ("articles: .\n", "digests: required key is missing"),
        (
            "articles: .\ndigests: {a: {topics: [AI]}}\n",
            "digests.a.channels: required key is missing",
        ),
        (
            "sources: {ai: {feed: 'https://f.example/x'}}\n"
            "digests: {a: {topics: [AI], channels: [x], topcs: 1}}\n",
            "digests.a.topcs: unknown key (did you mean 'topics'?)",
        ),
        (
            "articles: .\ndigests: {a: {topics: [AI], channels: [x], nam: 1, zzz: 2}}\n",
            "digests.a.nam: unknown key; digests.a.zzz: unknown key",
        ),
        (
            "digests:\n  a: b: c\n",
            "not valid YAML (line 2): mapping values are not allowed in this context",
        ),
        ("articles: .\nx: \x07\n", "not valid YAML: control characters are not allowed"),  # libyaml
    ],
)
def test_every_problem_is_listed_once_in_order(
    write_config: ConfigWriter, text: str, problems: str
) -> None:
    """The error is the file, then each problem with its key separated by '; ': a missing
    `articles` first (only when there are no sources either), a suggestion only for a close
    real key (never `name`), and broken YAML with its line or its reason."""
    path = write_config(text)
    assert error_for(write_config, text) == f"{path}: {problems}"


def test_pick_returns_the_digests_asked_for_in_order(write_config: ConfigWriter) -> None:
    """Without names every digest, in config order; with names those, in the order asked."""
    body = {"topics": ["AI"], "channels": ["#a"]}
    config = load_config(write_config({"articles": ".", "digests": {"b": body, "a": body}}))
    assert [d.name for d in config.pick()] == ["b", "a"]
    assert [d.name for d in config.pick(["a", "b"])] == ["a", "b"]
    assert [d.name for d in config.pick(("b",))] == ["b"]


def test_pick_names_unknown_digests_and_the_configured_ones(write_config: ConfigWriter) -> None:
    """Asking for digests that do not exist names them and lists the configured ones."""
    body = {"topics": ["AI"], "channels": ["#a"]}
    config = load_config(write_config({"articles": ".", "digests": {"b": body, "a": body}}))
    with pytest.raises(ConfigError) as caught:
        config.pick(["a", "x", "y"])
    assert str(caught.value) == "no digest called x, y (configured: b, a)"


def test_passwords_in_git_and_feed_urls_are_secrets(write_config: ConfigWriter) -> None:
    """The passwords (or lone tokens) of git and feed sources are kept to blank out of logs."""
    sources = {
        "repo": {"git": "https://bot:gitpass@example.com/ai.git"},
        "feed": {"feed": "https://feedtoken@example.com/rss"},
        "open": {"feed": "https://example.com/open"},
        "local": {"folder": "."},
    }
    config = load_config(write_config(with_sources(sources)))
    assert sorted(config.secrets()) == ["feedtoken", "gitpass"]


@pytest.mark.parametrize(
    ("url", "secrets", "redacted"),
    [
        ("https://bot:s3cret@example.com/a.git", ["s3cret"], "https://bot:***@example.com/a.git"),
        ("https://bot:pa:ss@example.com/", ["pa:ss"], "https://bot:***@example.com/"),
        ("https://ghp_T0ken@example.com/", ["ghp_T0ken"], "https://***@example.com/"),
        ("https://bot:@example.com/", [], "https://bot:***@example.com/"),
        ("https://example.com/a@b", [], "https://example.com/a@b"),
        (
            "clone https://a:one@x.example and https://two@y.example",
            ["one", "two"],
            "clone https://a:***@x.example and https://***@y.example",
        ),
    ],
)
def test_credentials_in_urls(url: str, secrets: list[str], redacted: str) -> None:
    """A password (everything after the first colon) or a lone token is the secret; redacting
    keeps the user name and the rest of the URL."""
    assert url_secrets(url) == secrets
    assert redact_url(url) == redacted


@pytest.mark.parametrize(
    ("folder", "cleaned"),
    [
        (None, ""),
        ("", ""),
        ("_news", "_news"),
        ("/_news/", "_news"),
        ("a/b", "a/b"),
        ("Xmas/", "Xmas"),
    ],
)
def test_a_repository_folder_is_relative(folder: str | None, cleaned: str) -> None:
    """A git source's folder is a path inside the repository, slashes around it dropped."""
    assert repository_folder(folder) == cleaned


@pytest.mark.parametrize(
    "folder", ["a//b", "./x", "x/.", "../x", "a/../b", ".git", "x/.git", "a\\b"]
)
def test_a_repository_folder_cannot_leave_the_repository(folder: str) -> None:
    """Empty, `.`, `..` and `.git` parts and backslashes are refused, naming the folder."""
    with pytest.raises(ValueError, match="is not a folder inside a repository"):
        repository_folder(folder)


def test_a_duration_may_repeat_a_unit() -> None:
    """Amounts of the same unit add up: `1h 1h30m` is 2 h 30 min."""
    assert parse_duration("1h 1h30m") == timedelta(hours=2, minutes=30)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1", 1), (4096, 4096), ("2KB", 2048), ("2 kb", 2048), ("3MB", 3 * 1024**2), ("1gb", 1024**3)],
)
def test_sizes_read_in_bytes_kb_mb_or_gb(text: object, size: int) -> None:
    """A size is a number of bytes, or of KB, MB or GB (any case, a space allowed)."""
    assert parse_size(text) == size


@pytest.mark.parametrize("value", ["abc", "0", 0, True, 1.5, "1 TB", "b"])
def test_a_size_that_is_not_one_says_how_to_write_it(value: object) -> None:
    """Zero, a boolean, a fraction or an unknown unit is refused with an example."""
    with pytest.raises(ValueError) as caught:
        parse_size(value)
    assert str(caught.value) == f"{value!r} is not a size; write it like 1MB or 512KB"


def test_max_front_matter_loads_as_bytes(write_config: ConfigWriter) -> None:
    """`max_front_matter: 512KB` is 524,288 bytes; the default is 1 MB."""
    assert load_config(
        write_config({**digest(), "max_front_matter": "512KB"})
    ).max_front_matter == (512 * 1024)
    assert load_config(write_config(digest())).max_front_matter == 1024**2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": 5}, "digests.ai-daily.timezone: 5 is not a timezone name; use one like "),
        ({"schedule": 9}, "digests.ai-daily.schedule: 9 is not a schedule; write one like '0 9"),
        (
            {"topics": [["AI"]]},
            "digests.ai-daily.topics: every entry must be text (a name, not a list or a number)",
        ),
    ],
)
def test_a_value_of_the_wrong_shape_says_what_to_write(
    write_config: ConfigWriter, changes: dict, message: str
) -> None:
    """A number where a name or a schedule belongs, or a list inside a list, names the key."""
    assert message in error_for(write_config, digest(**changes))


def test_a_typo_under_dashboard_suggests_the_key(write_config: ConfigWriter) -> None:
    """`dashboard.allowed_user` is refused with the key it probably meant."""
    message = error_for(write_config, {**digest(), "dashboard": {"allowed_user": ["U1"]}})
    assert "dashboard.allowed_user: unknown key (did you mean 'allowed_users'?)" in message


def test_a_yaml_error_without_a_mark_or_a_reason_is_still_described() -> None:
    """libyaml's errors carry a line and a problem; a bare YAMLError carries neither."""
    assert yaml_problem(yaml.YAMLError("no detail")) == (None, None)
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.load("a: b: c", Loader=yaml.CSafeLoader)
    assert yaml_problem(caught.value) == (1, "mapping values are not allowed in this context")


def test_a_short_dashboard_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard's login token must be 16 characters or more: a short one can be guessed
    (and would be everywhere in ordinary words)."""
    monkeypatch.setenv("DIGESTBOT_DASHBOARD_TOKEN", "daily")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "DIGESTBOT_DASHBOARD_TOKEN: too short to keep the dashboard closed" in str(caught.value)
    assert "daily" not in str(caught.value)
    monkeypatch.setenv("DIGESTBOT_DASHBOARD_TOKEN", "d" * 16)
    assert load_settings().dashboard_token is not None


def test_a_local_git_path_is_relative_to_the_config_file(write_config: ConfigWriter) -> None:
    """`git: ../remote.git` is beside the config file, as every path in it, not in the cache
    where git runs; URLs and `host:path` (a colon before any slash) are git's to read."""
    relative = {"rel": "../remote.git", "dot": "./a:b/c.git", "up": "/srv/../srv/x:y.git"}
    kept = {
        "abs": "/srv/remote.git",
        "odd": ":path",
        "colon": "/srv/with:colon.git",
        "url": "https://example.com/ai.git",
        "file": "file:///srv/remote.git",
        "scp": "git@github.com:SmartableAI/ai.git",
        "scp2": "host:dir/with:colon.git",
    }
    locations = {**relative, **kept}
    path = write_config(with_sources({name: {"git": git} for name, git in locations.items()}))
    sources = load_config(path).sources
    assert sources["rel"].git == str(path.parent.parent / "remote.git")
    assert sources["dot"].git == str(path.parent / "a:b" / "c.git")
    assert sources["up"].git == "/srv/x:y.git"
    assert {name: sources[name].git for name in kept} == kept


def test_a_short_half_life_is_still_one(write_config: ConfigWriter) -> None:
    """Only 0s is refused: a second or an hour is a half-life, however quick the decay."""
    for half_life in ("1s", "12h"):
        path = write_config(with_sources({"ai": {"feed": "x", "half_life": half_life}}))
        assert load_config(path).sources["ai"].half_life == parse_duration(half_life)


def test_a_credential_in_a_feed_query_never_shows(write_config: ConfigWriter, cli) -> None:
    """A private feed's address often carries its key in the query (`?api_key=...`): shown
    as `api_key=***` in `check` and `status`, and its value blanked in errors. Parameters
    that only contain such a word (`keyword`, `monkey`) are left as they are."""
    secret = "s3cret-feed-key-0123"
    url = f"http://127.0.0.1:9/rss?keyword=ai&sort_key=new&api_key={secret}&accessToken=AB12"
    write_config(with_sources({"ai": {"feed": url}}))
    for command in ("check", "status", "refresh"):
        result = cli(command)
        assert secret not in result.out + result.err, command
        assert "AB12" not in result.out + result.err, command
    shown = "http://127.0.0.1:9/rss?keyword=ai&sort_key=new&api_key=***&accessToken=***"
    assert shown in cli("status").out


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("https://f.example/rss?keyword=artificial&token=abcd1234", ["abcd1234"]),
        ("https://f.example/rss?token=&sort_key=published", []),
        ("https://bot:pw0rd@f.example/rss?X-Api-Key=k3y&monkey=business", ["pw0rd", "k3y"]),
    ],
)
def test_the_secrets_of_a_url_are_its_password_and_credential_values(
    url: str, secrets: list[str]
) -> None:
    """What logs blank out for a source: the password and the values of parameters named as
    credentials, never another parameter's value (it would be blanked in every digest)."""
    assert url_secrets(url) == secrets


def test_a_url_is_shown_without_its_credentials() -> None:
    """However short a credential is, the address shows `***` in its place."""
    url = "https://bot:pw@f.example/rss?q=ai&api_key=k&accessToken=&sig=s#top"
    assert (
        redact_url(url) == "https://bot:***@f.example/rss?q=ai&api_key=***&accessToken=&sig=***#top"
    )
