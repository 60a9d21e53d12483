"""Slack's OAuth for "Add to Slack" and "Sign in with Slack": the authorize pages, which sign in
automatically as a chosen person and send the browser back with a one-time code, the app's
client credentials, oauth.v2.access (codes and one-time refresh tokens) and apps.uninstall."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from .teams import Teams
from .workspace import APP_ID, ApiError, FakeToken, Reply

CODE_TTL = 600  # seconds an authorization code stays valid, as Slack's do
PAGES = {"oauth": "oauth/v2/authorize", "openid": "openid/connect/authorize"}  # per flow
HTML = {"Content-Type": "text/html; charset=utf-8"}


@dataclass
class Grant:
    """What a one-time authorization code stands for."""

    flow: str  # "oauth" (Add to Slack: oauth.v2.access) or "openid" (openid.connect.token)
    team: str
    user: str  # the person who signed in
    scopes: set[str]  # the bot scopes, or Sign in with Slack's (openid, email, profile)
    user_scopes: set[str]
    redirect_uri: str  # where the code was sent
    redirect_given: bool  # the authorize URL named it, so the exchange must repeat it
    nonce: str | None
    expires_at: float


def scopes_of(value: Any) -> set[str]:
    """A scope parameter's scopes: comma- or space-separated."""
    return {scope for scope in re.split(r"[,\s]+", str(value or "")) if scope}


def _page(status: int, title: str, headers: dict[str, str]) -> Reply:
    """A minimal HTML page titled `title`: a redirect's, or an error page naming the error."""
    text = html.escape(title)
    return status, f"<!doctype html><title>{text}</title><h1>{text}</h1>", {**HTML, **headers}


def _with_query(url: str, query: dict[str, str]) -> str:
    """`url` with `query` added to any query it has."""
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(query)}"


