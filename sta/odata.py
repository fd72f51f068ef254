"""The query language of SensorThings (OData's, cut to the standard): ``$filter`` and
``$orderby`` expressions, ``$expand``/``$select`` lists and the other options, read into
plain values. Pure: no SQL here (``sta.queries`` compiles what this returns).

Every refusal is a :class:`~sta.errors.BadRequest` naming the option and the place in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Union

from sta.errors import BadRequest

MAX_TOP = 10_000  # the most entities one page returns, whatever $top asks
MAX_EXPRESSION_CHARS = 4_000
MAX_DEPTH = 40  # nesting of an expression or of $expand: deeper is refused, not recursed

# -- the expression tree --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: ``kind`` is number, string, bool, null, datetime, date, duration or geometry
    (a geometry's value is its WKT, a duration's its ISO 8601 text)."""

    value: object
    kind: str


@dataclass(frozen=True, slots=True)
class Path:
    """A property or a navigation path, ``Datastream/Thing/properties/kind``."""

    segments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # eq ne gt ge lt le and or add sub mul div mod
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # not, neg
    operand: Expr


Expr = Union[Literal, Path, Call, Binary, Unary]  # noqa: UP007  # a runtime alias for isinstance users

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_BINDING = {"or": 1, "and": 2, "eq": 4, "ne": 4, "gt": 4, "ge": 4, "lt": 4, "le": 4,
            "add": 5, "sub": 5, "mul": 6, "div": 6, "mod": 6}  # fmt: skip

# -- tokens -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<typed>(?:duration|geography|geometry)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_@$][A-Za-z0-9_.@$]*)
  | (?P<punct>[(),/])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str, option: str) -> list[_Token]:
    out: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise BadRequest(f"{option}: cannot read {text[at : at + 20]!r} at character {at + 1}")
        kind = match.lastgroup or ""
        if kind == "number" and text[at] == "-" and out and _ends_value(out[-1]):
            out.append(_Token("name", "sub", at))  # "a -1" is not OData, but "2-1" was meant as subtraction
            at += 1
            continue
        if kind != "space":
            out.append(_Token(kind, match.group(), at))
        at = match.end()
    return out


def _ends_value(token: _Token) -> bool:
    return (
        token.kind in ("number", "string", "typed", "datetime", "date")
        or token.text == ")"
        or (token.kind == "name" and token.text not in _BINDING and token.text != "not")
    )


