"""The Dash application: a small factory; pages live in ``dashboard/pages``."""

from __future__ import annotations

import gzip
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dash
from dash import dcc, html
from flask import Response, request

from dashboard import auth, queries
from dashboard.controls import aria

HERE = Path(__file__).resolve().parent
# deck.gl's core, layers and JSON converter, built by scripts/build-deck from deckjs/entry.js
# (0.8 MB; pydeck's notebook bundle is 4.3 MB, most of it basemap code we never use)
DECK_BUNDLE = HERE / "deckjs" / "deck.min.js"
DECK_URL = "/_smartcity/deck.js"


# Dash's page, with the document's language (Korean, the city's; a page in English sets its
# own) and no footer element around the scripts (a landmark with nothing to read).
INDEX = """<!DOCTYPE html>
<html lang="ko">
<head>
{%metas%}
<title>{%title%}</title>
{%favicon%}
{%css%}
</head>
<body>
{%app_entry%}
{%config%}
{%scripts%}
{%renderer%}
</body>
</html>"""


@dataclass(frozen=True)
class DashboardConfig:
    dsn: str
    district: str = "goyang"
    refresh_s: float = 5.0
    timezone: str = "Asia/Seoul"  # the city's: the hours the wall and the exhibit speak of
    # Signs the session cookies; empty gives a random one (sessions end with the process).
    secret_key: str = ""
    operators: dict[str, str] = field(default_factory=dict)  # username -> werkzeug password hash
    secure_cookies: bool = False  # True behind HTTPS


def create_app(config: DashboardConfig) -> dash.Dash:
    """A Dash app serving every page and its own deck.gl bundle: nothing from the internet."""
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        serve_locally=True,
        # async: the deck.gl bundle compiles off the main thread while Dash renders the
        # page and fetches its data; maps drawn before it is ready wait for it (deck_bridge.js)
        external_scripts=[{"src": DECK_URL, "async": "async"}],
        title="Smart City Center · 스마트시티센터",
        update_title=None,  # type: ignore[arg-type]
        suppress_callback_exceptions=True,
        compress=True,  # gzip for scripts and callback answers (flask-compress)
        index_string=INDEX,
    )
    app.server.config["SMARTCITY"] = config
    # Streamed responses (the small assets) are left alone: compressing them reads the
    # file behind Flask's back and leaves it open.
    app.server.config["COMPRESS_STREAMS"] = False
    app.server.config["SMARTCITY_CACHE"] = {}  # this app's still layers (see dashboard.scenes)
    bundle: dict[str, bytes] = {}

    @app.server.route(DECK_URL)  # type: ignore[untyped-decorator]
    def _deck_bundle() -> Response:  # served by the app itself: works offline
        if not bundle:  # read and compressed on first use, not at import
            raw = DECK_BUNDLE.read_bytes()
            bundle.update(raw=raw, gz=gzip.compress(raw, compresslevel=6))
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        response = Response(bundle["gz" if gzipped else "raw"], mimetype="text/javascript")
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["Vary"] = "Accept-Encoding"
        return response

    @app.server.route("/healthz")  # type: ignore[untyped-decorator]
    def _health() -> Response:
        return Response("ok\n", mimetype="text/plain")

    queries.open_pool(config.dsn)  # one pool per process, opened here, never at import
    auth.install(
        app.server,
        dsn=config.dsn,
        secret_key=config.secret_key or secrets.token_urlsafe(32),
        operators=dict(config.operators),
        secure_cookies=config.secure_cookies,
    )
    app.layout = _layout  # a function: the header says who is signed in, per request
    return app


def _layout() -> html.Div:
    user = auth.current_user()
    if user is None:
        account: list[Any] = [html.A("로그인 · Sign in", href="/login", id="nav-login", className="sc-account")]
    else:
        account = [
            html.Span(f"{user.name} ({user.role})", id="nav-user", className="sc-account"),
            html.Form(
                html.Button("로그아웃 · Sign out", type="submit", id="nav-logout"),
                method="post",
                action="/logout",
                className="sc-account",
            ),
        ]
    return html.Div(
        [
            html.Header(
                [
                    html.P("고양 스마트시티센터 · Goyang Smart City Center", className="sc-brand"),
                    html.Nav(
                        [
                            *(dcc.Link(p["name"], href=p["relative_path"]) for p in dash.page_registry.values()),
                            *account,
                        ],
                        className="sc-nav",
                        **aria(label="pages · 페이지"),
                    ),
                ],
                className="sc-header",
            ),
            html.Main(dash.page_container, id="sc-main"),
        ]
    )
