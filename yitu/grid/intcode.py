"""The integer form of 2D codes: one signed 64-bit integer per cell, for database indexes.

Layout (mixed radix, most significant first, in the order the characters of the string appear)::

    v = hemisphere · W0 + Σ_{l=1..10} slot_l · W_l        slot_l = 0 if the code stops before
                                                           level l, else 1 + digit_l

``digit_1 = (zone − 1)·22 + row``; a two-character level gives ``lon_digit·rows + lat_digit``; the
Z-order levels 3 and 6 give their single digit. ``W_10 = 1`` and ``W_{l-1} = W_l·(radix_l + 1)``.

Why this layout:

* **same order as the strings** — an absent level sorts before every digit, exactly as a
  shorter prefix sorts before its extensions; ``N`` (0) sorts before ``S`` (1);
* **lossless** both ways for every level 0–10, and the largest value (5.46·10¹⁸) fits a signed
  BIGINT in SQLite and PostgreSQL;
* **hierarchy by arithmetic** — a cell and all its descendants are exactly the half-open range
  ``[v, v + W_level)``; the parent is ``v − v mod W_(level−1)``.
"""

from __future__ import annotations

from yitu.grid.codec2d import Cell, decode
from yitu.grid.constants import LEN2D, LEVEL_RADIX, MAX_LEVEL, SIZE_LAT, SIZE_LON, SPLIT, Z_LEVELS
from yitu.grid.errors import InvalidCodeError

#: W[l] for l = 0..10 (W[0] weights the hemisphere).
WEIGHTS: tuple[int, ...]
_w = [1]
for _lv in range(MAX_LEVEL, 0, -1):
    _w.append(_w[-1] * (LEVEL_RADIX[_lv] + 1))
WEIGHTS = tuple(reversed(_w))
del _w, _lv

#: One past the largest valid integer code.
INT_LIMIT = 2 * WEIGHTS[0]


def level_digit(cell: Cell, level: int) -> int:
    """The digit value a cell contributes at ``level`` (see the module docstring)."""
    if level == 1:
        c1 = cell.x // SIZE_LON[1]
        zone = 31 + c1 if cell.east else 30 - c1
        return (zone - 1) * 22 + cell.y // SIZE_LAT[1]
    cols, rows = SPLIT[level]
    i = cell.x // SIZE_LON[level] % cols
    j = cell.y // SIZE_LAT[level] % rows
    return 2 * j + i if level in Z_LEVELS else i * rows + j


def cell_to_int(cell: Cell) -> int:
    v = 0 if cell.north else WEIGHTS[0]
    for lv in range(1, cell.level + 1):
        v += (1 + level_digit(cell, lv)) * WEIGHTS[lv]
    return v


def to_int(code: str) -> int:
    """The integer form of a 2D code string."""
    return cell_to_int(decode(code))