# -- expressions ------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, option: str) -> None:
        if len(text) > MAX_EXPRESSION_CHARS:
            raise BadRequest(f"{option} is {len(text)} characters long; the limit is {MAX_EXPRESSION_CHARS}")
        self.option = option
        self.tokens = _tokens(text, option)
        self.at = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str = "") -> _Token:
        token = self.peek()
        if token is None:
            raise BadRequest(f"{self.option} ends too early" + (f"; expected {expected!r}" if expected else ""))
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take(text)
        if token.text != text:
            raise BadRequest(f"{self.option}: expected {text!r} at character {token.at + 1}, found {token.text!r}")

    def expression(self, min_binding: int = 0) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BadRequest(f"{self.option} nests deeper than {MAX_DEPTH} levels")
        left = self.unary()
        while True:
            token = self.peek()
            if token is None or token.kind != "name" or token.text not in _BINDING:
                break
            binding = _BINDING[token.text]
            if binding <= min_binding:
                break
            self.at += 1
            right = self.expression(binding)
            left = Binary(token.text, left, right)
        self.depth -= 1
        return left

    def unary(self) -> Expr:
        token = self.take()
        if token.kind == "name" and token.text == "not":
            return Unary("not", self.expression(3))
        if token.kind == "name" and token.text == "sub":  # a minus before a path or a bracket
            return Unary("neg", self.expression(6))
        return self.primary(token)

    def primary(self, token: _Token) -> Expr:
        if token.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"), "string")
        if token.kind == "number":
            text = token.text
            value: object = float(text) if any(c in text for c in ".eE") else int(text)
            return Literal(value, "number")
        if token.kind == "datetime":
            try:
                return Literal(datetime.fromisoformat(token.text.replace("Z", "+00:00")), "datetime")
            except ValueError:
                raise BadRequest(f"{self.option}: {token.text!r} is not a date and time") from None
        if token.kind == "date":
            try:
                return Literal(date.fromisoformat(token.text), "date")
            except ValueError:
                raise BadRequest(f"{self.option}: {token.text!r} is not a date") from None
        if token.kind == "typed":
            return _typed(token.text, self.option)
        if token.kind == "name":
            lowered = token.text.lower()
            if lowered in ("true", "false"):
                return Literal(lowered == "true", "bool")
            if lowered == "null":
                return Literal(None, "null")
            if token.text in _BINDING:
                raise BadRequest(f"{self.option}: operator {token.text!r} at character {token.at + 1} has no left side")
            following = self.peek()
            if following is not None and following.text == "(":
                return self.call(token.text)
            return self.path(token.text)
        raise BadRequest(f"{self.option}: unexpected {token.text!r} at character {token.at + 1}")

    def call(self, name: str) -> Call:
        self.expect("(")
        args: list[Expr] = []
        if self.peek() is not None and self.peek().text == ")":  # type: ignore[union-attr]
            self.at += 1
            return Call(name.lower(), ())
        while True:
            args.append(self.expression())
            token = self.take()
            if token.text == ")":
                return Call(name.lower(), tuple(args))
            if token.text != ",":
                raise BadRequest(f"{self.option}: expected ',' or ')' in {name}(...) at character {token.at + 1}")

    def path(self, first: str) -> Path:
        segments = [first]
        while self.peek() is not None and self.peek().text == "/":  # type: ignore[union-attr]
            self.at += 1
            token = self.take()
            if token.kind != "name":
                raise BadRequest(f"{self.option}: expected a property name after '/' at character {token.at + 1}")
            segments.append(token.text)
        return Path(tuple(segments))


