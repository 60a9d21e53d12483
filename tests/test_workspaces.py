"""One digestbot for many workspaces: "Add to Slack" through Bolt's OAuth flow on the front door
(in Chromium, and over plain HTTP for a missing or replayed state), a token per workspace,
digests per workspace, uninstalls, tokens Slack refuses, rotation by one replica, and ledgers
from before workspaces migrated in place. The fake Slack plays every workspace and its pages.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy
from browser import Tab
from conftest import (
    POSTGRES_URL,
    BotProcess,
    ConfigWriter,
    FakeClock,
    free_port,
    process_env,
    wait_for,
)
from fakeslack import FakeSlack
from installs import store_install
from slack_sdk.oauth.installation_store import Installation
from slackrequests import SECRET, post, signed

from digestbot import bot
from digestbot.config import load_config, load_settings
from digestbot.errors import DigestbotError
from digestbot.history import Filter, History
from digestbot.install import BOT_SCOPES
from digestbot.ledger import Ledger
from digestbot.runs import Status
from digestbot.store import (
    SLACK_TABLES,
    channel_ids,
    deliveries,
    meta,
    schema_version,
    sent_articles,
    slack_metadata,
)
from digestbot.workspaces import Workspaces

pytestmark = pytest.mark.slow  # bot processes and Chromium

ACME, GLOBEX = "T0002", "T0003"
PEOPLE = {ACME: ("U0002ANA", "Ana Acme"), GLOBEX: ("U0003GUS", "Gus Globex")}
NAMES = {ACME: "Acme", GLOBEX: "Globex"}
MONDAY = datetime(2026, 3, 2, 9, 3, tzinfo=UTC)  # the bot's clock
SCHEDULED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the run that `Site.fire` delivers


def two_digests(articles: Path, **digest: Any) -> dict[str, Any]:
    """`acme` and `globex`: the seeds' AI news in each workspace's own #news (by hand only,
    unless `digest` gives a schedule: APScheduler would fire on the real clock)."""
    body = {"topics": ["AI"], "channels": ["#news"]}
    return {
        "articles": str(articles),
        "digests": {
            "acme": {**body, "workspace": ACME, **digest},
            "globex": {**body, "workspace": GLOBEX, **digest},
        },
    }


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    """A fake Slack with Acme and Globex (a person and a #news each), and the environment of
    a digestbot installed with "Add to Slack": client ID and secret, signing secret, no token."""
    with FakeSlack() as server:
        for team, (user, name) in PEOPLE.items():
            server.add_workspace(team, NAMES[team])
            server.add_user(team, user, name, f"{user.lower()}@example.com")
            server.add_channel("news", team=team)
        monkeypatch.setenv("SLACK_API_URL", server.url)
        monkeypatch.setenv("SLACK_CLIENT_ID", server.client_id)
        monkeypatch.setenv("SLACK_CLIENT_SECRET", server.client_secret)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        yield server


def install(fake: FakeSlack, database_url: str, team: str) -> Installation:
    """Install the app in `team` without a browser, stored as Bolt's OAuth flow does."""
    ledger = Ledger(database_url)  # the store's tables are the ledger's
    try:
        return store_install(fake, ledger.engine, team)
    finally:
        ledger.close()


def database() -> str:
    return load_settings().database_url


@dataclass
class Site:
    """A running bot installed with "Add to Slack"."""

    bot: bot.Bot
    url: str
    port: int

    def fire(self, name: str) -> None:
        """Deliver the digest's run scheduled at 09:00, as its job would."""
        self.bot.scheduler.deliver(self.bot.service.config.digests[name], SCHEDULED)


@pytest.fixture
def serve(
    fake: FakeSlack, write_config: ConfigWriter, articles: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Site]]:
    """Start `digestbot run` (in this process, on a clock standing at 09:03 on a Monday) with
    the two digests and PORT; the fake's redirect URL is its /slack/oauth_redirect."""
    started: list[bot.Bot] = []

    def start(config: dict[str, Any] | None = None) -> Site:
        write_config(config or two_digests(articles))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        fake.redirect_urls = [f"{url}/slack/oauth_redirect", f"{url}/slack/oidc_redirect"]
        monkeypatch.setenv("PORT", str(port))
        clock = FakeClock(MONDAY)
        running = bot.build(load_settings(), printer=lambda plans: None, clock=clock)
        started.append(running)
        running.start()
        return Site(running, url, port)

    yield start
    for running in started:
        running.shutdown()


