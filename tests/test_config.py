"""The config file and the environment: valid input loads, invalid input names the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import ROOT, ConfigWriter

from digestbot.config import load_config, load_settings, parse_duration
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


def test_not_yaml_or_not_a_mapping(write_config: ConfigWriter) -> None:
    """Broken YAML names the line; a list at the top level is refused clearly."""
    assert "not valid YAML (line 2)" in error_for(write_config, "digests:\n  a: b: c\n")
    assert "mapping" in error_for(write_config, "- just\n- a list\n")


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
    [("2d", timedelta(days=2)), ("36h", timedelta(hours=36)), ("1w 2d", timedelta(days=9))],
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
