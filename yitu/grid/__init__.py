"""BeiDou grid location code (北斗网格位置码, GB/T 39409-2020): exact, vectorised, complete.

Depends on numpy and shapely only. Scalar functions take and return code strings; the
vectorised ones (``yitu.grid.vector``) work on numpy arrays and give identical results.
"""

from __future__ import annotations

from yitu.grid.codec2d import Cell, decode, encode, normalize
from yitu.grid.codec3d import Cell3D, cell3d, code2d_of, decode3d, encode3d, interleave
from yitu.grid.constants import LEN2D, LEN3D, MAX_LEVEL, UNITS_PER_DEGREE
from yitu.grid.errors import CoordinateError, GridError, InvalidCodeError
from yitu.grid.geometry import (
    cell_bbox,
    cell_centre,
    cell_geojson,
    cell_polygon,
    cells_geojson,
    code_dims,
)
from yitu.grid.height import Layer, layer_index
from yitu.grid.hierarchy import (
    DIRECTIONS,
    children,
    children3d,
    distance_m,
    from_lattice,
    grid_distance,
    k_ring,
    lattice_position,
    neighbour,
    neighbours,
    parent,
    parent3d,
    vertical_neighbours,
)
from yitu.grid.intcode import (
    from_int,
    from_int3d,
    int_children,
    int_descendant_range,
    int_level,
    int_parent,
    pair3d,
    to_int,
    to_int3d,
)
from yitu.grid.reference import dereference, refer, resolve_short_code, short_code

__all__ = [
    "DIRECTIONS",
    "LEN2D",
    "LEN3D",
    "MAX_LEVEL",
    "UNITS_PER_DEGREE",
    "Cell",
    "Cell3D",
    "CoordinateError",
    "GridError",
    "InvalidCodeError",
    "Layer",
    "cell3d",
    "cell_bbox",
    "cell_centre",
    "cell_geojson",
    "cell_polygon",
    "cells_geojson",
    "children",
    "children3d",
    "code2d_of",
    "code_dims",
    "decode",
    "decode3d",
    "dereference",
    "distance_m",
    "encode",
    "encode3d",
    "from_int",
    "from_int3d",
    "from_lattice",
    "grid_distance",
    "int_children",
    "int_descendant_range",
    "int_level",
    "int_parent",
    "interleave",
    "k_ring",
    "lattice_position",
    "layer_index",
    "neighbour",
    "neighbours",
    "normalize",
    "pair3d",
    "parent",
    "parent3d",
    "refer",
    "resolve_short_code",
    "short_code",
    "to_int",
    "to_int3d",
    "vertical_neighbours",
]
