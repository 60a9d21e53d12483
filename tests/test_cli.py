"""The command line: preview and check on the seeds, hostile files and the real corpus."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FEEDS, FIXTURES, ROOT, ConfigWriter, copy_sony
from fakeslack import validate_blocks

from digestbot.cli import COMMANDS, build_parser
from digestbot.terminal import ProgressBar

SONY_TITLE = "Sony’s first AI image sensor will make cameras everywhere smarter"


def test_preview_shows_the_seed_digest(write_config: ConfigWriter, cli) -> None:
    """The seed digest shows the Sony article with image, provider, excerpt and related links."""
    write_config()
    result = cli("preview")
    assert result.code == 0, result.err
    out = result.out
    assert "── ai-daily → #ai-news · message 1 of 1 ──" in out
    assert SONY_TITLE in out and "[image] https://cdn.vox-cdn.com/" in out
    assert "The Verge · 14 May 2020" in out and "Sony’s new image sensor could" in out
    assert "engadget.com" in out and "inews.co.uk" in out
    assert "TechSpot" not in out and "techspot" not in out
    assert "Block Kit Builder: https://app.slack.com/block-kit-builder/#" in out


def test_preview_json_is_post_message_arguments(write_config: ConfigWriter, cli) -> None:
    """--json prints one array of chat.postMessage arguments, channel as configured."""
    write_config()
    result = cli("preview", "--json", "ai-daily", "--as-of", "2020-05-15T09:00")
    posts = json.loads(result.out)
    assert [post["channel"] for post in posts] == ["#ai-news"]
    post = posts[0]
    assert post["unfurl_links"] is False and post["unfurl_media"] is False
    assert post["text"].startswith("AI daily, 15 May 2020: 1 article")
    assert "thread" not in post
    assert "Friday, 15 May 2020" in json.dumps(post["blocks"], ensure_ascii=False)
    validate_blocks(post["blocks"])


def test_preview_records_nothing(write_config: ConfigWriter, cli, tmp_path: Path) -> None:
    """Preview creates no state store."""
    write_config()
    assert cli("preview").code == 0
    assert not (tmp_path / "digestbot.db").exists()


def test_preview_with_thread_continuation(write_config: ConfigWriter, cli, articles: Path) -> None:
    """A digest too long for one message marks its continuation with "thread": true."""
    copy_sony(articles, 40)
    write_config(
        {
            "articles": str(articles),
            "digests": {"big": {"topics": ["AI"], "channels": ["#a", "C024BE91L"], "top": 41}},
        }
    )
    posts = json.loads(cli("preview", "--json").out)
    for channel in ("#a", "C024BE91L"):
        first, *replies = [post for post in posts if post["channel"] == channel]
        assert "thread" not in first
        assert replies and all(reply["thread"] is True for reply in replies)


def test_preview_warns_about_skipped_files(write_config: ConfigWriter, cli, articles: Path) -> None:
    """Broken files are named on stderr with their reason; the digest still comes out."""
    shutil.copytree(FIXTURES / "hostile", articles / "hostile")
    write_config()
    result = cli("preview")
    assert result.code == 0
    assert "warning: skipped hostile/broken-yaml.md: invalid YAML" in result.err
    assert "warning: skipped hostile/latin1.md: not UTF-8" in result.err
    assert SONY_TITLE in result.out


def test_unknown_digest_is_an_error(write_config: ConfigWriter, cli) -> None:
    """Naming a digest that does not exist lists the configured ones."""
    write_config()
    result = cli("preview", "nope")
    assert result.code == 1
    assert result.err.strip() == "error: no digest called nope (configured: ai-daily)"


def test_check_lists_skipped_files_and_exits_zero(
    write_config: ConfigWriter, cli, articles: Path
) -> None:
    """check validates the config, reads every file, and lists what it skipped."""
    shutil.copytree(FIXTURES / "hostile", articles / "hostile")
    write_config()
    result = cli("check")
    assert result.code == 0
    assert "valid, 1 digest(s)" in result.out
    assert "ai-daily: AI, AI Hardware -> #ai-news (by hand only, UTC)" in result.out
    assert "11 files, 6 articles, 5 skipped" in result.out
    assert "skipped hostile/list.md: the front matter is not a mapping" in result.err


def test_check_fails_on_a_bad_config(write_config: ConfigWriter, cli) -> None:
    """An invalid config exits non-zero with one line naming the key, no traceback."""
    write_config("articles: .\ndigests:\n  ai:\n    topics: [AI]\n    channels: []\n")
    result = cli("check")
    assert result.code == 1
    assert "digests.ai.channels: List should have at least 1 item" in result.err
    assert "Traceback" not in result.err and result.err.count("\n") == 1


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """Each command's --help explains it and shows an example."""
    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        out = capsys.readouterr().out
        assert "Example: digestbot " + name in out, name


