"""Accessible controls: toggle-button groups and an hour slider that a keyboard and a screen
reader can use.

Dash's own checklist and radio items nest their inputs inside interactive labels, and its
slider's thumb has no name; axe-core rates both serious. These are plain buttons with
``aria-pressed`` in a named group, and a native range input with its own label: focusable
in page order, pressed with Enter or Space, moved with the arrow keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dash import ALL, Input, Output, State, callback, ctx, dcc, html

__all__ = ["aria", "hour_offset", "hour_slider", "register_toggles", "toggle_group", "toggled"]

Option = tuple[str, str]  # (value, label)


def aria(**attributes: str) -> dict[str, Any]:
    """ARIA attributes for a Dash component: ``aria(label="map")`` is ``{"aria-label": "map"}``
    (Dash takes them as keyword arguments, which Python cannot spell with a dash)."""
    return {f"aria-{name}": value for name, value in attributes.items()}


def toggle_group(group_id: str, options: Sequence[Option], value: Sequence[str], *, label: str) -> html.Div:
    """A named group of toggle buttons whose chosen values live in ``dcc.Store(id=group_id)``."""
    chosen = set(value)
    buttons = [
        html.Button(
            text,
            id={"type": f"{group_id}-opt", "value": option},
            n_clicks=0,
            type="button",
            className="sc-toggle" + (" on" if option in chosen else ""),
            **aria(pressed="true" if option in chosen else "false"),
        )
        for option, text in options
    ]
    return html.Div(
        [
            html.Span(label, className="sc-toggle-label", id=f"{group_id}-label"),
            *buttons,
            dcc.Store(id=group_id, data=list(value)),
        ],
        role="group",
        className="sc-toggle-group",
        **aria(labelledby=f"{group_id}-label"),
    )


def toggled(current: Sequence[str], clicked: str, options: Sequence[str], *, multiple: bool) -> list[str]:
    """The values after a click on ``clicked``: flipped in a multiple-choice group, chosen alone
    in a single-choice one (a click on the chosen one keeps it). Unknown values are ignored."""
    known = [o for o in options if o in set(current)]
    if clicked not in options:
        return known
    if not multiple:
        return [clicked]
    if clicked in known:
        return [o for o in known if o != clicked]
    return [o for o in options if o in set(known) | {clicked}]


def register_toggles(group_id: str, options: Sequence[Option], *, multiple: bool) -> None:
    """The callback that keeps a toggle group's store, pressed states and classes in step."""
    values = [o for o, _ in options]

    @callback(
        Output(group_id, "data"),
        Output({"type": f"{group_id}-opt", "value": ALL}, "aria-pressed"),
        Output({"type": f"{group_id}-opt", "value": ALL}, "className"),
        Input({"type": f"{group_id}-opt", "value": ALL}, "n_clicks"),
        State(group_id, "data"),
        prevent_initial_call=True,
    )
    def _toggle(_: list[int | None], current: list[str] | None) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        clicked = trigger.get("value") if isinstance(trigger, dict) else None
        chosen = toggled(current or [], str(clicked), values, multiple=multiple)
        pressed = ["true" if o in chosen else "false" for o in values]
        classes = ["sc-toggle on" if o in chosen else "sc-toggle" for o in values]
        return chosen, pressed, classes


def hour_slider(slider_id: str, *, hours_back: int, label: str) -> html.Div:
    """A labelled native range input from ``-hours_back`` to 0 (now), with the hour it shows
    spoken as it changes."""
    return html.Div(
        [
            html.Label(label, htmlFor=slider_id, className="sc-slider-label"),
            dcc.Input(id=slider_id, type="range", min=-hours_back, max=0, step=1, value=0, className="sc-range"),
            html.Span("now", id=f"{slider_id}-text", className="sc-slider-label", **aria(live="polite")),
        ],
        className="sc-slider",
    )


def hour_offset(raw: object, *, hours_back: int) -> int:
    """The slider's value as whole hours in ``[-hours_back, 0]``; anything else a browser
    could send (text, fractions, out of range, booleans) is read as 0, now."""
    if isinstance(raw, bool):
        return 0
    try:
        value = float(str(raw))
    except ValueError:
        return 0
    if math.isnan(value) or not (-hours_back <= value <= 0) or value != int(value):
        return 0
    return int(value)
