"""Reference codes (参照网格位置码, GB/T 39409 §7) and short codes (简码, §8).

A reference code names a cell by its position relative to a nearby reference cell ``C0``::

    C0-MN[-M'N'…]

* ``C0`` is a 2D code of level ≥ 5 (a level-5 cell is ~124 m, so ±7 cells span ~1 km).
* The first group ``MN`` is the offset, in cells of C0's level, of the target's ancestor at that
  level: ``M`` east–west, ``N`` north–south. ``0``–``7`` mean +0…+7 (east / north), ``A``–``G``
  mean −1…−7 (west / south). The directions are **geographic**, not the code's folded axes, so
  going east in the western hemisphere still reads as a positive ``M``.
* Each further group refines one level (§7.3 b): it is the target's cell of that level inside
  its parent, written as the signed geographic offset, in cells of that level, from the child
  at the parent's positioning corner (定位角点, the corner nearest (0°, 0°)). In the NE
  hemisphere that is just the code's own column/row digit pair; in the western hemisphere the
  column counts westward and so is written ``0`` or ``A``–``G``, and likewise the row in the
  southern hemisphere. Z-order levels (6) are written as a column/row pair too, never as the
  single Z digit.

The refinement rule follows the only public implementation, ``Codec2D.refer``/``deRefer`` of
the npm package ``beidou-grid-location-codec`` (``src/codec-2d.ts``; the stored copy read was
the ``Gvitech-gis`` fork of v1.1.13, identical in these functions), which reproduces the
standard's §8 examples. One deliberate difference: that library reads the refinement groups
with the *reference's* hemisphere signs; here they use the hemisphere of the target itself,
which only differs when the first group crosses the equator or the prime meridian, where the
library would produce a wrong cell.

A short code replaces ``C0`` by a place name known to both sides: ``求是塔-20``.
"""

from __future__ import annotations

from collections.abc import Mapping

from yitu.grid.codec2d import Cell, decode
from yitu.grid.constants import MAX_LEVEL, SIZE_LAT, SIZE_LON, SPLIT
from yitu.grid.errors import GridError, InvalidCodeError
from yitu.grid.hierarchy import _from_lattice, _half_counts, _lattice

#: The finest reference cell level allowed is 10, the coarsest 5 (§7.2).
MIN_REFERENCE_LEVEL = 5
#: Largest offset one group can express (digits 0–7, letters A–G).
MAX_OFFSET = 7
SEPARATOR = "-"


def _offset_char(value: int) -> str:
    return str(value) if value >= 0 else chr(ord("A") - value - 1)


def _allowed(count: int, positive_side: bool) -> str:
    """The characters a refinement offset may use along an axis with ``count`` cells."""
    if positive_side:
        return f"0-{count - 1}"
    last = _offset_char(-(count - 1))
    return "0 or A" if last == "A" else f"0 or A-{last}"


def _parse_offset_char(ch: str, ref_code: str, group: int, axis: str) -> int:
    c = ch.upper()
    if "0" <= c <= "7":
        return ord(c) - ord("0")
    if "A" <= c <= "G":
        return -(ord(c) - ord("A") + 1)
    raise InvalidCodeError(
        f"invalid reference code {ref_code!r}: {axis} offset {ch!r} in group {group} must be "
        "0-7 (east/north +0..+7) or A-G (west/south -1..-7)"
    )


def _reference_cell(reference_code: str) -> Cell:
    ref = decode(reference_code)
    if ref.level < MIN_REFERENCE_LEVEL:
        raise GridError(
            f"reference cell {reference_code!r} is level {ref.level}: a reference cell must be "
            f"level {MIN_REFERENCE_LEVEL} or finer (GB/T 39409 §7)"
        )
    return ref


def _check_separator(separator: str) -> str:
    if not isinstance(separator, str) or len(separator) != 1 or separator.isalnum():
        raise GridError(f"separator must be one non-alphanumeric character, got {separator!r}")
    return separator


