"""Hostile input and careless set-ups, tried as an attacker and a careless operator would:
against a real `digestbot run` over HTTP and against real commands. Each test is one finding
of the hardening issue, fixed."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import SEEDS, BotProcess, ConfigWriter, free_port, wait_for
from fakeslack import FakeSlack
from slackrequests import SECRET, command, post, signed

from digestbot.logs import RedactingFormatter

MB = 1024 * 1024
FORGED = (
    "\n2026-11-30T00:00:00+0000 level=INFO logger=digestbot.scheduler result status='delivered'"
)


@dataclass
class Running:
    """A `digestbot run` serving /slack/events and /healthz, with its fake Slack."""

    bot: BotProcess
    fake: FakeSlack
    port: int

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.bot.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One bot for the module's HTTP findings (its stderr is checked as it goes)."""
    folder = tmp_path_factory.mktemp("hostile")
    articles = folder / "articles"
    articles.mkdir()
    for seed in SEEDS.iterdir():
        (articles / seed.name).write_bytes(seed.read_bytes())
    config = folder / "digestbot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "articles": str(articles),
                "digests": {"ai": {"topics": ["AI"], "channels": ["#ai-news"]}},
            }
        )
    )
    with FakeSlack() as fake:
        fake.add_channel("hardware")
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIGESTBOT"))},
            "DIGESTBOT_CONFIG": str(config),
            "DIGESTBOT_DATABASE_URL": f"sqlite:///{folder / 'state.db'}",
            "XDG_CACHE_HOME": str(folder / "cache"),
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_API_URL": fake.url,
            "SLACK_SIGNING_SECRET": SECRET,
            "PORT": str(port),
        }
        bot = BotProcess(env)
        assert bot.wait_for_line("http listening"), bot.err
        yield Running(bot, fake, port)
        bot.stop()


def healthz(port: int, timeout: float) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as answer:
        return answer.status


def test_a_forged_log_line_stays_one_escaped_line(running: Running) -> None:
    """An unsigned body carrying a newline and a fake log line is refused and never logged;
    a value with a newline is logged on one line, escaped."""
    body = "text=" + FORGED
    assert post(running.port, body, {})[0] == 401
    assert post(running.port, body, signed(body, secret="forged"))[0] == 401
    assert healthz(running.port, timeout=5) == 200  # the log has caught up with the requests
    assert "status='delivered'" not in running.bot.err
    formatter = RedactingFormatter([])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "title=%r", (FORGED,), None)
    assert "\n" not in formatter.format(record)
    assert 'title="\\n2026-11-30' in formatter.format(record)


def test_a_50_mb_post_gets_413_and_costs_no_memory(running: Running) -> None:
    """A body over 64 KB is refused before it is read; the process stays small."""
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as client:
        client.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Content-Length: " + str(50 * MB).encode() + b"\r\n\r\n" + b"x" * 65536
        )
        answer = client.recv(200)
    assert answer.startswith(b"HTTP/1.1 413")
    assert running.rss_kb() < 150 * 1024


def test_a_post_without_length_or_with_a_broken_body_gets_4xx_and_one_line(
    running: Running,
) -> None:
    """No Content-Length: 411. Not UTF-8, broken JSON, a bad payload=: 400 and one log line,
    no traceback."""
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as client:
        client.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert client.recv(200).startswith(b"HTTP/1.1 411")
    latin = "text=caf\xe9".encode("latin-1")
    assert post(running.port, latin, signed(latin))[0] == 400
    assert post(running.port, '{"type": ', signed('{"type": '), "application/json")[0] == 400
    bad = "payload=%7Bnot+json"
    assert post(running.port, bad, signed(bad))[0] == 400
    assert running.bot.wait_for_line("request refused", 3)
    assert "Traceback" not in running.bot.err


def test_slow_clients_leave_healthz_answering(running: Running) -> None:
    """500 connections that send half a request and stop: /healthz still answers at once."""
    hanging = []
    try:
        for _ in range(500):
            client = socket.create_connection(("127.0.0.1", running.port), timeout=5)
            client.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Len")
            hanging.append(client)
        assert healthz(running.port, timeout=2) == 200
    finally:
        for client in hanging:
            client.close()


def test_answers_go_only_to_slack_and_echo_little(running: Running) -> None:
    """A signed command whose response_url is not Slack's gets nothing posted anywhere; a huge
    unknown name is quoted back cut short."""
    with FakeSlack() as stranger:
        stranger.add_channel("hardware")
        body = command(running.fake, "ai", response_url=stranger.response_url("steal"))
        assert post(running.port, body, signed(body))[0] == 200
        assert running.bot.wait_for_line("its response_url is not Slack's")
        assert stranger.responses == [] and running.fake.posts == []
    long = "x" * 30_000
    body = command(running.fake, long)
    assert post(running.port, body, signed(body))[0] == 200
    assert wait_for(lambda: running.fake.responses)
    [answer] = running.fake.responses
    assert "There is no digest called" in answer["text"] and len(answer["text"]) < 400


def test_a_huge_sparse_article_is_skipped_quickly_and_remembered(
    write_config: ConfigWriter, articles: Path, cli
) -> None:
    """A 2 GB file is skipped with its size, read through a bounded prefix, by a small
    process; the index remembers it, so the next check does not read it again."""
    huge = articles / "huge.md"
    with huge.open("wb") as file:
        file.write(b"---\ntitle: big\nexcerpt: '")
        file.truncate(2 * 1024 * MB)
    write_config()
    code, out, err, peak_kb = measured("check")
    assert code == 0, err
    assert "warning: skipped huge.md: front matter larger than 1.0 MB (the file is 2.0 GB)" in err
    assert peak_kb < 150 * 1024
    again = cli("-v", "check")
    assert "index refreshed" not in again.err  # nothing new or changed: not read again


