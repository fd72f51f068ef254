"""Korean parcel numbers (PNU) and lot-number addresses: pure parsing and building.

A PNU has 19 digits: the 10-digit legal-dong code (시도 2, 시군구 3, 읍면동 3, 리 2),
the land-register kind (1 for the ordinary register, 2 for the forest register, written
산 in an address), the main lot number (본번, 4 digits) and the sub number (부번, 4).
``4128112000101200005`` is 토당동 120-5 in Deogyang-gu, Goyang.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twin.errors import LookupRefused

_ADDRESS = re.compile(
    r"^\s*(?:경기도\s+|경기\s+)?(?:고양시\s+)?(?:(?P<gu>\S+구)\s+)?(?P<dong>\S+?[동리가])\s+"
    r"(?P<san>산\s*)?(?P<main>\d{1,4})(?:-(?P<sub>\d{1,4}))?(?:\s*번지)?\s*$"
)


@dataclass(frozen=True)
class Pnu:
    legal_dong_code: str  # 10 digits
    mountain: bool  # on the forest register (산)
    main: int
    sub: int

    def __str__(self) -> str:
        return f"{self.legal_dong_code}{2 if self.mountain else 1}{self.main:04d}{self.sub:04d}"

    @property
    def lot(self) -> str:
        """The lot number as written in an address: ``산38-10``, ``120-5``, ``965``."""
        return f"{'산' if self.mountain else ''}{self.main}{f'-{self.sub}' if self.sub else ''}"


def parse_pnu(text: str) -> Pnu:
    """A PNU from its 19 digits.

    Raises:
        LookupRefused: not 19 digits, or a register kind other than 1 or 2.
    """
    digits = text.strip()
    if not re.fullmatch(r"\d{19}", digits):
        raise LookupRefused(f"a PNU has 19 digits, got {text!r}")
    if digits[10] not in "12":
        raise LookupRefused(f"PNU {digits}: digit 11 is the register kind, 1 or 2 (산), got {digits[10]}")
    main, sub = int(digits[11:15]), int(digits[15:19])
    if main == 0:
        raise LookupRefused(f"PNU {digits}: the main lot number (digits 12-15) cannot be 0000")
    return Pnu(digits[:10], digits[10] == "2", main, sub)


@dataclass(frozen=True)
class LotAddress:
    gu: str | None  # 일산동구; may be left out when the dong name is unique
    dong: str  # legal dong (법정동), e.g. 장항동
    mountain: bool
    main: int
    sub: int


def parse_address(text: str) -> LotAddress:
    """A lot-number address such as ``일산동구 장항동 1234-5`` or ``덕양구 벽제동 산38-10번지``.

    Raises:
        LookupRefused: the text is not ``[gu] dong [산]main[-sub]``; the message shows the form.
    """
    match = _ADDRESS.match(text)
    if not match:
        raise LookupRefused(
            f"cannot read {text!r} as a lot-number address; expected e.g. '일산동구 장항동 1234-5' or '벽제동 산38-10'"
        )
    main = int(match["main"])
    if main == 0:
        raise LookupRefused(f"{text!r}: the main lot number cannot be 0")
    return LotAddress(match["gu"], match["dong"], bool(match["san"]), main, int(match["sub"] or 0))


def looks_like_pnu(text: str) -> bool:
    return bool(re.fullmatch(r"\s*\d{19}\s*", text))
