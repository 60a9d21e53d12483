"""Tests for the fake's workspaces, Sign in with Slack and Add to Slack: the authorize pages over
urllib (their 302s followed by hand), the methods through slack-sdk's real WebClient."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from conftest import slack_error
from fakeslack import TEAM_ID, USER_ID, FakeSlack
from slack_bolt.oauth.oauth_flow import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth import AuthorizeUrlGenerator, OpenIDConnectAuthorizeUrlGenerator
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.token_rotation import TokenRotator
from slack_sdk.web import SlackResponse

DASHBOARD = "http://127.0.0.1:1/auth/callback"  # digestbot's side: never contacted
INSTALL = "http://127.0.0.1:1/slack/oauth_redirect"
STATE = "3f2c9a1e-7b4d-4e0a-9c61-5d8e2f1a0b7c"  # as Bolt makes them; generators do not quote it
ODD_STATE = "s+t/a=t e&1%"  # characters a careless redirect would mangle
BOT_SCOPES = ["chat:write", "channels:read", "commands"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def open_page(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET a page as a browser would, without following a redirect: status, headers, body."""
    try:
        with urllib.request.build_opener(_NoRedirect).open(url, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def authorize(url: str) -> dict[str, str]:
    """Visit an authorize URL, which must redirect; the query the browser is sent back with."""
    status, headers, _ = open_page(url)
    assert status == 302
    return dict(parse_qsl(urlsplit(headers["Location"]).query))


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def second(fake: FakeSlack) -> str:
    """A second workspace, T0002, with one person, U0BOB."""
    fake.add_workspace("T0002", "Second Team")
    fake.add_user("T0002", "U0BOB", "Bob Builder", "bob@second.example")
    return "T0002"


def oidc_url(fake: FakeSlack) -> str:
    """digestbot's Sign in with Slack URL, with nonce n-0nce."""
    generator = OpenIDConnectAuthorizeUrlGenerator(
        client_id=fake.client_id,
        redirect_uri=DASHBOARD,
        scopes=["openid", "email", "profile"],
        authorization_url=f"{fake.origin}/openid/connect/authorize",
    )
    return generator.generate(STATE, nonce="n-0nce")


def install_url(fake: FakeSlack, team: str | None = None, user_scopes: Any = None) -> str:
    """Bolt's Add to Slack URL."""
    generator = AuthorizeUrlGenerator(
        client_id=fake.client_id,
        redirect_uri=INSTALL,
        scopes=BOT_SCOPES,
        user_scopes=user_scopes,
        authorization_url=f"{fake.origin}/oauth/v2/authorize",
    )
    return generator.generate(STATE, team=team)


def creds(fake: FakeSlack) -> dict[str, str]:
    """The app's client credentials, as keyword arguments."""
    return {"client_id": fake.client_id, "client_secret": fake.client_secret}


def install(fake: FakeSlack, user: str, team: str) -> SlackResponse:
    """Add to Slack as `user` of `team`: oauth.v2.access's answer."""
    fake.sign_in_as(user, team)
    code = authorize(install_url(fake))["code"]
    client = WebClient(base_url=fake.url)
    return client.oauth_v2_access(**creds(fake), code=code, redirect_uri=INSTALL)


def sign_in(fake: FakeSlack) -> SlackResponse:
    """Sign in with Slack as the signed-in person: openid.connect.token's answer."""
    code = authorize(oidc_url(fake))["code"]
    client = WebClient(base_url=fake.url)
    return client.openid_connect_token(**creds(fake), code=code, redirect_uri=DASHBOARD)


# --- Sign in with Slack -----------------------------------------------------------------------


def test_openid_sign_in_end_to_end(fake: FakeSlack, second: str) -> None:
    """Authorize echoes the state, the code works once, id_token and userInfo describe Bob."""
    fake.sign_in_as("U0BOB", second)
    back = authorize(oidc_url(fake))
    assert back["state"] == STATE and set(back) == {"code", "state"}
    client = WebClient(base_url=fake.url)
    exchange = {**creds(fake), "code": back["code"], "redirect_uri": DASHBOARD}
    token = client.openid_connect_token(**exchange)
    assert token["access_token"].startswith("xoxp-") and token["token_type"] == "Bearer"
    claims = json.loads(b64decode(token["id_token"].split(".")[1]))
    assert (claims["nonce"], claims["aud"], claims["sub"]) == ("n-0nce", fake.client_id, "U0BOB")
    info = WebClient(token=token["access_token"], base_url=fake.url).openid_connect_userInfo()
    expected = {
        "sub": "U0BOB",
        "https://slack.com/user_id": "U0BOB",
        "https://slack.com/team_id": "T0002",
        "https://slack.com/team_name": "Second Team",
        "https://slack.com/team_domain": "second-team",
        "email": "bob@second.example",
        "email_verified": True,
        "name": "Bob Builder",
    }
    assert expected.items() <= info.data.items() and expected.items() <= claims.items()
    assert slack_error(client.openid_connect_token, **exchange).response["error"] == "invalid_code"


def test_openid_token_form_encoded(fake: FakeSlack) -> None:
    """Credentials in a form body work too; by default the default person signs in."""
    code = authorize(oidc_url(fake))["code"]
    form = {**creds(fake), "code": code, "redirect_uri": DASHBOARD}
    form["grant_type"] = "authorization_code"
    request = urllib.request.Request(f"{fake.url}openid.connect.token", urlencode(form).encode())
    with urllib.request.urlopen(request, timeout=5) as resp:
        token = json.load(resp)
    info = WebClient(token=token["access_token"], base_url=fake.url).openid_connect_userInfo()
    assert (info["sub"], info["https://slack.com/team_id"]) == (USER_ID, TEAM_ID)
    assert "client_secret" not in fake.oauth_calls[-2]["params"]


def test_id_token_verifies_with_served_keys(fake: FakeSlack) -> None:
    """The id_token is RS256 under the JWK served at /openid/connect/keys; pictures are PNGs."""
    id_token = sign_in(fake)["id_token"]
    _, _, body = open_page(f"{fake.origin}/openid/connect/keys")
    (key,) = json.loads(body)["keys"]
    header, payload, signature = id_token.split(".")
    assert json.loads(b64decode(header)) == {"typ": "JWT", "alg": "RS256", "kid": key["kid"]}
    n, e = (int.from_bytes(b64decode(key[k]), "big") for k in ("n", "e"))
    signed = pow(int.from_bytes(b64decode(signature), "big"), e, n).to_bytes(256, "big")
    assert signed.endswith(hashlib.sha256(f"{header}.{payload}".encode()).digest())
    assert signed.startswith(b"\x00\x01\xff")
    picture = json.loads(b64decode(payload))["picture"]
    status, headers, body = open_page(picture)
    assert (status, headers["Content-Type"], body[:4]) == (200, "image/png", b"\x89PNG")


def test_openid_token_cannot_post(fake: FakeSlack) -> None:
    """A Sign in with Slack token has only its openid scopes; a bot token cannot get userInfo."""
    fake.add_channel("news")
    person = WebClient(token=sign_in(fake)["access_token"], base_url=fake.url)
    err = slack_error(person.chat_postMessage, channel="#news", text="x")
    assert (err.response["error"], err.response["needed"]) == ("missing_scope", "chat:write")
    bot = WebClient(token=fake.token, base_url=fake.url)
    assert slack_error(bot.openid_connect_userInfo).response["error"] == "not_allowed_token_type"


# --- Add to Slack -----------------------------------------------------------------------------


def test_install_two_workspaces(fake: FakeSlack, second: str) -> None:
    """Two installs give two bot tokens, each acting in its own workspace only."""
    first_news, second_news = fake.add_channel("news"), fake.add_channel("news", team=second)
    one, two = install(fake, USER_ID, TEAM_ID), install(fake, "U0BOB", second)
    assert one["team"] == {"id": TEAM_ID, "name": "Fake Workspace"}
    answer = {
        "team": {"id": "T0002", "name": "Second Team"},
        "token_type": "bot",
        "bot_user_id": "U0002BOT",
        "authed_user": {"id": "U0BOB"},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    assert answer.items() <= two.data.items() and two["access_token"].startswith("xoxb-")
    client_two = WebClient(token=two["access_token"], base_url=fake.url)
    me = {"team_id": "T0002", "user_id": "U0002BOT", "bot_id": "B0002"}
    assert me.items() <= client_two.auth_test().data.items()
    assert client_two.auth_test()["url"] == "https://second-team.slack.com/"
    assert WebClient(token=one["access_token"], base_url=fake.url).auth_test()["team_id"] == TEAM_ID
    assert client_two.chat_postMessage(channel="#news", text="hi")["channel"] == second_news
    assert fake.messages_in("news") == [] and fake.messages_in(first_news) == []
    assert [m["text"] for m in fake.messages_in("news", team=second)] == ["hi"]
    err = slack_error(client_two.chat_postMessage, channel=first_news, text="x")
    assert err.response["error"] == "channel_not_found"
    listed = client_two.conversations_list()["channels"]
    assert [c["id"] for c in listed] == [second_news] == [fake.channel_id("news", team=second)]
    assert fake.messages_in(second_news)[0]["bot_id"] == "B0002"
    with pytest.raises(KeyError):
        fake.messages_in(first_news, team=second)


def test_bolt_installation_and_token_rotation(fake: FakeSlack, second: str, tmp_path: Path) -> None:
    """Bolt's OAuthFlow installs a rotating bot; slack-sdk's TokenRotator renews it once."""
    fake.enable_token_rotation(expires_in=600)
    settings = OAuthSettings(
        **creds(fake),
        scopes=BOT_SCOPES,
        redirect_uri=INSTALL,
        authorization_url=f"{fake.origin}/oauth/v2/authorize",
        installation_store=FileInstallationStore(base_dir=str(tmp_path)),
    )
    flow = OAuthFlow(client=WebClient(base_url=fake.url), settings=settings)
    fake.sign_in_as("U0BOB", second)
    code = authorize(settings.authorize_url_generator.generate(STATE))["code"]
    installation = flow.run_installation(code)
    assert installation is not None and installation.team_id == "T0002"
    assert installation.bot_id == "B0002" and installation.bot_token.startswith("xoxe.xoxb-")
    assert installation.bot_refresh_token and installation.bot_token_expires_at
    rotator = TokenRotator(**creds(fake), client=WebClient(base_url=fake.url))
    bot = rotator.perform_bot_token_rotation(
        bot=installation.to_bot(), minutes_before_expiration=20
    )
    assert bot is not None and bot.bot_token != installation.bot_token
    assert WebClient(token=bot.bot_token, base_url=fake.url).auth_test()["team_id"] == "T0002"


def test_refresh_token_works_once_and_tokens_expire(fake: FakeSlack) -> None:
    """A refresh token is replaced at use and refused after; tokens answer token_expired."""
    fake.enable_token_rotation(expires_in=60)
    first = install(fake, USER_ID, TEAM_ID)
    assert first["expires_in"] == 60 and first["refresh_token"].startswith("xoxe-1-")
    client = WebClient(base_url=fake.url)
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    renewed = client.oauth_v2_access(**creds(fake), **refresh)
    assert (renewed["token_type"], renewed["bot_user_id"]) == ("bot", "U0BOT")
    assert renewed["refresh_token"] != first["refresh_token"]
    replay = slack_error(client.oauth_v2_access, **creds(fake), **refresh)
    assert replay.response["error"] == "invalid_refresh_token"
    bad_grant = slack_error(client.oauth_v2_access, **creds(fake), grant_type="password")
    assert bad_grant.response["error"] == "invalid_grant_type"
    new_bot = WebClient(token=renewed["access_token"], base_url=fake.url)
    assert new_bot.auth_test()["ok"]
    now = fake.clock()
    fake.clock = lambda: now + 61
    assert slack_error(new_bot.auth_test).response["error"] == "token_expired"
    assert WebClient(token=fake.token, base_url=fake.url).auth_test()["ok"]  # never expires


def test_revoke_a_workspace(fake: FakeSlack, second: str) -> None:
    """revoke answers token_revoked for that workspace's tokens only, and kills refreshes."""
    fake.enable_token_rotation()
    installed = install(fake, "U0BOB", second)
    fake.revoke(second)
    revoked = WebClient(token=installed["access_token"], base_url=fake.url)
    assert slack_error(revoked.auth_test).response["error"] == "token_revoked"
    client = WebClient(base_url=fake.url)
    refresh = {"grant_type": "refresh_token", "refresh_token": installed["refresh_token"]}
    err = slack_error(client.oauth_v2_access, **creds(fake), **refresh)
    assert err.response["error"] == "invalid_refresh_token"
    assert WebClient(token=fake.token, base_url=fake.url).auth_test()["ok"]
    unknown = WebClient(token="xoxb-fake-T0002-999", base_url=fake.url)
    assert slack_error(unknown.auth_test).response["error"] == "invalid_auth"
    assert install(fake, "U0BOB", second)["access_token"]  # reinstalling works


def test_install_helper_and_apps_uninstall(fake: FakeSlack, second: str) -> None:
    """install() issues a bot token without a browser; apps.uninstall revokes it."""
    token = fake.install(second, scopes=["chat:write"])["access_token"]
    client = WebClient(token=token, base_url=fake.url)
    assert client.auth_test()["user_id"] == "U0002BOT"
    err = slack_error(client.apps_uninstall, client_id=fake.client_id, client_secret="nope")
    assert err.response["error"] == "bad_client_secret"
    client.apps_uninstall(**creds(fake))
    assert slack_error(client.auth_test).response["error"] == "token_revoked"


def test_user_scopes_give_a_user_token(fake: FakeSlack, second: str) -> None:
    """user_scope adds the installer's xoxp token to authed_user; auth.test names the person."""
    fake.sign_in_as("U0BOB", second)
    code = authorize(install_url(fake, team=second, user_scopes=["search:read"]))["code"]
    client = WebClient(base_url=fake.url)
    person = client.oauth_v2_access(**creds(fake), code=code, redirect_uri=INSTALL)["authed_user"]
    assert (person["id"], person["token_type"], person["scope"]) == ("U0BOB", "user", "search:read")
    me = WebClient(token=person["access_token"], base_url=fake.url).auth_test()
    assert (me["user_id"], me["user"], me["team_id"]) == ("U0BOB", "bob", "T0002")
    assert "bot_id" not in me


# --- refusals -----------------------------------------------------------------------------------


def test_denied_authorize(fake: FakeSlack) -> None:
    """deny_next_authorize sends the browser back once with error=access_denied and the state."""
    query = {"client_id": fake.client_id, "scope": "chat:write", "redirect_uri": INSTALL}
    query["state"] = ODD_STATE
    url = f"{fake.origin}/oauth/v2/authorize?{urlencode(query)}"
    fake.deny_next_authorize()
    assert authorize(url) == {"error": "access_denied", "state": ODD_STATE}
    assert (back := authorize(url)).keys() == {"code", "state"} and back["state"] == ODD_STATE
    assert [c["error"] for c in fake.oauth_calls] == ["access_denied", None]


def test_wrong_credentials_and_redirect_uri(fake: FakeSlack) -> None:
    """Wrong client id or secret and another redirect URI are refused; the code survives them;
    a code is for its own flow only."""
    code = authorize(install_url(fake))["code"]
    client = WebClient(base_url=fake.url)
    good = {**creds(fake), "code": code, "redirect_uri": INSTALL}
    cases = [
        ("invalid_client_id", {"client_id": "0000000000.other"}),
        ("bad_client_secret", {"client_secret": "wrong-secret"}),
        ("bad_redirect_uri", {"redirect_uri": "http://127.0.0.1:1/elsewhere"}),
        ("bad_redirect_uri", {"redirect_uri": None}),
    ]
    for error, wrong in cases:
        assert slack_error(client.oauth_v2_access, **{**good, **wrong}).response["error"] == error
    assert client.oauth_v2_access(**good)["access_token"]
    assert [c["error"] for c in fake.oauth_calls[1:]] == [e for e, _ in cases] + [None]
    install_code = authorize(install_url(fake))["code"]
    oidc = slack_error(
        client.openid_connect_token, **creds(fake), code=install_code, redirect_uri=INSTALL
    )
    assert oidc.response["error"] == "invalid_code"  # codes are for one flow


def test_authorize_error_pages(fake: FakeSlack, second: str) -> None:
    """Requests Slack refuses get an error page, not a redirect."""
    fake.redirect_urls = ["http://127.0.0.1:1/slack/"]
    elsewhere = install_url(fake).replace(INSTALL, "http://evil.example/slack/oauth_redirect")
    other_client = install_url(fake).replace(fake.client_id, "0000000000.other")
    for url, error in [
        (elsewhere, "bad_redirect_uri"),
        (other_client, "invalid_client_id"),
        (install_url(fake, team=second), "not_signed_in_to_team"),
        (oidc_url(fake).replace("response_type=code", "response_type=token"), "invalid_request"),
    ]:
        status, headers, body = open_page(url)
        assert (status, "Location" in headers, error in body.decode()) == (400, False, True)
    assert "code" in authorize(install_url(fake).split("&redirect_uri=")[0])  # the default URL


# --- events -------------------------------------------------------------------------------------


def test_event_payloads(fake: FakeSlack, second: str) -> None:
    """event_payload builds Events API envelopes, with defaults per event type."""
    gone = fake.event_payload("app_uninstalled", second)
    envelope = {"type": "event_callback", "team_id": "T0002", "api_app_id": "A0001"}
    assert envelope.items() <= gone.items()
    assert gone["event"]["type"] == "app_uninstalled" and gone["event_id"].startswith("Ev")
    revoked = fake.event_payload("tokens_revoked", second)
    assert revoked["event"]["tokens"] == {"oauth": [], "bot": ["U0002BOT"]}
    assert revoked["event_id"] != gone["event_id"] and isinstance(revoked["event_time"], int)
    custom = fake.event_payload("tokens_revoked", tokens={"oauth": ["U0ALICE"], "bot": []})
    assert custom["team_id"] == TEAM_ID and custom["event"]["tokens"]["oauth"] == ["U0ALICE"]
