"""The dashboard in a real browser: Playwright for Python drives Debian's Chromium against a
running bot (its waitress front door) and the fake Slack, whose `openid.connect.*` pages make
Sign in with Slack work end to end. Both login ways, the overview, a digest as Slack draws it
(with a hostile article kept inert), "Send now", the history page by page, logging out, CSRF,
phone width, and the screenshots of docs/screenshots/.

The network is closed: every request that does not go to 127.0.0.1 is answered by the test
(images with a grey placeholder, anything else refused), so nothing waits for the internet.
One Chromium serves the module (`browser`); each test has a fresh browser context (no shared
cookies).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import pytest
from browser import DESKTOP, Tab
from conftest import CORPUS, ROOT, ConfigWriter, free_port, wait_for
from fakeslack import TEAM_ID, USER_ID, FakeSlack
from fakeslack.workspace import USER_NAME

from digestbot.bot import Bot, build
from digestbot.config import load_settings
from digestbot.ledger import ClaimPlan, ClaimStatus

pytestmark = pytest.mark.slow  # Chromium

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)"
)
expect = sync_api.expect
if TYPE_CHECKING:
    from playwright.sync_api import Page

TOKEN = "dashboard-browser-test-token"
REDIRECT = "/slack/oidc_redirect"  # where Slack sends the browser back to the dashboard
PHONE = {"width": 375, "height": 812}
SCREENSHOTS = ROOT / "docs" / "screenshots"
# What a hostile article tries: each would set window.__xss (or open a dialog) if it ran.
HOSTILE_TITLE = "<script>window.__xss=1</script>"
HOSTILE_EXCERPT = (
    '<img src=x onerror="window.__xss=2"> "><svg onload=alert(2)> '
    "<javascript:window.__xss=3|click me> <!channel> hello"
)
SCRIPT_URLS = (
    "javascript:window.__xss=4",
    "JaVaScRiPt:alert(5)",
    " javascript:alert(6)",
    "java\tscript:alert(7)",
    "data:text/html,<script>alert(8)</script>",
    "vbscript:alert(9)",
)


# --- The running bot ---------------------------------------------------------------------------


@dataclass
class Site:
    """A running bot with the dashboard (token and Sign in with Slack) and its fake Slack."""

    bot: Bot
    fake: FakeSlack
    url: str

    def log_in(self, page: Page, start: str = "/") -> None:
        """Log in with the token in the address (as `digestbot dashboard` prints it) and go to
        `start`: one navigation, for the tests about something else than the login form."""
        page.goto(f"{self.url}/login?{urlencode({'token': TOKEN, 'next': start})}")
        assert page.url == self.url + start


Serve = Callable[..., Site]


def seeds_config(articles: Path, **extra: Any) -> dict[str, Any]:
    """The seeds in one digest for #ai-news and #general, daily at 09:00 UTC, not caught up."""
    digest = {
        "title": "AI daily",
        "topics": ["AI"],
        "channels": ["#ai-news", "#general"],
        "schedule": "0 9 * * *",
        "catch_up": "0s",  # started just after 09:00, the bot would post the run it missed
    }
    return {"articles": str(articles), "digests": {"ai": digest}, **extra}


def azure_config(corpus: Path) -> dict[str, Any]:
    """The azure corpus in a weekly digest on AI, Security and Databases for #azure."""
    digest = {
        "title": "Azure weekly",
        "topics": ["AI", "Security", "Databases"],
        "channels": ["#azure"],
        "schedule": "0 8 * * mon",
        "catch_up": "0s",  # started on a Monday just after 08:00, it would post the week's run
        "top": 3,
    }
    return {"sources": {"azure": {"folder": str(corpus / "azure")}}, "digests": {"azure": digest}}


@pytest.fixture
def serve(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Serve]:
    """Start the bot on a config (the seeds' by default) with PORT, the dashboard token and
    the fake's client credentials, as `digestbot run` would; stopped after the test."""
    started: list[Bot] = []

    def start(config: dict[str, Any] | None = None) -> Site:
        write_config(config or seeds_config(articles))
        port = free_port()
        monkeypatch.setenv("PORT", str(port))
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-for-tests")
        monkeypatch.setenv("DIGESTBOT_DASHBOARD_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_CLIENT_ID", slack.client_id)
        monkeypatch.setenv("SLACK_CLIENT_SECRET", slack.client_secret)
        bot = build(load_settings(), printer=lambda plans: None)
        started.append(bot)
        bot.start()
        return Site(bot, slack, f"http://127.0.0.1:{port}")

    yield start
    for bot in started:
        bot.shutdown()