_DURATION = re.compile(r"^-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_WKT = re.compile(r"^\s*(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON)\s*(\(.*\))\s*$", re.I | re.S)


def _typed(text: str, option: str) -> Literal:
    prefix, _, quoted = text.partition("'")
    body = quoted[:-1].replace("''", "'")
    if prefix == "duration":
        if not _DURATION.match(body):
            raise BadRequest(f"{option}: duration'{body}' is not an ISO 8601 duration such as P1DT2H")
        return Literal(body, "duration")
    if not _WKT.match(body):
        raise BadRequest(
            f"{option}: {prefix}'{body[:60]}' is not a WKT geometry such as POINT(126.83 37.66) "
            "or POLYGON((lon lat, ...)) in longitude and latitude"
        )
    if body.count("(") != body.count(")") or len(body) > 100_000:
        raise BadRequest(f"{option}: {prefix}'{body[:60]}...' has unbalanced brackets or is too long")
    return Literal(body.strip(), "geometry")


def parse_expression(text: str, option: str = "$filter") -> Expr:
    """The expression tree of a ``$filter`` value."""
    if not text.strip():
        raise BadRequest(f"{option} is empty")
    parser = _Parser(text, option)
    tree = parser.expression()
    extra = parser.peek()
    if extra is not None:
        raise BadRequest(f"{option}: unexpected {extra.text!r} at character {extra.at + 1}")
    return tree


def parse_orderby(text: str) -> tuple[tuple[Expr, bool], ...]:
    """``$orderby``: expressions, each with ``asc`` (default) or ``desc``; True means descending."""
    out: list[tuple[Expr, bool]] = []
    for part in split_top(text, ",", "$orderby"):
        words = part.strip()
        descending = False
        match = re.search(r"\s+(asc|desc)$", words, re.I)
        if match:
            descending = match.group(1).lower() == "desc"
            words = words[: match.start()]
        out.append((parse_expression(words, "$orderby"), descending))
    return tuple(out)


# -- the other options --------------------------------------------------------------------


@dataclass(frozen=True)
class Expand:
    nav: str
    options: Options


@dataclass(frozen=True)
class Options:
    filter: Expr | None = None
    orderby: tuple[tuple[Expr, bool], ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    select: tuple[str, ...] | None = None
    expand: tuple[Expand, ...] = field(default=())
    result_format: str | None = None


_KNOWN = ("$filter", "$orderby", "$top", "$skip", "$count", "$select", "$expand", "$resultFormat")


def parse_options(raw: Mapping[str, str], *, nested: bool = False, depth: int = 0) -> Options:
    """The query options of a request (or of one ``$expand`` item, ``nested``).

    Parameters without a ``$`` are not ours and are ignored, as OData asks.
    """
    if depth > 8:
        raise BadRequest("$expand nests deeper than 8 levels")
    unknown = [k for k in raw if k.startswith("$") and k not in _KNOWN]
    if unknown:
        raise BadRequest(f"unknown query option {unknown[0]!r}; known: {', '.join(_KNOWN)}")
    if nested and "$resultFormat" in raw:
        raise BadRequest("$resultFormat applies to the request, not inside $expand")
    result_format = raw.get("$resultFormat")
    if result_format is not None and result_format != "dataArray":
        raise BadRequest(f"$resultFormat={result_format!r} is not supported; the one format offered is dataArray")
    return Options(
        filter=parse_expression(raw["$filter"]) if "$filter" in raw else None,
        orderby=parse_orderby(raw["$orderby"]) if "$orderby" in raw else (),
        top=_count_option(raw, "$top"),
        skip=_count_option(raw, "$skip") or 0,
        count=_boolean(raw.get("$count", "false"), "$count"),
        select=_select(raw["$select"]) if "$select" in raw else None,
        expand=_expand(raw["$expand"], depth) if "$expand" in raw else (),
        result_format=result_format,
    )


def _count_option(raw: Mapping[str, str], name: str) -> int | None:
    text = raw.get(name)
    if text is None:
        return None
    if not re.fullmatch(r"\s*[0-9]{1,13}\s*", text):  # ASCII digits: str.isdigit() also takes '²'
        raise BadRequest(f"{name}={text[:30]!r} must be a non-negative integer")
    value = int(text)
    if value > 10**12:
        raise BadRequest(f"{name}={value} is too large")
    return value


def _boolean(text: str, name: str) -> bool:
    if text not in ("true", "false"):
        raise BadRequest(f"{name}={text[:30]!r} must be true or false")
    return text == "true"


_NAME = re.compile(r"^[A-Za-z@][A-Za-z0-9_.@]*(?:/[A-Za-z@][A-Za-z0-9_.@]*)*$")


def _select(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    for name in names:
        if not _NAME.match(name):
            raise BadRequest(f"$select: {name[:40]!r} is not a property name")
    return names


def _expand(text: str, depth: int) -> tuple[Expand, ...]:
    items: list[Expand] = []
    for part in split_top(text, ",", "$expand"):
        item = part.strip()
        inner: dict[str, str] = {}
        if item.endswith(")") and "(" in item:
            head, _, rest = item.partition("(")
            for option in split_top(rest[:-1], ";", "$expand"):
                key, eq, value = option.partition("=")
                if not eq:
                    raise BadRequest(f"$expand: {option.strip()[:40]!r} inside {head}(...) is not $option=value")
                inner[key.strip()] = value.strip()
            item = head.strip()
        segments = item.split("/")
        if not all(_NAME.match(s) for s in segments):
            raise BadRequest(f"$expand: {item[:40]!r} is not a navigation path")
        options = parse_options(inner, nested=True, depth=depth + 1)
        for nav in reversed(segments[1:]):  # Datastreams/Observations: Observations inside Datastreams
            options = Options(expand=(Expand(nav, options),))
        items.append(Expand(segments[0], options))
    return tuple(items)


def split_top(text: str, separator: str, option: str) -> list[str]:
    """``text`` split on ``separator`` outside brackets and quoted strings."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"{option}: unbalanced ')' at character {i + 1}")
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0 or quoted:
        raise BadRequest(f"{option}: unbalanced brackets or quotes")
    parts.append(text[start:])
    if any(not p.strip() for p in parts):
        raise BadRequest(f"{option}: an empty item between {separator!r}s")
    return parts
