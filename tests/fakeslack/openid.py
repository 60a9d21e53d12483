"""Sign in with Slack (OpenID Connect): openid.connect.token with its id_token,
openid.connect.userInfo, the id_token signing keys, and the people's pictures."""

from __future__ import annotations

import base64
from typing import Any

from . import idtoken
from .oauth import OAuth
from .webapi import WebApi
from .workspace import ApiError, FakeToken, Reply

ID_TOKEN_TTL = 3600  # seconds until an id_token's `exp`
EMAIL_VERIFIED_AT = 1_600_000_000  # every fake person's date_email_verified
# A 1x1 transparent PNG: every person's picture, so a browser showing it needs no other server.
PICTURE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5E"
    "rkJggg=="
)


class OpenId(OAuth, WebApi):
    """The Sign in with Slack methods and pages; the authorize page is OAuth's."""

    def _openid_token(self, params: dict[str, Any], authorization: str) -> dict[str, Any]:
        """A user token (token_type Bearer) and an id_token for a code; a renewed token for a
        refresh token."""
        self._check_client(params, authorization)
        if self._grant_type(params) == "refresh_token":
            old = self._refreshed(params, "openid")
            fields = self._issue("openid", "user", old.team, old.user, old.scopes)
            return {**fields, "token_type": "Bearer"}
        grant = self._redeem(params, "openid")
        fields = self._issue("openid", "user", grant.team, grant.user, grant.scopes)
        now = int(self.clock())
        claims = {
            "iss": idtoken.ISSUER,
            "aud": self.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_TTL,
            "auth_time": now,
            **({"nonce": grant.nonce} if grant.nonce else {}),
            **self._claims(grant.team, grant.user, grant.scopes),
        }
        return {**fields, "token_type": "Bearer", "id_token": idtoken.encode(claims)}

    def _openid_userinfo(self, params: dict[str, Any], token: FakeToken) -> dict[str, Any]:
        """The signed-in person's claims, as far as the token's scopes allow."""
        if token.kind != "user":
            raise ApiError("not_allowed_token_type")
        self._need(token, "openid")
        return self._claims(token.team, token.user, token.scopes)

    def _claims(self, team_id: str, user_id: str, scopes: set[str]) -> dict[str, Any]:
        """Slack's OpenID claims about a person: ids always, the rest per scope."""
        team = self.teams[team_id]
        user = team.users[user_id]
        claims: dict[str, Any] = {
            "sub": user.id,
            "https://slack.com/user_id": user.id,
            "https://slack.com/team_id": team.id,
        }
        if "email" in scopes:
            claims.update(
                email=user.email, email_verified=True, date_email_verified=EMAIL_VERIFIED_AT
            )
        if "profile" in scopes:
            given_name, _, family_name = user.name.partition(" ")
            claims.update(
                {
                    "name": user.name,
                    "picture": f"{self.origin}/avatars/{team.id}/{user.id}.png",
                    "given_name": given_name,
                    "family_name": family_name,
                    "locale": "en-US",
                    "https://slack.com/team_name": team.name,
                    "https://slack.com/team_domain": team.domain,
                }
            )
        return claims

    def _keys(self, params: dict[str, Any]) -> Reply:
        """The id_token signing keys, as a JWK set."""
        return 200, idtoken.jwks(), {}

    def _avatar(self, params: dict[str, Any]) -> Reply:
        """Anyone's picture."""
        return 200, PICTURE, {"Content-Type": "image/png"}
