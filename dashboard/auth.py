"""Who is asking: sign-in for operators and class accounts, sessions, and cross-site refusal.

- Operators sign in with an account from the operators file (``smartcity operator add``),
  kept as salted PBKDF2 hashes (werkzeug's).
- Students and teachers sign in with their class credentials; the password is checked
  against the Mosquitto hash the broker uses (``$7$``: PBKDF2-SHA512), so one password
  serves the broker and the page. A revoked or expired account cannot sign in.
- Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax), signed with the
  dashboard's secret; they last 12 hours from sign-in. Each carries a random id; signing
  out marks that id ended in this process, so a copy of the cookie (a request still in
  flight, another tab) is refused afterwards until it would have expired anyway.
- Every POST must come from this site: the Origin (or, without it, the Referer) must be
  the dashboard's own address, and the sign-in form carries a per-session token. Dash's
  callbacks are JSON POSTs, which a foreign page cannot send with our cookie.

Wall and exhibit need nobody; the pages ask :func:`current_user` before any action.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, redirect, request, session
from werkzeug.security import check_password_hash

from dashboard import queries
from dashboard.errors import DataUnavailable

SESSION_HOURS = 12
_NEXT_PATHS = ("/", "/wall", "/exhibit", "/class")


@dataclass(frozen=True)
class User:
    """A signed-in person: ``role`` is operator, teacher or student."""

    name: str
    role: str
    class_id: str | None = None
    member: str | None = None

    def may_see_class(self, class_id: str, member: str) -> bool:
        """Operators see every class; a teacher their class; a student only themselves."""
        if self.role == "operator":
            return True
        if self.role == "teacher":
            return self.class_id == class_id
        return (self.class_id, self.member) == (class_id, member)


def current_user() -> User | None:
    """The signed-in user of the request being served, or None."""
    raw = session.get("user")
    if not isinstance(raw, dict) or _ended(raw.get("sid")):
        return None
    try:
        return User(str(raw["name"]), str(raw["role"]), raw.get("class_id"), raw.get("member"))
    except KeyError:
        return None


class _EndedSessions:
    """Session ids signed out in this process, each kept until its cookie would expire."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def end(self, sid: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[sid] = now + SESSION_HOURS * 3600

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            return isinstance(sid, str) and self._until.get(sid, 0.0) > time.monotonic()


def _ended(sid: object) -> bool:
    ended = current_app.config.get("SMARTCITY_ENDED_SESSIONS")
    return sid is None or (ended is not None and sid in ended)


def is_operator() -> bool:
    user = current_user()
    return user is not None and user.role == "operator"


def mosquitto_hash_matches(stored: str, password: str) -> bool:
    """Does ``password`` match a Mosquitto password-file hash (``$7$`` or ``$6$``)?"""
    parts = stored.split("$")
    try:
        if len(parts) == 5 and parts[1] == "7":
            iterations, salt, digest = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
            mine = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
            return hmac.compare_digest(mine, digest)
        if len(parts) == 4 and parts[1] == "6":
            salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            return hmac.compare_digest(hashlib.sha512(password.encode("utf-8") + salt).digest(), digest)
    except (ValueError, TypeError):
        return False
    return False


def authenticate(dsn: str, operators: dict[str, str], username: str, password: str) -> User | None:
    """The user these credentials belong to, or None. Operators first, then class accounts.

    Raises:
        DataUnavailable: a class account was asked for and the database is unreachable.
    """
    if not username or not password or len(username) > 128 or len(password) > 1024:
        return None
    stored = operators.get(username)
    if stored is not None:
        return User(username, "operator") if check_password_hash(stored, password) else None
    if "." not in username:
        return None
    account = queries.class_account(dsn, username)
    if account is None or account["revoked"] or account["expires_at"] <= datetime.now(UTC):
        return None
    if not mosquitto_hash_matches(str(account["password_hash"]), password):
        return None
    return User(username, str(account["role"]), str(account["class_id"]), str(account["member"]))


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    return urlsplit(source).netloc == request.host


def _csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def _login_page(message: str = "", next_path: str = "/") -> str:
    note = f'<p class="sc-login-error" role="alert">{html.escape(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · 로그인</title>
<style>body{{font-family:'Noto Sans CJK KR',sans-serif;background:#0b1a2a;color:#f2f5f8;display:flex;
justify-content:center;padding-top:10vh}}form{{background:#13263b;padding:2rem;border-radius:8px;min-width:18rem}}
label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;font-size:1rem}}
button{{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}}.sc-login-error{{color:#ffb4a8}}</style></head>
<body><main><form method="post" action="/login"><h1>로그인 · Sign in</h1>{note}
<label for="login-username">사용자 / Username</label>
<input id="login-username" name="username" autocomplete="username" required>
<label for="login-password">비밀번호 / Password</label>
<input id="login-password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="csrf" value="{_csrf_token()}">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<button id="login-submit" type="submit">로그인 · Sign in</button></form></main></body></html>"""


def _safe_next(raw: str | None) -> str:
    """Only our own pages: never an absolute or protocol-relative address."""
    path = (raw or "/").split("?", 1)[0]
    return raw if raw and path in _NEXT_PATHS and not raw.startswith("//") else "/"


def install(server: Flask, *, dsn: str, secret_key: str, operators: dict[str, str], secure_cookies: bool) -> None:
    """Sessions, the sign-in and sign-out routes, and the same-origin rule for POSTs."""
    server.secret_key = secret_key
    ended = _EndedSessions()
    server.config["SMARTCITY_ENDED_SESSIONS"] = ended
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        SESSION_COOKIE_NAME="smartcity_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # The cookie is sent only when the session changes: were every answer to re-issue it, a
        # callback in flight at sign-out would hand the browser its old session back.
        SESSION_REFRESH_EACH_REQUEST=False,
    )

    @server.before_request
    def _refuse_cross_site() -> Any:
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and not _same_origin():
            abort(403, "cross-site request refused: POSTs must come from the dashboard's own pages")
        return None

    @server.route("/login", methods=["GET", "POST"])
    def _login() -> Any:
        if request.method == "GET":
            return Response(_login_page(next_path=_safe_next(request.args.get("next"))), mimetype="text/html")
        sent = request.form.get("csrf", "")
        if not hmac.compare_digest(sent, str(session.get("csrf", ""))):
            abort(403, "the sign-in form expired: load it again")
        next_path = _safe_next(request.form.get("next"))
        try:
            user = authenticate(dsn, operators, request.form.get("username", ""), request.form.get("password", ""))
        except DataUnavailable:
            return Response(_login_page("database unavailable: try again shortly / 잠시 후 다시"), status=503,
                            mimetype="text/html")  # fmt: skip
        if user is None:
            return Response(_login_page("wrong username or password / 사용자 또는 비밀번호가 틀림", next_path),
                            status=401, mimetype="text/html")  # fmt: skip
        session.clear()  # a new session on sign-in: nothing carried over from before
        session.permanent = True
        session["user"] = {"name": user.name, "role": user.role, "class_id": user.class_id, "member": user.member,
                           "sid": secrets.token_urlsafe(16)}  # fmt: skip
        return redirect(next_path, code=303)

    @server.route("/logout", methods=["POST"])
    def _logout() -> Any:
        raw = session.get("user")
        if isinstance(raw, dict) and isinstance(raw.get("sid"), str):
            ended.end(raw["sid"])
        session.clear()
        return redirect("/", code=303)
