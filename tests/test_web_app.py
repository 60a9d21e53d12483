"""The dashboard over real HTTP (waitress, the front door of a running bot): never open by
default, logins, sessions and CSRF, the pages, "Send now", and hostile articles kept inert."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import ConfigWriter, HurriedClock, digest_config, free_port
from fakeslack import FakeSlack

from digestbot.bot import Bot, build
from digestbot.config import load_settings

TOKEN = "dashboard-test-token-not-a-secret"
HOSTILE_TITLE = '<script>alert(1)</script>"><img src=x onerror=alert(2)> <!channel>'


@dataclass
class Browser:
    """urllib with a cookie jar, not following redirects (the tests look at them)."""

    base: str

    def __post_init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        data = urlencode(form).encode()
        return self._open(urllib.request.Request(self.base + path, data=data, method="POST"))

    def _open(self, request: urllib.request.Request) -> tuple[int, str, dict[str, str]]:
        try:
            with self.opener.open(request, timeout=10) as answer:
                return answer.status, answer.read().decode(), dict(answer.headers)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode(), dict(error.headers)

    def csrf(self, page: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def log_in(self, token: str = TOKEN) -> int:
        _, page, _ = self.get("/login")
        return self.post("/login", {"token": token, "csrf": self.csrf(page), "next": "/"})[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.fixture
def hostile(articles: Path) -> None:
    """An article whose title, excerpt and address try to run, link and mention."""
    seed = (articles / "000_5d341ca81f4b44a3.txt").read_text()
    text = (
        seed.replace("Sony’s first AI image sensor will make cameras everywhere smarter", "X")
        .replace('title: "X"', f"title: {HOSTILE_TITLE!r}")
        .replace("heat: 107", "heat: 500")
        .replace("integrated-ai-chip", "hostile")
        .replace("https://www.engadget.com/", "javascript:alert(3)//")
        .replace("https://cdn.vox-cdn.com/", "javascript:alert(4)//")
    )
    (articles / "hostile.md").write_text(text)


@pytest.fixture
def dashboard(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Bot, Browser]]:
    """A running bot with PORT and DIGESTBOT_DASHBOARD_TOKEN, and a browser for it."""
    write_config(digest_config(articles, channels=["#ai-news", "#general"]))
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-for-tests")
    monkeypatch.setenv("DIGESTBOT_DASHBOARD_TOKEN", TOKEN)
    running = build(load_settings(), printer=lambda plans: None, clock=HurriedClock())
    running.start()
    yield running, Browser(f"http://127.0.0.1:{port}")
    running.shutdown()


def test_without_a_login_way_there_is_no_dashboard(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path, monkeypatch, caplog
) -> None:
    """With neither a token nor Sign in with Slack configured, / answers 404 and `run` says
    the dashboard is off."""
    caplog.set_level("INFO")
    write_config(digest_config(articles))
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-for-tests")
    running = build(load_settings(), printer=lambda plans: None)
    running.start()
    try:
        assert Browser(f"http://127.0.0.1:{port}").get("/")[0] == 404
        assert "dashboard off" in caplog.text
    finally:
        running.shutdown()


def test_pages_need_a_session_and_a_wrong_token_is_refused(dashboard) -> None:
    """Without a session every page redirects to /login; a wrong token stays out."""
    _, browser = dashboard
    for path in ("/", "/deliveries", "/digests/ai"):
        status, _, headers = browser.get(path)
        assert status == 303 and headers["Location"] == f"/login?next={path}"
    assert browser.log_in("not-the-token") == 403
    assert browser.get("/")[0] == 303


def test_login_sets_a_safe_session_cookie_and_logout_ends_it(dashboard) -> None:
    """The session cookie is HttpOnly and SameSite=Lax; logging out clears it."""
    _, browser = dashboard
    _, page, _ = browser.get("/login")
    status, _, headers = browser.post(
        "/login", {"token": TOKEN, "csrf": browser.csrf(page), "next": "/deliveries"}
    )
    assert status == 303 and headers["Location"] == "/deliveries"
    cookie = [v for k, v in headers.items() if k == "Set-Cookie" and "session" in v]
    assert browser.get("/")[0] == 200
    [session] = [c for c in browser.jar if c.name == "digestbot_session"]
    assert session.has_nonstandard_attr("HttpOnly") and cookie
    _, page, _ = browser.get("/")
    assert browser.post("/logout", {"csrf": browser.csrf(page)})[0] == 303
    assert browser.get("/")[0] == 303


def test_a_post_without_the_csrf_token_is_refused(dashboard, slack: FakeSlack) -> None:
    """Send now without the session's CSRF token gets 403 and posts nothing."""
    _, browser = dashboard
    assert browser.log_in() == 303
    assert browser.post("/digests/ai/send", {})[0] == 403
    assert browser.post("/digests/ai/send", {"csrf": "forged"})[0] == 403
    assert browser.post("/logout", {})[0] == 403
    assert slack.posts == []