class OAuth(Teams):
    """The OAuth side of the one app the fake serves, in any of its workspaces."""

    client_id: str
    client_secret: str
    redirect_urls: list[str]  # the app's redirect URLs: the first is the default; [] allows any
    oauth_calls: list[dict[str, Any]]  # authorize pages and OAuth methods: method, params, error
    _signed_in: tuple[str, str]  # (person, workspace) the authorize pages sign in as
    _deny_next: bool  # the next authorize request answers error=access_denied
    _codes: dict[str, Grant]  # unused codes

    def sign_in_as(self, user_id: str, team_id: str) -> None:
        """Make the authorize pages sign in as this person of this workspace from now on."""
        with self._lock:
            if user_id not in self.teams[team_id].users:
                raise KeyError(f"no such person in {team_id}: {user_id}")
            self._signed_in = (user_id, team_id)

    def deny_next_authorize(self) -> None:
        """Make the next authorize request send the browser back with error=access_denied, as
        when the person clicks Cancel."""
        with self._lock:
            self._deny_next = True

    def _oauth_authorize(self, params: dict[str, Any]) -> Reply:
        return self._authorize("oauth", params)

    def _openid_authorize(self, params: dict[str, Any]) -> Reply:
        return self._authorize("openid", params)

    def _authorize(self, flow: str, params: dict[str, Any]) -> Reply:
        """Redirect (302) to the redirect URI with a code, or error=access_denied, and the state
        as given; a request Slack would refuse gets an error page (400) and no redirect."""
        with self._lock:
            try:
                redirect_uri = self._redirect_uri(flow, params)
            except ApiError as err:
                error = str(err)
                self._record(PAGES[flow], params, error)
                return _page(400, error, {})
            if self._deny_next:
                self._deny_next = False
                query = {"error": "access_denied"}
            else:
                query = {"code": self._new_code(flow, params, redirect_uri)}
            self._record(PAGES[flow], params, query.get("error"))
        if "state" in params:
            query["state"] = str(params["state"])
        location = _with_query(redirect_uri, query)
        return _page(302, "Redirecting", {"Location": location})

    def _redirect_uri(self, flow: str, params: dict[str, Any]) -> str:
        """Where the browser goes back to, once the request is checked as Slack does."""
        if params.get("client_id") != self.client_id:
            raise ApiError("invalid_client_id")
        if flow == "openid" and (
            params.get("response_type") != "code" or "openid" not in scopes_of(params.get("scope"))
        ):
            raise ApiError("invalid_request")
        if not scopes_of(params.get("scope")) | scopes_of(params.get("user_scope")):
            raise ApiError("invalid_scope")
        if params.get("team") not in (None, "", self._signed_in[1]):
            raise ApiError("not_signed_in_to_team")
        default = self.redirect_urls[0] if self.redirect_urls else ""
        uri = str(params.get("redirect_uri") or default)
        allowed = not self.redirect_urls or any(uri.startswith(u) for u in self.redirect_urls)
        if not uri or not allowed:
            raise ApiError("bad_redirect_uri")
        return uri

    def _new_code(self, flow: str, params: dict[str, Any], redirect_uri: str) -> str:
        """A one-time code for the signed-in person and what the request asked for."""
        user, team = self._signed_in
        code = f"fake-code-{team}-{self._next_serial()}"
        self._codes[code] = Grant(
            flow=flow,
            team=team,
            user=user,
            scopes=scopes_of(params.get("scope")),
            user_scopes=scopes_of(params.get("user_scope")),
            redirect_uri=redirect_uri,
            redirect_given=bool(params.get("redirect_uri")),
            nonce=params.get("nonce"),
            expires_at=self.clock() + CODE_TTL,
        )
        return code

    @staticmethod
    def _credentials(params: dict[str, Any], authorization: str) -> tuple[Any, Any]:
        """(client_id, client_secret): HTTP Basic, as slack-sdk sends them, or form fields;
        (None, None) for a malformed Basic header."""
        if not authorization.startswith("Basic "):
            return params.get("client_id"), params.get("client_secret")
        try:
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
        except ValueError:
            return None, None
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret

    def _check_client(self, params: dict[str, Any], authorization: str) -> None:
        """The app's credentials, or invalid_client_id / bad_client_secret."""
        client_id, client_secret = self._credentials(params, authorization)
        if client_id != self.client_id:
            raise ApiError("invalid_client_id")
        if client_secret != self.client_secret:
            raise ApiError("bad_client_secret")

    def _redeem(self, params: dict[str, Any], flow: str) -> Grant:
        """Use up a code of this flow; the redirect URI must match the authorize request's."""
        code = str(params.get("code") or "")
        grant = self._codes.get(code)
        if grant is None or grant.flow != flow or self.clock() >= grant.expires_at:
            raise ApiError("invalid_code")
        sent = params.get("redirect_uri")
        if (grant.redirect_given or sent) and sent != grant.redirect_uri:
            raise ApiError("bad_redirect_uri")
        del self._codes[code]
        return grant

    def _refreshed(self, params: dict[str, Any], flow: str) -> FakeToken:
        """Use up a refresh token of this flow: the token it renews (which stays valid until
        it expires)."""
        value = str(params.get("refresh_token") or "")
        entry = self._refresh_tokens.get(value)
        if entry is None or entry[0] != flow:
            raise ApiError("invalid_refresh_token")
        del self._refresh_tokens[value]
        return entry[1]

    @staticmethod
    def _grant_type(params: dict[str, Any]) -> str:
        """authorization_code (the default) or refresh_token; invalid_grant_type otherwise."""
        grant_type = str(params.get("grant_type") or "authorization_code")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise ApiError("invalid_grant_type")
        return grant_type

    def _oauth_v2_access(self, params: dict[str, Any], authorization: str) -> dict[str, Any]:
        """An install's tokens for a code, or a renewed token for a refresh token."""
        self._check_client(params, authorization)
        if self._grant_type(params) == "authorization_code":
            grant = self._redeem(params, "oauth")
            return self._installation(grant.team, grant.user, grant.scopes, grant.user_scopes)
        old = self._refreshed(params, "oauth")
        team = self.teams[old.team]
        answer = {
            "app_id": APP_ID,
            "scope": ",".join(sorted(old.scopes)),
            "token_type": old.kind,
            **self._issue("oauth", old.kind, old.team, old.user, old.scopes),
            "team": {"id": team.id, "name": team.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if old.kind == "bot":
            answer["bot_user_id"] = old.user
        return answer

    def _apps_uninstall(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        """Uninstall the app from the token's workspace: revoke all its tokens."""
        self._check_client(params, "")
        self._revoke(token.team)
        return {}

    def _record(
        self, method: str, params: dict[str, Any], error: str | None, authorization: str = ""
    ) -> None:
        """Keep an OAuth request in `oauth_calls`, with the client id but not the secret."""
        client_id, _ = self._credentials(params, authorization)
        kept = {k: v for k, v in params.items() if k != "client_secret"}
        if client_id is not None:
            kept["client_id"] = client_id
        self.oauth_calls.append({"method": method, "params": kept, "error": error})