def test_the_command_list_gives_each_a_whole_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    """`digestbot --help` sums each command up in a sentence that ends, not one cut mid-way."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    listing = capsys.readouterr().out.partition("COMMAND\n")[2].partition("\noptions:")[0]
    # Each entry starts at four spaces and the command's name; its lines wrap deeper.
    entries = re.split(r"\n(?=    \S)", listing.strip("\n"))
    assert [entry.split()[0] for entry in entries] == list(COMMANDS)
    for entry in entries:
        assert entry.rstrip().endswith("."), entry


@pytest.mark.parametrize(
    ("argv", "verbose", "debug"),
    [
        (["preview"], False, False),
        (["-v", "preview"], True, False),
        (["preview", "-v"], True, False),
        (["preview", "--verbose", "--debug"], True, True),
        (["--debug", "preview", "-v"], True, True),
    ],
)
def test_logging_options_go_before_or_after_the_command(
    argv: list[str], verbose: bool, debug: bool
) -> None:
    """`-v` and `--debug` work on either side of the command; one side never unsets the other."""
    args = build_parser().parse_args(argv)
    assert (args.verbose, args.debug) == (verbose, debug)


def test_python_m_digestbot_runs(write_config: ConfigWriter) -> None:
    """`python -m digestbot` is the same command, in a real process."""
    write_config()
    result = subprocess.run(
        [sys.executable, "-m", "digestbot", "preview", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["channel"] == "#ai-news"


@pytest.mark.corpus
@pytest.mark.parametrize("feed", FEEDS)
def test_corpus_preview_gives_blocks_a_strict_slack_accepts(
    corpus: Path, feed: str, write_config: ConfigWriter, cli
) -> None:
    """preview --json over each real feed yields messages that pass Slack's block rules."""
    roots = {
        "azure": "Azure",
        "diablo4": "Diablo 4",
        "powerapps": "Power Apps",
        "powerapps-2021": "Power Apps",
    }
    topics = [roots[feed], "AI", "Databases", "Security", "Storage", "IoT"]
    write_config(
        {
            "articles": str(corpus / feed),
            "digests": {feed: {"topics": topics, "channels": ["#news"], "top": 10}},
        }
    )
    result = cli("preview", "--json")
    assert result.code == 0, result.err
    posts = json.loads(result.out)
    assert posts, f"{feed}: no digest"
    for post in posts:
        validate_blocks(post["blocks"])
        assert 0 < len(post["text"]) <= 3000


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only() -> None:
    """Indexing a large feed shows a bar on a terminal and nothing in a pipe or a log."""
    screen = Terminal()
    bar = ProgressBar("Indexing articles", stream=screen)
    for done in range(1, 1001):
        bar(done, 1000)
    drawn = screen.getvalue()
    assert drawn.startswith("\rIndexing articles [")
    assert drawn.endswith("] 1000/1000\n") and "#" * 30 in drawn
    piped = io.StringIO()
    ProgressBar("Indexing articles", stream=piped)(500, 1000)
    assert piped.getvalue() == ""
    small = Terminal()
    ProgressBar("Indexing articles", stream=small)(5, 10)
    assert small.getvalue() == ""


@pytest.mark.parametrize(
    ("as_of", "reason"),
    [
        ("tomorrow", "'tomorrow' is not a date and time; write it like 2026-11-23T09:00+01:00"),
        ("9999-12-31T23:59", "'9999-12-31T23:59' is too close to the calendar's first or last"),
        ("0001-01-01T00:00", "'0001-01-01T00:00' is too close to the calendar's first or last"),
        # 100 years (the longest max_age) before it would leave the calendar
        ("0100-12-01T00:00", "'0100-12-01T00:00' is too close to the calendar's first or last"),
    ],
)
@pytest.mark.parametrize("command", [["preview"], ["send", "--dry-run"], ["next", "ai-daily"]])
def test_a_wrong_as_of_is_a_usage_error(
    write_config: ConfigWriter, cli, command: list[str], as_of: str, reason: str
) -> None:
    """--as-of must be a moment every timezone can show: a usage error (exit 2) naming the
    option, not a crash."""
    write_config()
    result = cli(*command, "--as-of", as_of)
    assert result.code == 2
    assert f"error: argument --as-of: {reason}" in result.err
    assert "unexpected" not in result.err


@pytest.mark.parametrize("channel", ["", "  ", "#a b"])
def test_a_channel_that_cannot_be_one_is_a_usage_error(
    write_config: ConfigWriter, cli, channel: str
) -> None:
    """`send --channel` refuses what the config refuses, before asking Slack."""
    write_config()
    result = cli("send", "--dry-run", "--channel", channel)
    assert result.code == 2
    assert f"error: argument --channel: {channel!r} is not a channel name or ID" in result.err
