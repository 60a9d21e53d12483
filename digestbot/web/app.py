"""The dashboard: a WSGI app behind the front door (`/`, `/digests/NAME`, `/deliveries`,
`/login`, `/logout`, and Slack's sign-in redirect `/slack/oidc_redirect`).

Every page needs a session; without one it redirects to /login. Every POST carries the
session's CSRF token (the login form: its own), else 403. "Send now" honours
`slash.allowed_users`: a person who may not post with /digest may not post from here either.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from digestbot.errors import DigestbotError
from digestbot.history import Cursor, Filter
from digestbot.ledger import ClaimStatus
from digestbot.runs import Run
from digestbot.service import DigestService
from digestbot.web import views
from digestbot.web.auth import REDIRECT_PATH, Refused, SlackSignIn, TokenLogin
from digestbot.web.http import Request, Response, StartResponse, login_path, safe_next
from digestbot.web.session import LoginLimiter, Session, Signer, same

log = logging.getLogger(__name__)

SESSION = "digestbot_session"
LOGIN = "digestbot_login"  # the login form's CSRF token, before there is a session
SIGN_IN = "digestbot_sign_in"  # Sign in with Slack's state, nonce and next page
SIGN_IN_SECONDS = 600
SENT = "digestbot_sent"  # what "Send now" did, shown once by the page it redirects to
SENT_SECONDS = 60
MAX_SHOWN = 20  # channels whose outcome the page shows (a cookie holds a few KB)
_DIGEST_PAGE = re.compile(r"/digests/([A-Za-z0-9][A-Za-z0-9_.-]*)(/send)?")
_STATIC = {"/static/dashboard.css": ("dashboard.css", "text/css; charset=utf-8")}


@dataclass(frozen=True)
class Logins:
    """The ways in that are configured (at least one, or there is no dashboard)."""

    token: TokenLogin | None = None
    slack: SlackSignIn | None = None


class Dashboard:
    """The dashboard's pages over one running bot."""

    def __init__(
        self,
        service: DigestService,
        logins: Logins,
        signer: Signer,
        health: views.Health | None = None,
    ) -> None:
        self.service = service
        self.logins = logins
        self.signer = signer
        self.health = health
        self.limiter = LoginLimiter(service.clock)
        self.templates = Environment(
            loader=PackageLoader("digestbot.web"), autoescape=select_autoescape(default=True)
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.read(environ)
        try:
            response = self._route(request)
        except DigestbotError as error:
            response = self._page("message.html", None, 503, title="Not available", text=error)
        return response.send(start_response)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path in _STATIC:
            name, kind = _STATIC[path]
            data = resources.files("digestbot.web").joinpath("static", name).read_bytes()
            return Response(200, data, kind)
        if path == "/login":
            return self._login(request)
        if path == "/login/slack" and self.logins.slack:
            return self._start_sign_in(request)
        if path == REDIRECT_PATH and self.logins.slack:
            return self._finish_sign_in(request)
        session = self.signer.read_session(request.cookies.get(SESSION))
        if session is None:
            return Response.redirect(login_path(path))
        if request.method == "POST" and not same(request.form.get("csrf"), session.csrf):
            return self._page("message.html", session, 403, title="Refused", text=CSRF_MISSING)
        return self._pages(request, session)

    def _pages(self, request: Request, session: Session) -> Response:
        path = request.path
        if path == "/" and request.method == "GET":
            return self._page("overview.html", session, **views.overview(self.service, self.health))
        if path == "/deliveries" and request.method == "GET":
            return self._deliveries(request, session)
        if path == "/logout" and request.method == "POST":
            self.signer.end(session)
            response = Response.redirect("/login")
            response.cookie(SESSION, "", secure=request.secure, max_age=0)
            return response
        page = _DIGEST_PAGE.fullmatch(path)
        if page and page.group(1) in self.service.config.digests:
            if page.group(2) and request.method == "POST":
                return self._send_now(page.group(1), session, request)
            if not page.group(2) and request.method == "GET":
                return self._digest_after_send(page.group(1), session, request)
        return self._page("message.html", session, 404, title="Not found", text=NOT_FOUND)

    def _digest(self, name: str, session: Session, outcomes: list[Any] | None = None) -> Response:
        digest = self.service.config.digests[name]
        return self._page(
            "digest.html",
            session,
            digest=digest,
            channels=views.digest_preview(self.service, name),
            outcomes=outcomes,
            can_send=self.service.can_post,
        )

    def _digest_after_send(self, name: str, session: Session, request: Request) -> Response:
        """The digest page, with what "Send now" just did (once) when it sent."""
        sent = self.signer.check(request.cookies.get(SENT))
        outcomes = sent["outcomes"] if sent and sent.get("digest") == name else None
        response = self._digest(name, session, outcomes)
        if sent:
            response.cookie(SENT, "", secure=request.secure, max_age=0)
        return response

    def _send_now(self, name: str, session: Session, request: Request) -> Response:
        allowed = self.service.config.slash.allowed_users
        if allowed and session.user not in allowed:
            text = "You may not post digests (slash.allowed_users does not list you)."
            return self._page("message.html", session, 403, title="Refused", text=text)
        if not self.service.can_post:
            text = "digestbot has no bot token here (SLACK_BOT_TOKEN), so it cannot post."
            return self._page("message.html", session, 409, title="Cannot post", text=text)
        digest = self.service.config.digests[name]
        delivery = self.service.deliver([Run.manual(digest, self.service.now(digest))])
        log.info("dashboard send digest=%s user=%s", name, session.user)
        # Post/Redirect/Get: reloading the page shows the outcome again, it does not send again.
        outcomes = [
            {"channel": o.channel, "status": str(o.status), "detail": o.detail[:200]}
            for o in delivery.outcomes[:MAX_SHOWN]
        ]
        response = Response.redirect(f"/digests/{name}")
        sent = self.signer.expiring({"digest": name, "outcomes": outcomes}, SENT_SECONDS)
        response.cookie(SENT, sent, secure=request.secure, max_age=SENT_SECONDS)
        return response

    def _deliveries(self, request: Request, session: Session) -> Response:
        query = request.query
        wanted = query.get("status") or None
        chosen = Filter(
            digest=query.get("digest") or None,
            channel=query.get("channel") or None,
            status=ClaimStatus(wanted) if wanted in set(ClaimStatus) else None,
        )
        after = Cursor.decode(query["after"]) if query.get("after") else None
        return self._page(
            "deliveries.html",
            session,
            chosen=chosen,
            statuses=[str(item) for item in ClaimStatus],
            digests=list(self.service.config.digests),
            **views.deliveries(self.service, chosen, after),
        )

    def _login(self, request: Request) -> Response:
        target = safe_next(request.query.get("next") or request.form.get("next"))
        token = request.query.get("token") if request.method == "GET" else None
        if request.method == "POST" or token:
            if request.method == "POST" and not same(
                request.form.get("csrf"), request.cookies.get(LOGIN, "")
            ):
                return self._login_form(request, target, CSRF_MISSING, 403)
            return self._token_login(request, token or request.form.get("token"), target)
        return self._login_form(request, target)

    def _token_login(self, request: Request, given: str | None, target: str) -> Response:
        if self.logins.token is None:
            return self._login_form(request, target, "Token login is not enabled.", 403)
        if not self.limiter.allowed(request.address):
            return self._login_form(request, target, TOO_MANY, 429)
        try:
            identity = self.logins.token.check(given)
        except Refused as error:
            self.limiter.failed(request.address)
            log.warning("dashboard login refused way=token address=%s", request.address)
            return self._login_form(request, target, str(error), 403)
        return self._signed_in(request, identity.user, identity.name, identity.team, target)

    def _login_form(
        self, request: Request, target: str, problem: str | None = None, status: int = 200
    ) -> Response:
        csrf = secrets.token_urlsafe(24)
        response = self._page(
            "login.html",
            None,
            status,
            csrf=csrf,
            next=target,
            problem=problem,
            token_login=self.logins.token is not None,
            slack_login=self.logins.slack is not None,
        )
        response.cookie(LOGIN, csrf, secure=request.secure, max_age=SIGN_IN_SECONDS)
        return response

    def _start_sign_in(self, request: Request) -> Response:
        assert self.logins.slack is not None
        if not self.limiter.allowed(request.address):
            return self._login_form(request, "/", TOO_MANY, 429)
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        target = safe_next(request.query.get("next"))
        cookie = self.signer.expiring(
            {"state": state, "nonce": nonce, "next": target}, SIGN_IN_SECONDS
        )
        redirect_uri = request.origin + REDIRECT_PATH
        response = Response.redirect(self.logins.slack.authorize_url(redirect_uri, state, nonce))
        response.cookie(SIGN_IN, cookie, secure=request.secure, max_age=SIGN_IN_SECONDS)
        return response

    def _finish_sign_in(self, request: Request) -> Response:
        assert self.logins.slack is not None
        pending = self.signer.check(request.cookies.get(SIGN_IN))
        if pending is None or not same(request.query.get("state"), str(pending["state"])):
            return self._login_form(
                request, "/", "The sign-in expired or was not ours: try again.", 403
            )
        if "code" not in request.query:
            return self._login_form(request, "/", "Slack did not sign you in.", 403)
        try:
            identity = self.logins.slack.finish(
                request.query["code"], request.origin + REDIRECT_PATH
            )
        except Refused as error:
            self.limiter.failed(request.address)
            log.warning("dashboard login refused way=slack reason=%r", str(error))
            return self._login_form(request, "/", str(error), 403)
        response = self._signed_in(
            request, identity.user, identity.name, identity.team, str(pending["next"])
        )
        response.cookie(SIGN_IN, "", secure=request.secure, max_age=0)
        return response

    def _signed_in(
        self, request: Request, user: str, name: str, team: str | None, target: str
    ) -> Response:
        _, cookie = self.signer.session(user, name, team)
        log.info("dashboard login user=%s", user)
        response = Response.redirect(safe_next(target))
        response.cookie(SESSION, cookie, secure=request.secure)
        response.cookie(LOGIN, "", secure=request.secure, max_age=0)
        return response

    def _page(
        self, template: str, session: Session | None, status: int = 200, **context: Any
    ) -> Response:
        page = self.templates.get_template(template)
        return Response.html(page.render(session=session, **context), status)


CSRF_MISSING = "This form is out of date or was not sent by the dashboard (no CSRF token)."
NOT_FOUND = "There is no such page."
TOO_MANY = "Too many failed logins from your address: wait a few minutes."
