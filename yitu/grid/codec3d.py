"""3D codes (GB/T 39409-2020 §6.2): the 2D code with the height digits interleaved per level.

    code3D = hemi + a0 + [L1: 3] + a1a2 + [L2: 2] + a3 + [L3: 1] + a4 + … + [L10: 2] + a11

Truncating a 3D code to level L is a prefix cut (lengths 2, 7, 10, 12, …, 32).
"""

from __future__ import annotations

from dataclasses import dataclass

from yitu.grid.codec2d import Cell, check_level, decode, format_code
from yitu.grid.constants import LEN2D, LEN3D, LEVEL_OF_LEN3D, MAX_LEVEL
from yitu.grid.errors import InvalidCodeError
from yitu.grid.height import HEIGHT_CHARS, Layer, Profile, check_profile, parse_layer


@dataclass(frozen=True, slots=True)
class Cell3D:
    """A 3D grid cell: a 2D cell and a height layer of the same level."""

    cell: Cell
    layer: Layer

    @property
    def level(self) -> int:
        return self.cell.level

    @property
    def profile(self) -> Profile:
        return self.layer.profile

    @property
    def code(self) -> str:
        return interleave(self.cell.code, self.layer)

    def __str__(self) -> str:
        return self.code

    @property
    def code2d(self) -> str:
        return self.cell.code

    @property
    def bottom(self) -> float:
        """Bottom of the height layer in metres (inclusive)."""
        return self.layer.bottom

    @property
    def top(self) -> float:
        """Top of the height layer in metres (exclusive)."""
        return self.layer.top

    @property
    def bbox(self) -> tuple[float, float, float, float, float, float]:
        """(west, south, bottom, east, north, top): lon/lat in degrees, heights in metres."""
        w, s, e, n = self.cell.bbox
        return w, s, self.bottom, e, n, self.top

    @property
    def centre(self) -> tuple[float, float, float]:
        lon, lat = self.cell.centre
        return lon, lat, (self.bottom + self.top) / 2

    def up(self, steps: int = 1) -> Cell3D | None:
        """The cell ``steps`` layers above (below if negative); None past the domain."""
        layer = self.layer.shifted(steps)
        return None if layer is None else Cell3D(self.cell, layer)

    def down(self, steps: int = 1) -> Cell3D | None:
        return self.up(-steps)

    def contains(self, lon: float, lat: float, height: float) -> bool:
        return self.cell.contains_point(lon, lat) and self.layer.contains_height(height)


def interleave(code2d: str, layer: Layer) -> str:
    """Merge a 2D code and a height layer of the same level into the 3D code string."""
    level = layer.level
    if LEN2D[level] != len(code2d):
        raise InvalidCodeError(f"2D code {code2d!r} is not of level {level}")
    parts = [code2d[0], layer.chars(0)]
    for lv in range(1, level + 1):
        parts.append(code2d[LEN2D[lv - 1] : LEN2D[lv]])
        parts.append(layer.chars(lv))
    return "".join(parts)


def encode3d(
    lon: float, lat: float, height: float, level: int = MAX_LEVEL, profile: Profile = "gb"
) -> str:
    """The 3D code of a point with geodetic height ``height`` metres.

    >>> encode3d(116.315222, 39.910278, 100, 4)
    'N050J0047050340'
    """
    return cell3d(lon, lat, height, level, profile).code


def cell3d(
    lon: float, lat: float, height: float, level: int = MAX_LEVEL, profile: Profile = "gb"
) -> Cell3D:
    check_level(level)
    layer = Layer.from_height(height, level, check_profile(profile))
    return Cell3D(Cell.from_point(lon, lat, level), layer)


def split3d(code: str) -> tuple[str, list[str], list[int]]:
    """Split a 3D code into its 2D code, its per-level height characters and their positions."""
    if not isinstance(code, str):
        raise InvalidCodeError(f"a 3D grid code must be a string, got {type(code).__name__}")
    level = LEVEL_OF_LEN3D.get(len(code))
    if level is None:
        raise InvalidCodeError(
            f"invalid 3D code {code!r}: length {len(code)} is not a 3D code length "
            f"(one of {', '.join(map(str, LEN3D))})"
        )
    parts2d = [code[0]]
    heights = [code[1]]
    positions = [2]
    pos = 2
    for lv in range(1, level + 1):
        n2d = LEN2D[lv] - LEN2D[lv - 1]
        parts2d.append(code[pos : pos + n2d])
        pos += n2d
        nh = HEIGHT_CHARS[lv]
        heights.append(code[pos : pos + nh])
        positions.append(pos + 1)
        pos += nh
    return "".join(parts2d), heights, positions


def decode3d(code: str, profile: Profile = "gb") -> Cell3D:
    """Parse and validate a 3D code; errors name the position at fault in the 3D string."""
    check_profile(profile)
    code2d, heights, positions = split3d(code)
    try:
        cell = decode(code2d)
    except InvalidCodeError as exc:
        if exc.position is None:
            raise
        pos3d = _position_in_3d(exc.position)
        raise InvalidCodeError(
            f"invalid 3D code {code!r}: character {code[pos3d - 1]!r} at position {pos3d} "
            f"{exc.reason}",
            pos3d,
            exc.reason,
        ) from None
    return Cell3D(cell, parse_layer(heights, cell.level, profile, code, positions))


def _position_in_3d(pos2d: int) -> int:
    """Map a 1-based position in the 2D code to the same character's position in the 3D code."""
    for lv in range(MAX_LEVEL + 1):
        if pos2d <= LEN2D[lv]:
            return pos2d + LEN3D[lv] - LEN2D[lv] - (HEIGHT_CHARS[lv] if lv else 1)
    raise AssertionError(pos2d)


def code2d_of(code3d: str) -> str:
    """The 2D code inside a 3D code."""
    return split3d(code3d)[0]


__all__ = ["Cell3D", "cell3d", "code2d_of", "decode3d", "encode3d", "format_code", "interleave"]
