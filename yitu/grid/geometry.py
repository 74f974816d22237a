"""Cell geometry: bounding boxes, centres, shapely polygons and GeoJSON for 2D and 3D codes.

2D and 3D codes share four lengths (7, 12, 18 and 20 characters), so the functions take
``dims=2`` or ``dims=3`` explicitly; with ``dims=None`` (the default) ``code_dims`` decides, and
it is never ambiguous for a well-formed code: character 4 is the level-1 row *letter* of a 2D
code but the second *digit* of the zone in a 3D code (``N50J475`` vs ``N050J00``).

Polygons and GeoJSON rings are ``[(W,S), (E,S), (E,N), (W,N), (W,S)]``: closed and
counter-clockwise (the RFC 7946 right-hand rule for exterior rings) in every hemisphere, built
from the exact bounding box of the cell (spec §3.2, §3.5), not from the positioning corner plus
positive sizes, which is wrong outside the NE hemisphere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

from shapely.geometry import Polygon

from yitu.grid.codec2d import decode
from yitu.grid.codec3d import decode3d
from yitu.grid.constants import LEVEL_OF_LEN2D, LEVEL_OF_LEN3D
from yitu.grid.errors import GridError, InvalidCodeError
from yitu.grid.height import Profile

Dims = Literal[2, 3]
BBox2D = tuple[float, float, float, float]
BBox3D = tuple[float, float, float, float, float, float]


def code_dims(code: str) -> Dims:
    """2 for a 2D code, 3 for a 3D code, from its length and (for the shared lengths 7, 12,
    18, 20) its 4th character: a row letter in 2D, a zone digit in 3D. Does not validate the
    rest of the code.
    """
    if not isinstance(code, str):
        raise InvalidCodeError(f"a grid code must be a string, got {type(code).__name__}")
    is2, is3 = len(code) in LEVEL_OF_LEN2D, len(code) in LEVEL_OF_LEN3D
    if is2 and not is3:
        return 2
    if is3 and not is2:
        return 3
    if is2 and is3:
        ch = code[3]
        if ch.isascii() and ch.isalpha():
            return 2
        if ch.isascii() and ch.isdigit():
            return 3
        raise InvalidCodeError(
            f"invalid grid code {code!r}: character {ch!r} at position 4 is neither a row letter "
            "(2D code) nor a zone digit (3D code)",
            4,
        )
    raise InvalidCodeError(
        f"invalid grid code {code!r}: length {len(code)} is neither a 2D nor a 3D code length"
    )


def _dims(code: str, dims: Dims | None) -> Dims:
    if dims is None:
        return code_dims(code)
    if dims not in (2, 3):
        raise GridError(f"dims must be 2, 3 or None, got {dims!r}")
    return dims


@overload
def cell_bbox(code: str, dims: Literal[2], profile: Profile = "gb") -> BBox2D: ...
@overload
def cell_bbox(code: str, dims: Literal[3], profile: Profile = "gb") -> BBox3D: ...
@overload
def cell_bbox(code: str, dims: None = None, profile: Profile = "gb") -> BBox2D | BBox3D: ...
def cell_bbox(code: str, dims: Dims | None = None, profile: Profile = "gb") -> BBox2D | BBox3D:
    """(west, south, east, north) of a 2D code in degrees; for a 3D code
    (west, south, bottom, east, north, top) with heights in metres (``profile`` reads them).
    """
    if _dims(code, dims) == 2:
        return decode(code).bbox
    return decode3d(code, profile).bbox


@overload
def cell_centre(code: str, dims: Literal[2], profile: Profile = "gb") -> tuple[float, float]: ...
@overload
def cell_centre(
    code: str, dims: Literal[3], profile: Profile = "gb"
) -> tuple[float, float, float]: ...
@overload
def cell_centre(
    code: str, dims: None = None, profile: Profile = "gb"
) -> tuple[float, float] | tuple[float, float, float]: ...
def cell_centre(
    code: str, dims: Dims | None = None, profile: Profile = "gb"
) -> tuple[float, float] | tuple[float, float, float]:
    """Centre (lon, lat) of a 2D cell; (lon, lat, height) of a 3D cell, the height being the
    midpoint of the layer's bottom and top in metres.
    """
    if _dims(code, dims) == 2:
        return decode(code).centre
    return decode3d(code, profile).centre


def _footprint(code: str, dims: Dims | None, profile: Profile) -> BBox2D:
    if _dims(code, dims) == 2:
        return decode(code).bbox
    return decode3d(code, profile).cell.bbox


def _ring(bbox: BBox2D) -> list[tuple[float, float]]:
    w, s, e, n = bbox
    return [(w, s), (e, s), (e, n), (w, n), (w, s)]


def cell_polygon(code: str, dims: Dims | None = None, profile: Profile = "gb") -> Polygon:
    """The cell as a shapely Polygon (a 3D code gives its 2D footprint), ring counter-clockwise
    from the SW corner.
    """
    return Polygon(_ring(_footprint(code, dims, profile)))


def cell_geojson(
    code: str,
    properties: Mapping[str, Any] | None = None,
    dims: Dims | None = None,
    profile: Profile = "gb",
) -> dict[str, Any]:
    """A GeoJSON Feature (RFC 7946) for one cell: a Polygon with ``bbox`` and properties.

    Properties: ``code``, ``level``, ``dims``; for 3D codes also ``code2d``, ``bottom`` and
    ``top`` (metres) and ``profile``; then the caller's ``properties``, which win on a clash.
    """
    d = _dims(code, dims)
    props: dict[str, Any]
    if d == 2:
        cell = decode(code)
        bbox = cell.bbox
        props = {"code": cell.code, "level": cell.level, "dims": 2}
    else:
        cell3 = decode3d(code, profile)
        bbox = cell3.cell.bbox
        props = {
            "code": cell3.code,
            "level": cell3.level,
            "dims": 3,
            "code2d": cell3.code2d,
            "bottom": cell3.bottom,
            "top": cell3.top,
            "profile": profile,
        }
    if properties:
        props.update(properties)
    return {
        "type": "Feature",
        "id": props["code"],
        "bbox": list(bbox),
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[lon, lat] for lon, lat in _ring(bbox)]],
        },
        "properties": props,
    }


def cells_geojson(
    codes: Iterable[str], dims: Dims | None = None, profile: Profile = "gb"
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with one ``cell_geojson`` Feature per code, in input order."""
    if isinstance(codes, str):
        raise GridError("cells_geojson takes an iterable of codes, not a single code string")
    return {
        "type": "FeatureCollection",
        "features": [cell_geojson(c, dims=dims, profile=profile) for c in codes],
    }


__all__ = [
    "Dims",
    "cell_bbox",
    "cell_centre",
    "cell_geojson",
    "cell_polygon",
    "cells_geojson",
    "code_dims",
]
