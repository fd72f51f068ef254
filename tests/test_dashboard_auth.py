"""Sign-in, sign-out and the session cookie, on a bare Flask app with the dashboard's auth installed."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.security import generate_password_hash

from dashboard import auth

OPERATOR = ("opsadmin", "a-long-operator-password")


@pytest.fixture
def app() -> Flask:
    server = Flask(__name__)
    auth.install(
        server,
        dsn="host=/nonexistent dbname=none connect_timeout=1",
        secret_key="s" * 32,
        operators={OPERATOR[0]: generate_password_hash(OPERATOR[1])},
        secure_cookies=False,
    )

    @server.route("/whoami", methods=["GET", "POST"])
    def whoami() -> str:
        user = auth.current_user()
        return "" if user is None else f"{user.name}:{user.role}"

    return server


def _sign_in(client: object, username: str, password: str) -> object:
    page = client.get("/login").get_data(as_text=True)  # type: ignore[attr-defined]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, "the sign-in form carries a CSRF token"
    headers = {"Origin": "http://localhost"}
    form = {"csrf": csrf.group(1), "username": username, "password": password, "next": "/wall"}
    return client.post("/login", data=form, headers=headers)  # type: ignore[attr-defined]


def test_an_operator_signs_in_and_out(app: Flask) -> None:
    client = app.test_client()
    answer = _sign_in(client, *OPERATOR)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/wall")  # type: ignore[attr-defined]
    assert client.get("/whoami").get_data(as_text=True) == "opsadmin:operator"
    assert client.post("/logout", headers={"Origin": "http://localhost"}).status_code == 303
    assert client.get("/whoami").get_data(as_text=True) == ""


def test_a_wrong_password_or_a_missing_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    assert _sign_in(client, OPERATOR[0], "not-it").status_code == 401  # type: ignore[attr-defined]
    forged = client.post("/login", data={"username": OPERATOR[0], "password": OPERATOR[1]},
                         headers={"Origin": "http://localhost"})  # fmt: skip
    assert forged.status_code == 403
    assert client.get("/whoami").get_data(as_text=True) == ""


def test_a_request_begun_before_sign_out_does_not_sign_the_user_back_in(app: Flask) -> None:
    """The page's polling callbacks carry the old cookie; their answers must not set it again."""
    client = app.test_client()
    _sign_in(client, *OPERATOR)
    old_cookie = client.get_cookie("smartcity_session")
    assert old_cookie is not None
    answered = client.get("/whoami")
    assert "smartcity_session=" not in answered.headers.get("Set-Cookie", ""), (
        "an unchanged session is not sent again (each answer would otherwise re-issue it)"
    )
    client.post("/logout", headers={"Origin": "http://localhost"})
    stale = app.test_client()  # a callback in flight, sent with the cookie from before sign-out
    stale.set_cookie("smartcity_session", old_cookie.value)
    answer = stale.get("/whoami")
    assert "smartcity_session=" not in answer.headers.get("Set-Cookie", "")
    assert answer.get_data(as_text=True) == "", "a signed-out session's cookie is refused, even a copy"
    again = app.test_client()
    _sign_in(again, *OPERATOR)  # signing in again gives a new session, which works
    assert again.get("/whoami").get_data(as_text=True) == "opsadmin:operator"


def test_a_post_from_another_site_is_refused(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/whoami", headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/whoami", headers={"Origin": "http://localhost"}).status_code == 200