@pytest.fixture
def azure(corpus: Path) -> Path:
    """../shared/corpus with the azure feed (or skip), its index cached for the worker."""
    if not (corpus / "azure").is_dir():
        pytest.skip("../shared/corpus/azure is absent")
    return corpus


def hostile_article(folder: Path) -> None:
    """An article on AI, the hottest, whose title, excerpt, links and images try to run."""
    related = "".join(
        f'  - title: "Related {n}"\n    webUrl: {json.dumps(url)}\n'
        f"    provider:\n      name: Evil {n}\n"
        for n, url in enumerate(SCRIPT_URLS)
    )
    provider_image = SCRIPT_URLS[0]
    (folder / "hostile.md").write_text(
        "---\n"
        f"title: {json.dumps(HOSTILE_TITLE)}\n"
        f"excerpt: {json.dumps(HOSTILE_EXCERPT)}\n"
        "publishedDateTime: 2020-05-14T12:00:00Z\n"
        'webUrl: "https://example.com/hostile"\n'
        "heat: 500\nquality: 90\npublished: true\n"
        f"provider:\n  name: Hostile\n  images:\n    - url: {json.dumps(provider_image)}\n"
        "topics:\n  - AI\n"
        f"images:\n  - url: {json.dumps(SCRIPT_URLS[1])}\n    title: {json.dumps(HOSTILE_TITLE)}\n"
        f"related:\n{related}"
        "---\n",
        encoding="utf-8",
    )