def measured(*args: str) -> tuple[int, str, str, int]:
    """`digestbot ARGS` in a child process: exit code, stdout, stderr, peak memory (KB)."""
    probe = (
        "import resource, sys\n"
        "from digestbot.cli import main\n"
        "try:\n    code = main(sys.argv[1:])\n"
        "finally:\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    print(f'PEAK={peak}', file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60
    )
    peak = int(re.search(r"PEAK=(\d+)", done.stderr).group(1))  # type: ignore[union-attr]
    return done.returncode, done.stdout, done.stderr, peak


def test_symlink_loops_and_links_outside_are_skipped(
    write_config: ConfigWriter, articles: Path, tmp_path: Path, cli
) -> None:
    """Two links to `.` do not make the walk endless, and a folder or file elsewhere never
    joins the digest: each link is skipped with its reason."""
    (articles / "loop").symlink_to(".")
    (articles / "again").symlink_to(articles)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text((SEEDS / "000_5d341ca81f4b44a3.txt").read_text())
    (articles / "elsewhere").symlink_to(outside)
    (articles / "secret.md").symlink_to(outside / "secret.md")
    write_config()
    result = cli("check")
    assert result.code == 0
    assert "2 articles" in result.out
    assert "skipped loop: a link to a folder: links to folders are not followed" in result.err
    assert "skipped elsewhere: a link to a folder" in result.err
    assert "skipped secret.md: a link to a file outside the articles folder" in result.err


def test_a_raw_at_in_the_database_password_never_shows(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    """A password with raw @ and : makes every command fail naming the variable, never
    showing the password or a piece of it, with --debug too."""
    write_config()
    monkeypatch.setenv("DIGESTBOT_DATABASE_URL", "postgresql://u:p@ss:SECRETPART@host/db")
    for args in (("send", "--dry-run"), ("status",), ("--debug", "status"), ("preview",)):
        result = cli(*args)
        assert "SECRETPART" not in result.out + result.err, args
        if args != ("preview",):  # a preview with no ledger yet reads none
            assert "DIGESTBOT_DATABASE_URL (or DATABASE_URL) is not a valid" in result.err


def test_debug_tracebacks_show_no_token(write_config: ConfigWriter, cli) -> None:
    """With --debug, a token pasted into the config stays out of the traceback."""
    token = "xoxb-not-a-real-token-pasted-into-the-config"
    write_config({"articles": ".", "token": token, "digests": {"a": {"topics": 5}}})
    result = cli("--debug", "check")
    assert result.code == 1 and "Traceback" in result.err
    assert token not in result.err and "pasted-into-the-config" not in result.err


def test_names_and_text_reach_the_terminal_inert(
    write_config: ConfigWriter, articles: Path, cli
) -> None:
    """A file name with a newline stays on one line; escape sequences in a title are shown
    escaped, never sent to the terminal."""
    (articles / "x\nwarning: skipped all.md").write_text("not an article")
    seed = (articles / "000_5d341ca81f4b44a3.txt").read_text()
    (articles / "ansi.md").write_text(
        # YAML's own escapes: a raw control character is not valid YAML.
        seed.replace("Sony’s first AI", "\\x1b[2J\\e[31mRed").replace("ai-chip", "ansi")
    )
    write_config()
    check = cli("check")
    lines = check.err.splitlines()
    assert any("skipped x\\nwarning: skipped all.md" in line for line in lines)
    assert not any(line.startswith("warning: skipped all.md") for line in lines)
    preview = cli("preview")
    assert "\x1b" not in preview.out and "Red image sensor" in preview.out


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("topics", [["AI"]]),
        ("channels", [{"a": 1}]),
        ("schedule", 5),
        ("timezone", ["UTC"]),
        ("top", "lots"),
        ("max_age", [1]),
        ("title", {"x": 1}),
        ("sources", "articles"),
    ],
)
def test_a_value_of_the_wrong_shape_names_its_key(
    write_config: ConfigWriter, cli, key: str, value: object
) -> None:
    """`topics: [[AI]]` and every other misshapen value is an error naming its key."""
    write_config(
        {"articles": ".", "digests": {"ai": {"topics": ["AI"], "channels": ["#a"], key: value}}}
    )
    result = cli("check")
    assert result.code == 1 and f"digests.ai.{key}" in result.err
    assert "unexpected" not in result.err


def test_misshapen_top_level_and_source_values_name_their_key(
    write_config: ConfigWriter, cli
) -> None:
    """Wrong shapes at the top level and under sources are errors naming the key, too."""
    digest = {"ai": {"topics": ["AI"], "channels": ["#a"]}}
    for data, key in [
        ({"articles": ["."], "digests": digest}, "articles"),
        ({"articles": ".", "timezone": 3, "digests": digest}, "timezone"),
        ({"articles": ".", "max_front_matter": "huge", "digests": digest}, "max_front_matter"),
        ({"sources": {"s": {"feed": ["x"]}}, "digests": digest}, "sources.s.feed"),
        ({"sources": {"s": ["x"]}, "digests": digest}, "sources.s"),
        ({"articles": ".", "slash": {"allowed_users": "U1"}, "digests": digest}, "slash"),
    ]:
        write_config(data)
        result = cli("check")
        assert result.code == 1 and key in result.err, (data, result.err)
        assert "unexpected" not in result.err