def refer(target_code: str, reference_code: str, separator: str = SEPARATOR) -> str:
    """The reference code of ``target_code`` relative to the cell ``reference_code``.

    A target at the reference's level gives one offset group; a finer target adds one
    refinement group per extra level. Raises ``GridError`` naming the offset if the target's
    ancestor lies more than 7 cells from the reference in either direction.

    >>> refer("N50J475493E", "N50J475491E")
    'N50J475491E-20'
    >>> refer("N50J475491E", "N50J475493E")
    'N50J475493E-B0'
    """
    sep = _check_separator(separator)
    ref = _reference_cell(reference_code)
    tgt = decode(target_code)
    if tgt.level < ref.level:
        raise GridError(
            f"target {target_code!r} (level {tgt.level}) is coarser than reference "
            f"{reference_code!r} (level {ref.level}): a reference code cannot name it"
        )
    base = Cell.from_units(tgt.east, tgt.north, tgt.x, tgt.y, ref.level)
    (tx, ty), (rx, ry) = _lattice(base), _lattice(ref)
    n_cols = 2 * _half_counts(ref.level)[0]
    # Shortest way around ±180°, so a reference code works across the antimeridian.
    dx = (tx - rx + n_cols // 2) % n_cols - n_cols // 2
    dy = ty - ry
    if abs(dx) > MAX_OFFSET or abs(dy) > MAX_OFFSET:
        raise GridError(
            f"target {target_code!r} is {dx:+d} cells east and {dy:+d} cells north of reference "
            f"{reference_code!r} (level {ref.level}); a reference code reaches at most "
            f"±{MAX_OFFSET} cells in each direction"
        )
    groups = [_offset_char(dx) + _offset_char(dy)]
    for lv in range(ref.level + 1, tgt.level + 1):
        cols, rows = SPLIT[lv]
        i = tgt.x // SIZE_LON[lv] % cols
        j = tgt.y // SIZE_LAT[lv] % rows
        groups.append(_offset_char(i if tgt.east else -i) + _offset_char(j if tgt.north else -j))
    return ref.code + sep + sep.join(groups)


def dereference(ref_code: str, separator: str = SEPARATOR) -> str:
    """The full 2D code a reference code ``C0-MN[-M'N'…]`` denotes (inverse of ``refer``).

    Raises ``InvalidCodeError`` naming the group and character at fault, ``GridError`` if the
    offset leaves the ±88° grid.
    """
    sep = _check_separator(separator)
    if not isinstance(ref_code, str):
        raise InvalidCodeError(f"a reference code must be a string, got {type(ref_code).__name__}")
    parts = ref_code.split(sep)
    if len(parts) < 2:
        raise InvalidCodeError(
            f"invalid reference code {ref_code!r}: expected C0{sep}MN, found no {sep!r} separator"
        )
    ref = _reference_cell(parts[0])
    groups = parts[1:]
    if ref.level + len(groups) - 1 > MAX_LEVEL:
        raise InvalidCodeError(
            f"invalid reference code {ref_code!r}: {len(groups) - 1} refinement groups after a "
            f"level-{ref.level} reference cell go past level {MAX_LEVEL}"
        )
    for g, group in enumerate(groups, start=1):
        if len(group) != 2:
            raise InvalidCodeError(
                f"invalid reference code {ref_code!r}: group {g} {group!r} must be exactly two "
                "characters MN"
            )
    dx = _parse_offset_char(groups[0][0], ref_code, 1, "longitude")
    dy = _parse_offset_char(groups[0][1], ref_code, 1, "latitude")
    rx, ry = _lattice(ref)
    cell = _from_lattice(rx + dx, ry + dy, ref.level)
    if cell is None:
        raise GridError(
            f"reference code {ref_code!r} points {dy:+d} rows from {parts[0]!r}, beyond the ±88° "
            "latitude limit"
        )
    x, y = cell.x, cell.y
    for g, group in enumerate(groups[1:], start=2):
        lv = ref.level + g - 1
        cols, rows = SPLIT[lv]
        a = _parse_offset_char(group[0], ref_code, g, "longitude")
        b = _parse_offset_char(group[1], ref_code, g, "latitude")
        # Back to the folded index: westward / southward offsets count away from the origin.
        i = a if cell.east else -a
        j = b if cell.north else -b
        if not 0 <= i < cols:
            side = "east" if cell.east else "west"
            raise InvalidCodeError(
                f"invalid reference code {ref_code!r}: group {g} longitude offset {group[0]!r} "
                f"leaves the level-{lv - 1} parent cell; in the {side}ern hemisphere it must be "
                + _allowed(cols, cell.east)
            )
        if not 0 <= j < rows:
            side = "north" if cell.north else "south"
            raise InvalidCodeError(
                f"invalid reference code {ref_code!r}: group {g} latitude offset {group[1]!r} "
                f"leaves the level-{lv - 1} parent cell; in the {side}ern hemisphere it must be "
                + _allowed(rows, cell.north)
            )
        x += i * SIZE_LON[lv]
        y += j * SIZE_LAT[lv]
    level = ref.level + len(groups) - 1
    return Cell(level, cell.east, cell.north, x, y).code


def _check_place_name(place_name: str, separator: str) -> str:
    if not isinstance(place_name, str) or not place_name.strip():
        raise GridError(f"a place name must be a non-empty string, got {place_name!r}")
    if place_name.endswith(separator):
        raise GridError(f"place name {place_name!r} must not end with the separator {separator!r}")
    return place_name


def short_code(
    place_name: str, target_code: str, reference_code: str, separator: str = SEPARATOR
) -> str:
    """The short code ``<place name>-MN…`` of ``target_code``, where the place is the cell
    ``reference_code`` (GB/T 39409 §8).

    >>> short_code("求是塔", "N50J475493E", "N50J475491E")
    '求是塔-20'
    """
    sep = _check_separator(separator)
    name = _check_place_name(place_name, sep)
    ref = refer(target_code, reference_code, sep)
    return name + ref[ref.index(sep) :]


def resolve_short_code(short: str, places: Mapping[str, str], separator: str = SEPARATOR) -> str:
    """The full 2D code of a short code, given the reference cell of each place name.

    The longest place name followed by the separator wins, so names may contain the separator.

    >>> resolve_short_code("求是塔-20", {"求是塔": "N50J475491E"})
    'N50J475493E'
    """
    sep = _check_separator(separator)
    if not isinstance(short, str):
        raise InvalidCodeError(f"a short code must be a string, got {type(short).__name__}")
    matches = [name for name in places if short.startswith(name + sep)]
    if not matches:
        head = short.split(sep, 1)[0]
        raise GridError(f"short code {short!r}: unknown place name {head!r}")
    name = max(matches, key=len)
    return dereference(places[name] + short[len(name) :], sep)


__all__ = [
    "MAX_OFFSET",
    "MIN_REFERENCE_LEVEL",
    "dereference",
    "refer",
    "resolve_short_code",
    "short_code",
]