def record_delivery(
    site: Site,
    run: str,
    channel: str,
    links: list[tuple[str, str]],
    error: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Write a finished delivery into the running bot's ledger, as `Send now` would: a message
    of one headline (`*<url|title>*`, escaped as compose escapes it) per article; delivered,
    or failed with `error`."""
    ledger = site.bot.service.ledger
    assert ledger is not None
    escaped = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"}
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*<{url}|{title.translate(escaped)}>*"},
        }
        for url, title in links
    ] + (blocks or [])
    plan = ClaimPlan(channel, [{"text": "digest", "blocks": blocks}], [links])
    [(claim, _)] = ledger.claim_all(run, "ai", {channel: plan}).values()
    assert claim is not None
    status = ClaimStatus.FAILED if error else ClaimStatus.DELIVERED
    ledger.finish(claim, status, error=error)


def no_page_overflow(page: Page) -> bool:
    """Whether the page fits its viewport's width (no sideways scrolling of the whole page)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def load_images(page: Page) -> None:
    """Bring every (lazy) image into view until all have loaded, then go back to the top."""
    page.evaluate("document.querySelectorAll('img').forEach((img) => img.scrollIntoView())")
    # Polled from here: wait_for_function polls by eval, which the pages' CSP forbids.
    assert wait_for(lambda: page.evaluate("[...document.images].every((img) => img.complete)"))
    page.evaluate("window.scrollTo(0, 0)")


# --- Logging in and out ------------------------------------------------------------------------


def test_token_login_redirects_refuses_a_wrong_token_and_logs_out(serve: Serve, open_tab) -> None:
    """No session: /login; a wrong token: 403; the right one: back to the page; Log out ends it."""
    site, tab = serve(), open_tab()
    page = tab.page
    page.goto(site.url + "/deliveries")
    assert page.url == site.url + "/login?next=/deliveries"
    assert page.locator("h1").inner_text() == "Log in to digestbot"
    assert page.locator("header nav").count() == 0
    page.fill("#token", "not-the-token")
    with page.expect_response(site.url + "/login") as answer:
        page.click("button:has-text('Log in')")
    assert answer.value.status == 403
    assert "that token is not right" in page.locator(".problem").inner_text()
    page.goto(site.url + "/")
    assert page.url == site.url + "/login?next=/"

    page.goto(site.url + "/login?next=/deliveries")
    page.fill("#token", TOKEN)
    page.click("button:has-text('Log in')")
    assert page.url == site.url + "/deliveries"
    assert page.locator("h1").inner_text() == "Deliveries"
    assert page.locator("header .who").inner_text() == "dashboard token"
    [cookie] = [c for c in tab.context.cookies() if c["name"] == "digestbot_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "digestbot_session" not in page.evaluate("document.cookie")

    page.click("header button:has-text('Log out')")
    assert page.url == site.url + "/login"
    page.goto(site.url + "/digests/ai")
    assert page.url == site.url + "/login?next=/digests/ai"
    assert not [c for c in tab.context.cookies() if c["name"] == "digestbot_session"]


def test_sign_in_with_slack_lets_a_member_of_the_workspace_in(serve: Serve, open_tab) -> None:
    """Sign in with Slack (the fake's openid.connect.*) lets a member in, on the page asked for."""
    site, tab = serve(), open_tab()
    page = tab.page
    page.goto(site.url + "/deliveries")
    page.click("text=Sign in with Slack")
    page.wait_for_url(site.url + "/deliveries")
    assert page.locator("header .who").inner_text() == USER_NAME
    flows = [call["method"] for call in site.fake.oauth_calls]
    assert flows == [
        "openid/connect/authorize",
        "openid.connect.token",
        "openid.connect.userInfo",
    ]
    page.goto(site.url + "/")
    assert page.locator("h1").first.inner_text() == "Digests"


def test_sign_in_with_slack_refuses_another_workspace(serve: Serve, open_tab) -> None:
    """Someone of another workspace, or who cancels at Slack, is refused (403), with no session."""
    site, tab = serve(), open_tab()
    site.fake.add_workspace("T0002", "Other Team")
    site.fake.add_user("T0002", "U0BOB", "Bob Builder", "bob@other.example")
    site.fake.sign_in_as("U0BOB", "T0002")
    page = tab.page
    page.goto(site.url + "/login")
    with page.expect_response(lambda answer: urlsplit(answer.url).path == REDIRECT) as back:
        page.click("text=Sign in with Slack")
    assert back.value.status == 403
    assert "only members of the bot's own workspace" in page.locator(".problem").inner_text()
    site.fake.sign_in_as(USER_ID, TEAM_ID)
    site.fake.deny_next_authorize()
    page.click("text=Sign in with Slack")
    page.wait_for_selector(".problem:has-text('Slack did not sign you in')")
    page.goto(site.url + "/")
    assert page.url == site.url + "/login?next=/"
    assert not [c for c in tab.context.cookies() if c["name"] == "digestbot_session"]


def test_sign_in_with_slack_honours_dashboard_allowed_users(
    serve: Serve, open_tab, articles: Path
) -> None:
    """With dashboard.allowed_users, only the listed members of the workspace get in."""
    site = serve(seeds_config(articles, dashboard={"allowed_users": ["U0CAROL"]}))
    site.fake.add_user(TEAM_ID, "U0CAROL", "Carol Listed", "carol@fake-workspace.example")
    page = open_tab().page
    page.goto(site.url + "/login")
    page.click("text=Sign in with Slack")
    problem = page.locator(".problem")
    assert "you are not among dashboard.allowed_users" in problem.inner_text()
    site.fake.sign_in_as("U0CAROL", TEAM_ID)
    page.click("text=Sign in with Slack")
    page.wait_for_url(site.url + "/")
    assert page.locator("header .who").inner_text() == "Carol Listed"


def test_dashboard_allowed_users_edited_live_applies_to_the_next_sign_in(
    serve: Serve, open_tab, articles: Path, write_config: ConfigWriter
) -> None:
    """A live edit of dashboard.allowed_users decides the next Sign in with Slack."""
    site = serve(seeds_config(articles, dashboard={"allowed_users": [USER_ID]}))
    write_config(seeds_config(articles, dashboard={"allowed_users": ["U0CAROL"]}))
    site.bot.scheduler.reload_if_changed()
    assert site.bot.service.config.dashboard.allowed_users == ["U0CAROL"]
    page = open_tab().page
    page.goto(site.url + "/login")
    page.click("text=Sign in with Slack")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == REDIRECT  # refused there, not let in


def test_a_post_without_the_csrf_token_is_refused(serve: Serve, open_tab) -> None:
    """A POST without the session's CSRF token, or with a forged one, gets 403, posts nothing."""
    site, tab = serve(), open_tab()
    page = tab.page
    site.log_in(page, start="/digests/ai")
    page.evaluate("document.querySelector('main form input[name=csrf]').remove()")
    with page.expect_response(site.url + "/digests/ai/send") as answer:
        page.click("text=Send now")
    assert answer.value.status == 403
    assert page.locator("h1").inner_text() == "Refused"
    assert "no CSRF token" in page.locator("main p").first.inner_text()
    page.goto(site.url + "/digests/ai")
    page.evaluate("document.querySelector('main form input[name=csrf]').value = 'forged'")
    with page.expect_response(site.url + "/digests/ai/send") as answer:
        page.click("text=Send now")
    assert answer.value.status == 403
    bare = tab.context.request.post(site.url + "/logout", form={}, max_redirects=0)
    assert bare.status == 403
    assert site.fake.posts == []


# --- The pages ---------------------------------------------------------------------------------


def test_overview_shows_the_digest_its_runs_channels_and_health(serve: Serve, open_tab) -> None:
    """The overview shows the digest, its schedule, next runs, channels, scheduler and sources."""
    site, tab = serve(), open_tab()
    page = tab.page
    site.log_in(page)
    card = page.locator("#digest-ai")
    assert card.locator("h2 a").inner_text() == "AI daily"
    assert card.locator("h2 a").get_attribute("href") == "/digests/ai"
    facts = card.locator(".facts").inner_text()
    assert "AI" in facts and "articles" in facts and "at 09:00, every day" in facts
    assert card.locator(".next").count() == 3
    rows = card.locator("table.channels tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").first.inner_text() == "#ai-news"
    assert rows.nth(1).locator("td").first.inner_text() == "#general"
    assert card.locator(".status-never-delivered").count() == 2
    assert page.locator("text=running").count() == 1
    assert page.locator("table.sources").inner_text().count("read in place") == 1
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # styled ('self')
    assert tab.dialogs == [] and tab.outside == [] and tab.errors == []


def test_digest_preview_looks_like_slack_and_send_now_shows_the_outcome(
    serve: Serve, open_tab
) -> None:
    """A digest is drawn as Slack draws it; Send now posts it and shows each channel's outcome."""
    site, tab = serve(), open_tab()
    page = tab.page
    site.log_in(page)
    page.click("#digest-ai h2 a")
    assert page.url == site.url + "/digests/ai"
    previews = page.locator("section.preview")
    assert previews.count() == 2
    assert previews.nth(0).locator("h2").inner_text() == "#ai-news"
    message = previews.nth(0).locator(".slack-message")
    assert message.locator(".slack-header").inner_text() == "AI daily"
    headline = message.locator("a.slack-link").first
    assert "Sony’s first AI image sensor" in headline.inner_text()
    assert headline.get_attribute("href").startswith("https://www.theverge.com/")
    assert headline.get_attribute("target") == "_blank"
    assert message.locator(".slack-context").count() >= 1
    assert message.locator("img.slack-accessory-image").count() == 1
    assert message.locator("img.slack-context-image").count() == 1
    style = "(e, name) => getComputedStyle(e)[name]"
    assert message.locator(".slack-header").evaluate(style, "fontWeight") == "900"
    assert message.evaluate(style, "borderLeftWidth") == "3px"
    assert tab.errors == []  # no CSP violation, nothing failed to load
    assert "Block Kit Builder" in previews.nth(0).locator(".tools a").inner_text()
    assert page.locator("button:has-text('Send now')").is_enabled()

    page.click("text=Send now")
    outcome = page.locator("section.outcomes")
    assert outcome.locator("h2").inner_text() == "Sent now"
    items = outcome.locator("li")
    expect(items).to_have_count(2)
    assert items.nth(0).inner_text().startswith("#ai-news: delivered")
    assert items.nth(1).inner_text().startswith("#general: delivered")
    assert len(site.fake.messages_in("ai-news")) == 1
    assert len(site.fake.messages_in("general")) == 1
    assert page.locator("text=Nothing to post").count() == 2  # each has had everything now

    page.click("header nav >> text=Overview")
    card = page.locator("#digest-ai")
    expect(card.locator(".status-delivered")).to_have_count(2)
    link = card.locator("table.channels a").first.get_attribute("href")
    assert link.startswith("https://fake-workspace.slack.com/archives/")


def assert_inert(tab: Tab) -> None:
    """Nothing on the page ran or can run: no dialog, window.__xss unset, no script element,
    no event attribute, and every link and image is http(s) (never javascript: or data:)."""
    page = tab.page
    assert page.evaluate("window.__xss") is None
    assert tab.dialogs == []
    assert page.locator("script").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator("[href^='data:' i], [src^='data:' i]").count() == 0
    protocols = page.evaluate(
        "[...document.links, ...document.images].map((e) => new URL(e.href || e.src).protocol)"
    )
    assert protocols and set(protocols) <= {"http:", "https:"}
    assert not page.evaluate(
        "[...document.querySelectorAll('*')].some((e) => [...e.attributes].some("
        "(a) => a.name.startsWith('on')))"
    )


def test_a_hostile_article_runs_no_script_and_links_nothing_but_http(
    serve: Serve, open_tab, articles: Path
) -> None:
    """A hostile article runs no script and links only http(s), in the preview and the history."""
    hostile_article(articles)
    site, tab = serve(), open_tab()
    page = tab.page
    site.log_in(page)
    answer = page.goto(site.url + "/digests/ai")
    assert answer is not None and answer.status == 200
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp
    message = page.locator("section.preview").first.locator(".slack-message")
    assert message.locator("a.slack-link").first.inner_text() == HOSTILE_TITLE  # as text
    shown = message.inner_text()  # (its underscores may be italics, as in Slack)
    assert '<img src=x onerror="window.' in shown and '"><svg onload=alert(2)>' in shown
    assert "<javascript:window." in shown and "|click me> <!channel> hello" in shown
    assert message.locator(".slack-broadcast").count() == 0  # <!channel> stays text
    assert_inert(tab)
    page.locator("details summary").first.click()  # the JSON, opened, is text as well
    assert_inert(tab)
    # The policy at work: a script element added to the page does not run.
    ran = page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = "
        "'window.__inline = 1'; document.body.append(s); return window.__inline }"
    )
    assert ran is None

    # A delivery whose stored message links to javascript: (the ledger is not trusted either).
    links = [("javascript:window.__xss=5", "Click me"), ("https://example.com/x", HOSTILE_TITLE)]
    image = {"type": "image", "image_url": SCRIPT_URLS[0], "alt_text": "x"}
    record_delivery(site, "manual:hostile", "#general", links, HOSTILE_TITLE, [image])
    page.goto(site.url + "/deliveries")
    row = page.locator("table.deliveries tbody tr")
    row.locator("summary").click()
    assert row.locator("details li a").inner_text() == HOSTILE_TITLE
    assert row.locator(".reason").inner_text() == HOSTILE_TITLE
    assert_inert(tab)


def test_deliveries_page_through_the_history_and_filter(serve: Serve, open_tab) -> None:
    """The history pages 50 at a time, newest first, losing none; it filters by status, channel."""
    site, tab = serve(), open_tab()
    for n in range(62):
        error = "the bot is not in #ai-news" if n == 7 else None
        story = [(f"https://example.com/story-{n}", f"Story {n}")]
        record_delivery(site, f"manual:{n:03}", "#ai-news" if n % 2 else "#general", story, error)
    page = tab.page
    site.log_in(page, start="/deliveries")
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        rows = page.locator("table.deliveries tbody tr")
        titles = "els => els.map((e) => e.textContent)"
        seen += page.eval_on_selector_all("table.deliveries details li a", titles)
        older = page.locator("a[rel=next]")
        if not older.count():
            break
        assert rows.count() == 50
        older.click()
        page.wait_for_load_state()
    assert pages == 2
    assert seen == [f"Story {n}" for n in reversed(range(62))]
    first = rows.first
    assert not first.locator("details li a").is_visible()
    first.locator("summary").click()
    assert first.locator("details li a").is_visible()
    assert first.locator("details li a").get_attribute("href") == "https://example.com/story-11"

    page.select_option("select[name=status]", "failed")
    page.click("text=Filter")
    page.wait_for_url("**status=failed")
    rows = page.locator("table.deliveries tbody tr")
    expect(rows).to_have_count(1)
    assert "Story 7" in rows.text_content() and "the bot is not in #ai-news" in rows.inner_text()
    page.select_option("select[name=status]", "")
    page.fill("input[name=channel]", "#ai-news")
    page.click("text=Filter")
    page.wait_for_url("**channel=%23ai-news**")
    channels = page.locator("table.deliveries tbody tr td:nth-child(3)")
    expect(channels).to_have_count(31)
    assert set(channels.all_inner_texts()) == {"#ai-news"}


def test_pages_fit_a_phone(serve: Serve, open_tab) -> None:
    """At 375 px the login page, overview, a digest and the history fit: no sideways scrolling."""
    site = serve()
    tab = open_tab(PHONE, is_mobile=True, has_touch=True)
    page = tab.page
    page.goto(site.url + "/login")
    assert no_page_overflow(page)
    site.log_in(page)
    for path in ("/", "/digests/ai", "/deliveries"):
        page.goto(site.url + path)
        assert no_page_overflow(page), path
        assert page.locator("header nav").is_visible()
        assert page.locator("header button:has-text('Log out')").is_visible()
    page.goto(site.url + "/digests/ai")
    page.click("text=Send now")
    assert page.locator("section.outcomes").is_visible() and no_page_overflow(page)


def test_a_phone_shows_each_delivery_status_and_each_source_state(serve: Serve, open_tab) -> None:
    """At 375 px the history shows each delivery's status and the overview each source's state."""
    site = serve()
    record_delivery(site, "manual:1", "#general", [("https://example.com/1", "One")], "archived")
    page = open_tab(PHONE, is_mobile=True, has_touch=True).page
    site.log_in(page, start="/deliveries")
    assert page.locator("table.deliveries .status-failed").is_visible()
    assert page.locator("table.deliveries .reason").is_visible()
    page.goto(site.url + "/")
    assert page.locator("table.sources").get_by_text("read in place").is_visible()


# --- The azure corpus and the screenshots ------------------------------------------------------


def test_azure_corpus_overview_digest_and_history(
    serve: Serve, open_tab, azure: Path, slack: FakeSlack
) -> None:
    """With the azure corpus, the overview, a digest, Send now and the history all work."""
    slack.add_channel("azure")
    site, tab = serve(azure_config(azure)), open_tab()
    page = tab.page
    site.log_in(page)
    assert "Databases" in page.locator("#digest-azure .facts").inner_text()
    assert "azure" in page.locator("table.sources").inner_text()
    page.click("#digest-azure h2 a")
    message = page.locator("section.preview .slack-message").first
    sections = message.locator(".slack-section").all_inner_texts()
    for topic in ("AI", "Security", "Databases"):
        assert topic in sections, topic
    assert message.locator("a.slack-link").count() >= 9  # three headlines a topic, and more
    assert no_page_overflow(page)
    page.click("text=Send now")
    assert page.locator("section.outcomes li").inner_text().startswith("#azure: delivered")
    page.click("header nav >> text=Deliveries")
    row = page.locator("table.deliveries tbody tr")
    assert row.count() == 1 and "#azure" in row.inner_text()
    assert row.locator("summary").inner_text() == "9 articles"
    assert tab.dialogs == []


def test_screenshots_of_the_overview_and_a_digest(
    serve: Serve, open_tab, articles: Path, slack: FakeSlack, corpus_cache: Path, monkeypatch
) -> None:
    """Screenshots of the overview and a digest, desktop and phone width, go to docs/screenshots."""
    if (CORPUS / "azure").is_dir():
        monkeypatch.setenv("XDG_CACHE_HOME", str(corpus_cache))
        slack.add_channel("azure")
        config, name = azure_config(CORPUS), "azure"
    else:
        config, name = seeds_config(articles), "ai"
    site = serve(config)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    desktop = open_tab(DESKTOP).page
    phone = open_tab(PHONE, is_mobile=True, has_touch=True).page
    site.log_in(desktop, start=f"/digests/{name}")
    site.log_in(phone, start=f"/digests/{name}")
    for page, width in ((desktop, "desktop"), (phone, "phone")):
        load_images(page)
        assert page.evaluate("[...document.images].every((img) => img.naturalWidth > 0)")
        page.screenshot(path=SCREENSHOTS / f"digest-{width}.png", full_page=True)
    desktop.click("text=Send now")  # so that the overview shows a delivery
    for page, width in ((desktop, "desktop"), (phone, "phone")):
        page.goto(site.url + "/")
        page.screenshot(path=SCREENSHOTS / f"overview-{width}.png", full_page=True)
    for shot in ("overview-desktop", "overview-phone", "digest-desktop", "digest-phone"):
        assert (SCREENSHOTS / f"{shot}.png").read_bytes().startswith(b"\x89PNG")