def posted(fake: FakeSlack, team: str) -> list[dict[str, Any]]:
    """What the bot posted in the team's #news, each message's digest and run."""
    return [message["metadata"]["event_payload"] for message in fake.messages_in("news", team=team)]


# --- Modes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "missing"),
    [
        ({"SLACK_CLIENT_ID": "1.2"}, "SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET"),
        ({"SLACK_CLIENT_SECRET": "0a1b2c3d4e5f"}, "SLACK_CLIENT_ID, SLACK_SIGNING_SECRET"),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "0a1b2c3d4e5f"}, "SLACK_SIGNING_SECRET"),
    ],
)
def test_stray_client_variables_say_what_is_missing(
    write_config: ConfigWriter,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    missing: str,
) -> None:
    """Client credentials without the rest never switch many workspaces on silently."""
    write_config()
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    result = cli("run")
    assert result.code == 1
    assert result.err.strip() == (
        f"error: installing the app in many workspaces needs {missing} too "
        "(or set SLACK_BOT_TOKEN to post to one workspace)"
    )


def test_with_the_bot_token_the_client_variables_only_serve_the_dashboard(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch, slack: FakeSlack
) -> None:
    """SLACK_BOT_TOKEN keeps one workspace: no OAuth flow, whatever else is set; Bolt does not
    switch its own on with files under $HOME either."""
    for name, value in {
        "SLACK_CLIENT_ID": "1.2",
        "SLACK_CLIENT_SECRET": "0a1b2c3d4e5f",
        "SLACK_SIGNING_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    write_config()
    settings = load_settings()
    assert settings.many_workspaces() is False
    from digestbot.service import DigestService
    from digestbot.slash import create_app

    service = DigestService(settings, load_config(settings.config_path))
    assert create_app(service).oauth_flow is None


def test_the_manifest_asks_for_what_the_install_asks_for() -> None:
    """The app manifest's bot scopes are those "Add to Slack" requests; its first redirect URL
    is the install's (Slack's default), and it subscribes to the uninstall events."""
    import yaml
    from conftest import ROOT

    manifest = yaml.safe_load((ROOT / "config" / "slack-app-manifest.yaml").read_text())
    oauth = manifest["oauth_config"]
    assert oauth["scopes"]["bot"] == BOT_SCOPES
    assert oauth["redirect_urls"][0].endswith("/slack/oauth_redirect")
    events = manifest["settings"]["event_subscriptions"]
    assert events["request_url"].endswith("/slack/events")
    assert set(events["bot_events"]) == {"app_uninstalled", "tokens_revoked"}


# --- Installing --------------------------------------------------------------------------------


def add_to_slack(tab: Tab, site: Site) -> str:
    """Click through /slack/install -> Slack's authorize page -> /slack/oauth_redirect; the
    text of the page it ends on."""
    page = tab.page
    page.goto(f"{site.url}/slack/install")
    page.get_by_role("link", name="Add to Slack").click()
    page.wait_for_url(f"{site.url}/slack/oauth_redirect*")
    return page.inner_text("body")


def test_two_workspaces_install_in_the_browser_and_each_gets_its_own_digest(
    serve: Callable[..., Site],
    fake: FakeSlack,
    open_tab: Callable[..., Tab],
    cli: Callable[..., Any],
) -> None:
    """Ana adds the app to Acme, Gus to Globex, each in their own browser; then one bot posts
    each workspace's digest with that workspace's token, once, and lists both installs."""
    site = serve()
    for team, (user, _) in PEOPLE.items():
        fake.sign_in_as(user, team)
        assert "Thank you!" in add_to_slack(open_tab(), site)
    site.fire("acme")
    site.fire("globex")
    site.fire("acme")  # the same scheduled run again: nothing twice
    for team, name in ((ACME, "acme"), (GLOBEX, "globex")):
        [payload] = posted(fake, team)
        assert payload["digest"] == name
        assert payload["run"] == f"{name}@{SCHEDULED.isoformat()}"
    # Each post went in with a token of its own workspace (the fake refuses any other).
    assert {post["team"] for post in fake.posts} == {ACME, GLOBEX}
    # The dashboard's history finds #news in both workspaces, as two channels.
    page = History(site.bot.service.ledger).page(Filter(channel="#news"))
    assert sorted(c.digest for c in page.claims) == ["acme", "globex"]
    assert len({c.channel for c in page.claims}) == 2
    exchanges = [c for c in fake.oauth_calls if c["method"] == "oauth.v2.access"]
    assert [c["error"] for c in exchanges] == [None, None]
    listed = cli("workspaces")
    assert listed.code == 0, listed.err
    for team, name in NAMES.items():
        assert f"{team} ({name}): bot U{team[1:]}BOT, installed " in listed.out
        assert "scopes channels:history,channels:join" in listed.out
        assert "token valid" in listed.out


def start_install(site: Site) -> tuple[str, str]:
    """GET /slack/install as a browser would: the state cookie it sets (Secure, so kept by
    hand: Python's cookie jar holds it back from http://127.0.0.1), and Slack's authorize
    address the page links to."""
    with urllib.request.urlopen(f"{site.url}/slack/install", timeout=5) as page:
        cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        html = page.read().decode()
    authorize = html.split('<a href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    return cookie, authorize


def come_back(fake: FakeSlack, authorize: str) -> str:
    """Slack's authorize page, signed in: the /slack/oauth_redirect address it sends to."""

    class Stop(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    try:
        urllib.request.build_opener(Stop).open(authorize, timeout=5)
    except urllib.error.HTTPError as error:
        with error:
            assert error.code == 302
            return str(error.headers["Location"])
    raise AssertionError("the authorize page did not redirect")


def open_with(cookie: str | None, url: str) -> tuple[int, str]:
    """GET `url` with this cookie (or none): the status and the page."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as page:
            return page.status, page.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def test_a_missing_or_replayed_state_gets_bolts_error_page(
    serve: Callable[..., Site], fake: FakeSlack
) -> None:
    """The redirect without the browser's state cookie fails, and so does a second use of a
    state that worked once; neither installs anything."""
    site = serve()
    fake.sign_in_as(PEOPLE[ACME][0], ACME)
    cookie, authorize = start_install(site)
    redirect = come_back(fake, authorize)
    assert urlsplit(redirect).path == "/slack/oauth_redirect"
    status, body = open_with(None, redirect)  # no cookie: another browser
    assert status == 400 and "Oops, Something Went Wrong!" in body  # Bolt: invalid_browser
    assert not site.bot.service.workspaces.installed()
    status, body = open_with(cookie, redirect)
    assert status == 200 and "Thank you!" in body
    assert [found.team for found in site.bot.service.workspaces.installed()] == [ACME]
    second = come_back(fake, authorize)  # the same state, a fresh code
    assert (
        dict(parse_qsl(urlsplit(second).query))["state"]
        == dict(parse_qsl(urlsplit(redirect).query))["state"]
    )
    status, body = open_with(cookie, second)
    assert status == 401 and "Oops, Something Went Wrong!" in body  # Bolt: invalid_state
    assert [found.team for found in site.bot.service.workspaces.installed()] == [ACME]


def test_a_digest_without_workspace_goes_to_the_only_one_installed(
    serve: Callable[..., Site], fake: FakeSlack, articles: Path
) -> None:
    """With one install a digest needs no `workspace`; with two it is an error naming it."""
    config = two_digests(articles)
    del config["digests"]["acme"]["workspace"]
    site = serve(config)
    install(fake, database(), ACME)
    site.fire("acme")
    assert len(posted(fake, ACME)) == 1
    install(fake, database(), GLOBEX)
    service = site.bot.service
    digest = service.config.digests["acme"]
    with pytest.raises(DigestbotError, match=r"digests\.acme\.workspace: the app is installed"):
        service.sender_for(digest)


def test_digest_typed_in_a_workspace_posts_there_with_its_token(
    serve: Callable[..., Site], fake: FakeSlack
) -> None:
    """/digest globex typed in Globex's #news is authorized with Globex's installation and
    posts there; typed in a workspace without the app, it gets Bolt's "reinstall" answer."""
    site = serve()
    install(fake, database(), GLOBEX)
    for team in (GLOBEX, ACME):
        body = urlencode(
            {
                "team_id": team,
                "channel_id": fake.channel_id("news", team=team),
                "channel_name": "news",
                "user_id": PEOPLE[team][0],
                "command": "/digest",
                "text": "globex",
                "response_url": fake.response_url(team),
            }
        )
        status, _ = post(site.port, body, signed(body))
        assert status == 200
    assert wait_for(lambda: len(fake.responses) == 2)
    answers = {answer["key"]: answer["text"] for answer in fake.responses}
    assert answers[GLOBEX].startswith("Posted *globex* here")
    assert "reinstall this app" in answers[ACME]
    assert [p["digest"] for p in posted(fake, GLOBEX)] == ["globex"]
    assert posted(fake, ACME) == []


def test_the_history_links_each_delivery_to_its_own_workspace(
    serve: Callable[..., Site], fake: FakeSlack
) -> None:
    """The dashboard's overview and history link each message in the workspace it was posted
    to: every process keeps each workspace's address in the ledger."""
    from digestbot.history import Filter
    from digestbot.web import views

    site = serve()
    for team in (ACME, GLOBEX):
        install(fake, database(), team)
    site.fire("acme")
    site.fire("globex")
    service = site.bot.service
    rows = views.deliveries(service, Filter(), None)["rows"]
    links = {row.digest: row.link for row in rows}
    for digest, team in (("acme", ACME), ("globex", GLOBEX)):
        [message] = fake.messages_in("news", team=team)
        channel = fake.channel_id("news", team=team)
        workspace = fake.teams[team].url.rstrip("/")
        expected = f"{workspace}/archives/{channel}/p{message['ts'].replace('.', '')}"
        assert links[digest] == expected
    cards = {card.name: card for card in views.overview(service, None)["digests"]}
    assert {name: card.channels[0].link for name, card in cards.items()} == links


# --- Leaving -----------------------------------------------------------------------------------


def send_event(site: Site, payload: dict[str, Any]) -> int:
    body = json.dumps(payload)
    request = urllib.request.Request(
        f"{site.url}/slack/events",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", **signed(body)},
    )
    with urllib.request.urlopen(request, timeout=3) as answer:
        return int(answer.status)


def test_uninstalling_one_workspace_stops_only_its_digests(
    serve: Callable[..., Site], fake: FakeSlack
) -> None:
    """app_uninstalled from Acme forgets Acme (an older event than the install does not):
    its digest fails, naming the workspace; Globex's goes on."""
    site = serve()
    installed = install(fake, database(), ACME)
    install(fake, database(), GLOBEX)
    stale = fake.event_payload("app_uninstalled", ACME)
    before = installed.installed_at - 60  # from an install before this one
    stale["event_time"], stale["event"]["event_ts"] = int(before), f"{before:.6f}"
    assert send_event(site, stale) == 200
    assert wait_installed(site, {ACME, GLOBEX})
    fake.revoke(ACME)
    assert send_event(site, fake.event_payload("app_uninstalled", ACME)) == 200
    assert wait_installed(site, {GLOBEX})
    site.fire("acme")
    site.fire("globex")
    assert posted(fake, ACME) == []
    assert [p["digest"] for p in posted(fake, GLOBEX)] == ["globex"]


def wait_installed(site: Site, teams: set[str]) -> bool:
    """Bolt answers events before handling them: wait for the installs to be `teams`."""
    workspaces = site.bot.service.workspaces
    assert workspaces is not None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if {found.team for found in workspaces.installed()} == teams:
            return True
        time.sleep(0.02)
    return False


def test_a_refused_token_marks_the_workspace_for_reinstall_and_the_other_goes_on(
    serve: Callable[..., Site], fake: FakeSlack, cli: Callable[..., Any]
) -> None:
    """Acme's token revoked without an event: its run fails, `status` says it needs a
    reinstall, Globex still gets its digest; installing again brings Acme back."""
    site = serve()
    install(fake, database(), ACME)
    install(fake, database(), GLOBEX)
    fake.revoke(ACME)
    outcomes = site.bot.service.deliver(runs_of(site, "acme", "globex")).outcomes
    assert [(o.digest, o.status) for o in outcomes] == [
        ("acme", Status.FAILED),
        ("globex", Status.DELIVERED),
    ]
    shown = cli("status")
    assert f"{ACME} (Acme): bot U0002BOT" in shown.out
    assert "token needs reinstall (token_revoked)" in shown.out
    assert "acme: " in shown.out and "#news: never delivered" in shown.out
    time.sleep(0.01)  # the new install is dated after the refusal
    install(fake, database(), ACME)
    [outcome] = site.bot.service.deliver(runs_of(site, "acme")).outcomes
    assert outcome.status is Status.DELIVERED, outcome.detail


def runs_of(site: Site, *names: str) -> list[Any]:
    from digestbot.runs import Run

    service = site.bot.service
    return [Run.manual(service.config.digests[name], service.now()) for name in names]


# --- The ledger knows workspaces ---------------------------------------------------------------


def test_two_workspaces_general_channels_are_two_channels(database_url: str) -> None:
    """The same channel (ID or name) in two workspaces has two histories."""
    from digestbot.ledger import ClaimPlan

    plan = ClaimPlan("#general", [{"text": "x"}], [[("https://a.example/1", "one", "ai/1.md")]])
    ledger = Ledger(database_url)
    try:
        acme, globex = ledger.scoped(ACME), ledger.scoped(GLOBEX)
        for scoped in (acme, globex):
            claim, _ = scoped.claim("run-1", "C0SHARED", "ai", plan)
            assert claim is not None
            scoped.record_part(claim, ["1.1"], "C0SHARED")
        assert acme.key("C0SHARED") == f"{ACME}:C0SHARED"
        assert acme.seen("C0SHARED").keys == globex.seen("C0SHARED").keys == {"ai/1.md"}
        keys = {c.channel for c in ledger.claims("run-1")}
        assert keys == {f"{ACME}:C0SHARED", f"{GLOBEX}:C0SHARED"}
    finally:
        ledger.close()


def test_slack_sdk_tables_are_named_as_the_store_expects() -> None:
    """The store knows slack-sdk's tables by name without importing slack-sdk's stores."""
    assert sorted(slack_metadata().tables) == sorted(SLACK_TABLES)


def test_a_single_workspace_ledger_from_before_workspaces_migrates_in_place(
    write_config: ConfigWriter, articles: Path, cli: Callable[..., Any], slack: FakeSlack
) -> None:
    """A schema 4 ledger (channels keyed without a workspace) is adopted by the bot token's
    workspace at the next send: nothing is lost, nothing is posted twice."""
    write_config(
        {"articles": str(articles), "digests": {"ai": {"topics": ["AI"], "channels": ["#ai-news"]}}}
    )
    assert cli("send").code == 0
    url = database()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as db:  # back to what schema 4 wrote
        for table, column in ((deliveries, "channel"), (sent_articles, "channel")):
            field = table.c[column]
            db.execute(table.update().values({column: sqlalchemy.func.substr(field, 7)}))
        db.execute(channel_ids.update().values(name=sqlalchemy.func.substr(channel_ids.c.name, 7)))
        for name in ("digestbot_meta", "workspace_states", "slack_bots"):
            db.execute(sqlalchemy.text(f"DROP TABLE {name}"))
        for name in ("slack_installations", "slack_oauth_states"):
            db.execute(sqlalchemy.text(f"DROP TABLE {name}"))
        db.execute(schema_version.update().values(version=4))
        channel = db.execute(sqlalchemy.select(deliveries.c.channel)).scalar()
    assert channel == slack.channel_id("ai-news")  # unkeyed, as before workspaces
    engine.dispose()
    again = cli("send")
    assert again.code == 0 and "nothing new" in again.out
    assert len(slack.messages_in("ai-news")) == 1
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as db:
        keys = set(db.execute(sqlalchemy.select(deliveries.c.channel)).scalars())
        team = db.execute(sqlalchemy.select(meta.c.value)).scalar()
        version = db.execute(sqlalchemy.select(schema_version.c.version)).scalar()
        tables = set(sqlalchemy.inspect(db).get_table_names())
    engine.dispose()
    assert team == "T0001" and version == 5
    assert {"digestbot_meta", "workspace_states", *SLACK_TABLES} <= tables
    assert keys == {f"T0001:{slack.channel_id('ai-news')}"}


# --- Replicas on PostgreSQL --------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="DIGESTBOT_TEST_DATABASE_URL is not set")
def test_two_replicas_rotate_a_token_once(fake: FakeSlack, postgres_url: str) -> None:
    """Acme's token expires in 5 minutes: two replicas about to send there at once refresh it
    once (a refresh token works once) and both post with the new token."""
    fake.enable_token_rotation(expires_in=300)
    install(fake, postgres_url, ACME)
    fake.enable_token_rotation(expires_in=43200)  # the refreshed token lasts
    settings = load_settings().model_copy(update={"database_url": postgres_url})
    replicas = [Ledger(postgres_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    tokens: list[str] = []

    def send(ledger: Ledger) -> None:
        workspaces = Workspaces(settings, ledger, _any_config)
        barrier.wait()
        tokens.append(workspaces.installations.usable(ACME).bot_token)

    threads = [threading.Thread(target=send, args=(ledger,)) for ledger in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for ledger in replicas:
        ledger.close()
    refreshes = [c for c in fake.oauth_calls if c["params"].get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1 and refreshes[0]["error"] is None
    assert len(tokens) == 2 and len(set(tokens)) == 1
    assert fake.tokens[tokens[0]].expires_at > time.time() + 3600


def _any_config() -> Any:
    from digestbot.config.models import Config

    digest = {"topics": ["AI"], "channels": ["#news"]}
    return Config.model_validate({"articles": ".", "digests": {"news": digest}})


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="DIGESTBOT_TEST_DATABASE_URL is not set")
def test_three_replicas_deliver_each_workspace_once(
    fake: FakeSlack, write_config: ConfigWriter, articles: Path, postgres_url: str
) -> None:
    """Three `digestbot run` replicas on one PostgreSQL, the app in two workspaces: each
    workspace's #news gets its digest's scheduled run once."""
    for team in PEOPLE:
        install(fake, postgres_url, team)
    moment = datetime.now(UTC) - timedelta(minutes=2)
    schedule = f"{moment.minute} {moment.hour} * * *"
    path = write_config(two_digests(articles, schedule=schedule, catch_up="1h"))
    env = process_env(None, path, DIGESTBOT_DATABASE_URL=postgres_url)
    bots = [BotProcess(env) for _ in range(3)]
    try:
        assert fake.wait_for_posts(2, timeout=20)
        for replica in bots:
            assert replica.wait_for_line("logger=digestbot.scheduler started"), replica.err
            if "catching_up=2" in replica.err:
                assert replica.wait_for_line("result digest=", 2), replica.err
    finally:
        results = [replica.stop() for replica in bots]
    assert [code for code, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    assert [p["digest"] for p in posted(fake, ACME)] == ["acme"]
    assert [p["digest"] for p in posted(fake, GLOBEX)] == ["globex"]