def test_login_attempts_are_limited(dashboard) -> None:
    """After ten wrong tokens from one address, even the right one waits."""
    _, browser = dashboard
    for _ in range(10):
        assert browser.log_in("wrong") == 403
    assert browser.log_in() == 429


def test_overview_shows_each_digest_its_runs_and_channels(dashboard, slack: FakeSlack) -> None:
    """The overview lists the digest, its schedule in words, three next runs, each channel's
    last delivery with a link to the message, and the sources."""
    running, browser = dashboard
    browser.log_in()
    _, page, headers = browser.get("/digests/ai")
    assert browser.post("/digests/ai/send", {"csrf": browser.csrf(page)})[0] == 303
    _, page, headers = browser.get("/")
    assert "at 09:00, every day" in page and page.count('class="next"') == 3
    assert "#ai-news" in page and "#general" in page and "delivered" in page
    assert "https://fake-workspace.slack.com/archives/" in page
    assert "articles" in page and "read in place" in page
    assert "script-src" not in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_send_now_posts_and_shows_the_outcome_per_channel(dashboard, slack: FakeSlack) -> None:
    """Send now posts the digest to each channel, then shows once how each went."""
    _, browser = dashboard
    browser.log_in()
    _, page, _ = browser.get("/digests/ai")
    status, _, headers = browser.post("/digests/ai/send", {"csrf": browser.csrf(page)})
    assert status == 303 and headers["Location"] == "/digests/ai"  # a reload sends nothing
    _, page, _ = browser.get("/digests/ai")
    assert "Sent now" in page
    assert page.count("status-delivered") == 2
    assert len(slack.messages_in("ai-news")) == 1 and len(slack.messages_in("general")) == 1
    assert "Sent now" not in browser.get("/digests/ai")[1]


def test_send_now_honours_slash_allowed_users(
    dashboard, slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> None:
    """When slash.allowed_users is set, a session that is not one of them may not post."""
    running, browser = dashboard
    data = digest_config(articles)
    data["slash"] = {"allowed_users": ["U0BOSS"]}
    write_config(data)
    running.scheduler.reload_if_changed()
    browser.log_in()
    _, page, _ = browser.get("/digests/ai")
    assert browser.post("/digests/ai/send", {"csrf": browser.csrf(page)})[0] == 403
    assert slack.posts == []


def test_a_hostile_article_is_shown_as_text(dashboard, hostile: None) -> None:
    """A title with a script, an attribute breakout and @channel, and a javascript: address,
    are shown as text: no script element, no event attribute, no javascript: link."""
    _, browser = dashboard
    browser.log_in()
    status, page, _ = browser.get("/digests/ai")
    assert status == 200
    assert "<script>" not in page and "onerror=" not in page.replace("onerror=alert", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert "javascript:" not in page.lower()  # never a link or an image (nor in the JSON: %3A)


def test_deliveries_page_through_the_history_with_filters(
    dashboard, slack: FakeSlack, articles: Path
) -> None:
    """The history is newest first, 50 a page, with a link to the older ones; filters by
    digest, channel and status; each row lists its articles."""
    running, browser = dashboard
    browser.log_in()
    for n in range(30):  # 60 deliveries: each run posts to both channels
        (articles / f"n{n}.md").write_text(
            (articles / "000_5d341ca81f4b44a3.txt")
            .read_text()
            .replace("Sony’s first AI", f"Story {n}:")
            .replace("ai-chip", f"chip-{n}")
        )
        _, page, _ = browser.get("/digests/ai")
        browser.post("/digests/ai/send", {"csrf": browser.csrf(page)})
    _, first, _ = browser.get("/deliveries")
    assert first.count("<tr>") == 51  # a header row and 50
    older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    _, second, _ = browser.get(older)
    assert second.count("<tr>") - 1 >= 10 and 'rel="next"' not in second
    _, general, _ = browser.get("/deliveries?channel=%23general&status=delivered")
    assert general.count("<td>#general</td>") == general.count("<tr>") - 1 > 0
    assert "<td>#ai-news</td>" not in general
    assert "Story 29:" in first