def _check_int(v: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidCodeError(f"an integer grid code must be an int, got {type(v).__name__}")
    if not 0 <= v < INT_LIMIT:
        raise InvalidCodeError(f"integer grid code {v} is outside [0, {INT_LIMIT})")


def int_slots(v: int) -> list[int]:
    """Slot values [hemisphere, slot_1, …, slot_10] of a valid integer code."""
    _check_int(v)
    slots = [v // WEIGHTS[0]]
    rest = v % WEIGHTS[0]
    for lv in range(1, MAX_LEVEL + 1):
        s, rest = divmod(rest, WEIGHTS[lv])
        slots.append(s)
    return slots


def int_level(v: int) -> int:
    """The level of an integer code (validates it)."""
    slots = int_slots(v)
    level = 0
    for lv in range(1, MAX_LEVEL + 1):
        if slots[lv] == 0:
            break
        level = lv
    if any(slots[level + 1 :]):
        raise InvalidCodeError(
            f"integer grid code {v} is malformed: level {level + 1} is absent but a finer level "
            "is present"
        )
    return level


def int_to_cell(v: int) -> Cell:
    slots = int_slots(v)
    north = slots[0] == 0
    level = int_level(v)
    if level == 0:
        return Cell(0, True, north, 0, 0)
    d1 = slots[1] - 1
    zone, row = d1 // 22 + 1, d1 % 22
    east = zone >= 31
    x = (zone - 31 if east else 30 - zone) * SIZE_LON[1]
    y = row * SIZE_LAT[1]
    for lv in range(2, level + 1):
        d = slots[lv] - 1
        rows = SPLIT[lv][1]
        i, j = (d % 2, d // 2) if lv in Z_LEVELS else (d // rows, d % rows)
        x += i * SIZE_LON[lv]
        y += j * SIZE_LAT[lv]
    return Cell(level, east, north, x, y)


def from_int(v: int) -> str:
    """The code string of an integer code."""
    return int_to_cell(v).code


def int_parent(v: int, level: int | None = None) -> int:
    """The ancestor at ``level`` (default: one level up) of an integer code."""
    own = int_level(v)
    target = own - 1 if level is None else level
    if not 0 <= target <= own:
        raise InvalidCodeError(f"level {target} is not an ancestor level of a level-{own} code")
    if target == 0:
        return v - v % WEIGHTS[0]
    return v - v % WEIGHTS[target]


def int_descendant_range(v: int) -> tuple[int, int]:
    """Half-open range [lo, hi) holding the cell and every descendant at every finer level."""
    return v, v + WEIGHTS[int_level(v)]


def int_children(v: int) -> list[int]:
    """Integer codes of the direct children, in code order."""
    level = int_level(v)
    if level >= MAX_LEVEL:
        return []
    w = WEIGHTS[level + 1]
    return [v + (1 + d) * w for d in range(LEVEL_RADIX[level + 1])]


# --------------------------------------------------------------------------------------------
# 3D integer forms
# --------------------------------------------------------------------------------------------
#: Height digit values per level, the larger of the two profiles (c14 allows 0-F at levels 4-5).
HEIGHT_RADIX3D = (2, 64, 8, 2, 16, 16, 2, 8, 8, 8, 8)
#: Weights of the 128-bit 3D form: slot_0 = 2·hemisphere + a0; slot_l = 1 + d2d·HR_l + h_l.
WEIGHTS3D: tuple[int, ...]
_w3 = [1]
for _lv in range(MAX_LEVEL, 0, -1):
    _w3.append(_w3[-1] * (LEVEL_RADIX[_lv] * HEIGHT_RADIX3D[_lv] + 1))
WEIGHTS3D = tuple(reversed(_w3))
del _w3, _lv
INT3D_LIMIT = 4 * WEIGHTS3D[0]  # < 2**95: fits 128 bits, and 12 bytes


def to_int3d(code3d: str, profile: str = "gb") -> int:
    """The 128-bit integer form of a 3D code (a Python int), in the same order as the strings.

    Each level contributes one slot holding its 2D digit and its height digit, in the order the
    characters are interleaved, with 0 for an absent level (as in the 2D form). Store it as
    ``int3d_bytes`` (16 bytes, big-endian: memcmp order = numeric order) in SQL.
    """
    from yitu.grid.codec3d import decode3d

    cell3 = decode3d(code3d, profile)  # type: ignore[arg-type]
    cell, layer = cell3.cell, cell3.layer
    v = (2 * (0 if cell.north else 1) + (1 if layer.below else 0)) * WEIGHTS3D[0]
    for lv in range(1, cell.level + 1):
        v += (1 + level_digit(cell, lv) * HEIGHT_RADIX3D[lv] + layer.digit(lv)) * WEIGHTS3D[lv]
    return v


def from_int3d(v: int, profile: str = "gb") -> str:
    """The 3D code string of a 128-bit integer form (validated for ``profile``)."""
    from yitu.grid.codec3d import decode3d
    from yitu.grid.height import HEIGHT_CHARS

    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < INT3D_LIMIT:
        raise InvalidCodeError(f"integer 3D code {v!r} is outside [0, {INT3D_LIMIT})")
    slot0, rest = divmod(v, WEIGHTS3D[0])
    v2d = (slot0 // 2) * WEIGHTS[0]
    hchars = ["1" if slot0 % 2 else "0"]
    level = 0
    for lv in range(1, MAX_LEVEL + 1):
        s, rest = divmod(rest, WEIGHTS3D[lv])
        if s == 0:
            if rest:
                raise InvalidCodeError(f"integer 3D code {v} is malformed: level {lv} is absent "
                                       "but a finer level is present")
            break
        d2d, h = divmod(s - 1, HEIGHT_RADIX3D[lv])
        v2d += (1 + d2d) * WEIGHTS[lv]
        hchars.append(f"{h:02d}" if HEIGHT_CHARS[lv] == 2 else "0123456789ABCDEF"[h])
        level = lv
    code2d = from_int(v2d)
    parts = [code2d[0], hchars[0]]
    for lv in range(1, level + 1):
        parts += [code2d[LEN2D[lv - 1] : LEN2D[lv]], hchars[lv]]
    return decode3d("".join(parts), profile).code  # type: ignore[arg-type]


def int3d_bytes(v: int) -> bytes:
    """16-byte big-endian form of a 3D integer code: byte order = numeric order (BLOB/bytea)."""
    return v.to_bytes(16, "big")


def int3d_from_bytes(b: bytes) -> int:
    return int.from_bytes(b, "big")


def pair3d(code3d: str, profile: str = "gb") -> tuple[int, int]:
    """The query pair of a 3D code: (2D integer code, signed layer ordinal at its level).

    Two B-tree columns answer "in this 2D range and between these layers" directly, which the
    interleaved 128-bit form cannot; the ordinal is 0 for the first layer above ground.
    """
    from yitu.grid.codec3d import decode3d

    cell3 = decode3d(code3d, profile)  # type: ignore[arg-type]
    return cell_to_int(cell3.cell), cell3.layer.ordinal
