"""Exact scalar 2D encoding and decoding (GB/T 39409-2020 §5, project decisions §9).

The rule, in one line: fold to |lon|, |lat|, convert the input double through its shortest
round-trip decimal, multiply by 7 372 800 units per degree and floor. Cells are closed on the
side nearest the origin (0°, 0°) and open on the far side, so mirrored points get identical
level-2..10 digits and a decimal such as 111.675 that sits exactly on a cell edge goes to the
cell beyond that edge, whatever the binary rounding of the double.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from numbers import Real

from yitu.grid.constants import (
    HEX,
    LEN2D,
    LEVEL_OF_LEN2D,
    MAX_LAT_UNITS,
    MAX_LEVEL,
    MAX_LON_UNITS,
    POLAR_LIMIT_DEG,
    ROW_LETTERS,
    SIZE_LAT,
    SIZE_LON,
    SPLIT,
    UNITS_PER_DEGREE,
    Z_LEVELS,
)
from yitu.grid.errors import CoordinateError, InvalidCodeError

Number = float | int | Decimal


def check_level(level: int, minimum: int = 1) -> int:
    """Return ``level`` if it is an int in [minimum, 10], else raise a ``GridError``."""
    if isinstance(level, bool) or not isinstance(level, int) or not minimum <= level <= MAX_LEVEL:
        raise CoordinateError(
            f"level must be an integer from {minimum} to {MAX_LEVEL}, got {level!r}"
        )
    return level


def exact_decimal(value: Number, name: str) -> Decimal:
    """The exact decimal the caller meant: a double goes through its shortest repr (§9.3)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CoordinateError(f"{name} must be a finite number, got {value}")
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise CoordinateError(f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, int):
        return Decimal(value)
    f = float(value)
    if math.isnan(f):
        raise CoordinateError(f"{name} is NaN")
    if math.isinf(f):
        raise CoordinateError(f"{name} must be finite, got {f}")
    return Decimal(repr(f))


def folded_units(value: Decimal) -> int:
    """floor(|value| · 7 372 800), computed exactly on integers."""
    num, den = abs(value).as_integer_ratio()
    return num * UNITS_PER_DEGREE // den


def lon_units(lon: Number) -> tuple[bool, int]:
    """(east, folded longitude units) of a longitude; ±180° is clamped into the last column."""
    d = exact_decimal(lon, "longitude")
    x = folded_units(d)
    if abs(d) > 180:  # on the exact value: 180 < |lon| < 180 + 1/2048″ floors to the limit
        raise CoordinateError(f"longitude {lon} is outside [-180, 180]")
    return (not d.is_signed() or d == 0), min(x, MAX_LON_UNITS - 1)


def lat_units(lat: Number) -> tuple[bool, int]:
    """(north, folded latitude units) of a latitude; |lat| ≥ 88° is the unsupported polar cap."""
    d = exact_decimal(lat, "latitude")
    y = folded_units(d)
    if y >= MAX_LAT_UNITS:
        if abs(d) > 90:
            raise CoordinateError(f"latitude {lat} is outside [-90, 90]")
        raise CoordinateError(
            f"latitude {lat} is in the polar cap: |lat| must be below {POLAR_LIMIT_DEG}° "
            "(GB/T 39409 §5.3 polar codes are not supported)"
        )
    return (not d.is_signed() or d == 0), y


@dataclass(frozen=True, slots=True)
class Cell:
    """A 2D grid cell: its level, hemisphere flags and the folded units of its positioning corner.

    ``x`` and ``y`` count units (1/2048″) from the origin (0°, 0°) along |lon| and |lat| to the
    cell's 定位角点 (positioning corner), the corner nearest the origin (§3.2).
    """

    level: int
    east: bool
    north: bool
    x: int
    y: int

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_point(cls, lon: Number, lat: Number, level: int = MAX_LEVEL) -> Cell:
        check_level(level, 0)
        east, x = lon_units(lon)
        north, y = lat_units(lat)
        return cls.from_units(east, north, x, y, level)

    @classmethod
    def from_units(cls, east: bool, north: bool, x: int, y: int, level: int) -> Cell:
        """The level-``level`` cell holding the folded point (x, y) units."""
        if level == 0:
            return cls(0, True, north, 0, 0)
        w, h = SIZE_LON[level], SIZE_LAT[level]
        return cls(level, east, north, x - x % w, y - y % h)

    # --- code ---------------------------------------------------------------------------
    @property
    def code(self) -> str:
        return format_code(self.east, self.north, self.x, self.y, self.level)

    def __str__(self) -> str:
        return self.code

    # --- geometry -----------------------------------------------------------------------
    @property
    def width_units(self) -> int:
        return SIZE_LON[self.level] if self.level else MAX_LON_UNITS * 2

    @property
    def height_units(self) -> int:
        return SIZE_LAT[self.level] if self.level else MAX_LAT_UNITS

    @property
    def corner(self) -> tuple[float, float]:
        """The positioning corner (lon, lat) in degrees: the corner nearest (0°, 0°)."""
        sx = 1 if self.east else -1
        sy = 1 if self.north else -1
        return sx * self.x / UNITS_PER_DEGREE, sy * self.y / UNITS_PER_DEGREE

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        if self.level == 0:
            s, n = (0.0, float(POLAR_LIMIT_DEG)) if self.north else (-float(POLAR_LIMIT_DEG), 0.0)
            return -180.0, s, 180.0, n
        k = UNITS_PER_DEGREE
        x0, x1 = self.x / k, (self.x + self.width_units) / k
        y0, y1 = self.y / k, (self.y + self.height_units) / k
        w, e = (x0, x1) if self.east else (-x1, -x0)
        s, n = (y0, y1) if self.north else (-y1, -y0)
        return w, s, e, n

    @property
    def centre(self) -> tuple[float, float]:
        """Midpoint (lon, lat) of the cell; it re-encodes to this cell."""
        if self.level == 0:
            w, s, e, n = self.bbox
            return (w + e) / 2, (s + n) / 2
        sx = 1 if self.east else -1
        sy = 1 if self.north else -1
        k = 2 * UNITS_PER_DEGREE
        return (
            sx * (2 * self.x + self.width_units) / k,
            sy * (2 * self.y + self.height_units) / k,
        )

    def contains_point(self, lon: Number, lat: Number) -> bool:
        """True if the point encodes into this cell (the exact half-open ownership rule)."""
        return Cell.from_point(lon, lat, self.level) == self


def format_code(east: bool, north: bool, x: int, y: int, level: int) -> str:
    """The code string of the level-``level`` cell holding folded point (x, y)."""
    parts = ["N" if north else "S"]
    if level >= 1:
        c1, r1 = x // SIZE_LON[1], y // SIZE_LAT[1]
        zone = 31 + c1 if east else 30 - c1
        parts.append(f"{zone:02d}{ROW_LETTERS[r1]}")
    for lv in range(2, level + 1):
        cols, rows = SPLIT[lv]
        i = x // SIZE_LON[lv] % cols
        j = y // SIZE_LAT[lv] % rows
        parts.append(HEX[2 * j + i] if lv in Z_LEVELS else HEX[i] + HEX[j])
    return "".join(parts)


def encode(lon: Number, lat: Number, level: int = MAX_LEVEL) -> str:
    """The 2D code of the point at ``level`` (1–10).

    >>> encode(116.31260277777777, 39.993161111111114, 8)
    'N50J47539B825534'
    """
    check_level(level)
    return Cell.from_point(lon, lat, level).code


def _digit(code: str, pos: int, limit: int, what: str) -> int:
    ch = code[pos]
    value = HEX.find(ch.upper()) if ch.isascii() else -1
    if not 0 <= value < limit:
        reason = f"is not a valid {what} (0-{HEX[limit - 1]})"
        raise InvalidCodeError(
            f"invalid grid code {code!r}: character {ch!r} at position {pos + 1} {reason}",
            pos + 1,
            reason,
        )
    return value


def decode(code: str) -> Cell:
    """Parse and validate a 2D code (case-insensitive); errors name the position at fault."""
    if not isinstance(code, str):
        raise InvalidCodeError(f"a grid code must be a string, got {type(code).__name__}")
    level = LEVEL_OF_LEN2D.get(len(code))
    if level is None:
        raise InvalidCodeError(
            f"invalid grid code {code!r}: length {len(code)} is not a 2D code length "
            f"(one of {', '.join(map(str, LEN2D))})"
        )
    hemi = code[0].upper()
    if hemi not in ("N", "S"):
        reason = "must be the hemisphere letter N or S"
        raise InvalidCodeError(
            f"invalid grid code {code!r}: position 1 {reason}, got {code[0]!r}", 1, reason
        )
    north = hemi == "N"
    if level == 0:
        return Cell(0, True, north, 0, 0)
    zone_txt = code[1:3]
    if not (zone_txt.isascii() and zone_txt.isdigit() and 1 <= int(zone_txt) <= 60):
        reason = "must be a longitude zone 01-60"
        raise InvalidCodeError(
            f"invalid grid code {code!r}: positions 2-3 {reason}, got {zone_txt!r}", 2, reason
        )
    zone = int(zone_txt)
    r1 = ROW_LETTERS.find(code[3].upper()) if code[3].isascii() else -1
    if r1 < 0:
        reason = "must be a latitude row letter A-V"
        raise InvalidCodeError(
            f"invalid grid code {code!r}: position 4 {reason}, got {code[3]!r}", 4, reason
        )
    east = zone >= 31
    x = (zone - 31 if east else 30 - zone) * SIZE_LON[1]
    y = r1 * SIZE_LAT[1]
    pos = 4
    for lv in range(2, level + 1):
        cols, rows = SPLIT[lv]
        if lv in Z_LEVELS:
            d = _digit(code, pos, cols * rows, f"level-{lv} digit")
            i, j = d % 2, d // 2
            pos += 1
        else:
            i = _digit(code, pos, cols, f"level-{lv} longitude digit")
            j = _digit(code, pos + 1, rows, f"level-{lv} latitude digit")
            pos += 2
        x += i * SIZE_LON[lv]
        y += j * SIZE_LAT[lv]
    return Cell(level, east, north, x, y)


def normalize(code: str) -> str:
    """The canonical (uppercase, validated) form of a 2D code."""
    return decode(code).code
