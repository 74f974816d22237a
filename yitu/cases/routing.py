"""Routing (派遣 targets): location → grid code → management grid / village and township;
category (and the named component's owner) → responsible department.

The location step reads the registry's node boundaries (``node_boundaries``): a bounding-box
prefilter in SQL, then an exact point-in-polygon test (boundary included) with shapely; the
deepest node wins (grid, else village, else town). Boundaries are geography, not personal data,
and are read unscoped: a grid worker may report a problem just outside their own grid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from yitu.access.models import LEVEL_DEPTH, JurisdictionNode, Level
from yitu.cases.errors import field_error
from yitu.cases.models import Category, Component, Department
from yitu.core.errors import InvalidInputError
from yitu.grid import encode, encode3d, to_int
from yitu.grid.errors import GridError
from yitu.registry.models import NodeBoundary

_TRUSTED = {"yitu_trusted": True}
_shapes: dict[tuple[int, int], BaseGeometry] = {}


@dataclass(frozen=True)
class Location:
    node_id: int  # the deepest node containing the point (grid, else village, else town)
    node_code: str
    level: str
    township_id: int
    township_code: str
    code: int  # level-10 2D integer grid code
    code3d: str  # "" unless a height was given

    @property
    def rural(self) -> bool:
        """镇/乡/场 (division code 100 and up) rather than a 街道 (001–099)."""
        return int(self.township_code[6:9]) >= 100


def _shape(node_id: int, geometry: str) -> BaseGeometry:
    key = (node_id, hash(geometry))
    g = _shapes.get(key)
    if g is None:
        if len(_shapes) > 50_000:
            _shapes.clear()
        g = _shapes[key] = shape(json.loads(geometry))
        shapely.prepare(g)
    return g


def grid_codes(lon: float, lat: float, height: float | None = None) -> tuple[int, str]:
    try:
        code = to_int(encode(lon, lat, 10))
        code3d = encode3d(lon, lat, height, 10) if height is not None else ""
    except GridError as exc:
        raise field_error("lon", f"not a valid WGS84/CGCS2000 coordinate ({exc})") from exc
    return code, code3d


def locate(session: Session, lon: float, lat: float, height: float | None = None) -> Location:
    """Where a point falls; a clear 422 naming lon/lat when it is outside every boundary."""
    if not (-180 <= lon <= 180):
        raise field_error("lon", "must be between -180 and 180")
    if not (-90 <= lat <= 90):
        raise field_error("lat", "must be between -90 and 90")
    code, code3d = grid_codes(lon, lat, height)
    rows = session.execute(
        select(NodeBoundary.node_id, NodeBoundary.geometry, JurisdictionNode.level,
               JurisdictionNode.code, JurisdictionNode.path)
        .join(JurisdictionNode, JurisdictionNode.id == NodeBoundary.node_id)
        .where(
            NodeBoundary.west <= lon,
            NodeBoundary.east >= lon,
            NodeBoundary.south <= lat,
            NodeBoundary.north >= lat,
        ),
        execution_options=_TRUSTED,
    ).all()
    p = Point(lon, lat)
    hits = [r for r in rows if _shape(r.node_id, r.geometry).covers(p)]
    if not hits:
        raise InvalidInputError(
            "lon, lat: the location is outside the county (no jurisdiction boundary covers it)",
            errors=[
                {"field": "lon", "message": "location outside the county"},
                {"field": "lat", "message": "location outside the county"},
            ],
        )
    # Deepest level first; on shared edges the lowest code (deterministic).
    best = min(hits, key=lambda r: (-LEVEL_DEPTH[Level(r.level)], r.code))
    parts = [c for c in best.path.split("/") if c]
    if len(parts) < 2:
        raise InvalidInputError("lon, lat: the location is not inside a township")
    township_code = parts[1]
    township_id = session.scalar(
        select(JurisdictionNode.id).where(JurisdictionNode.code == township_code),
        execution_options=_TRUSTED,
    )
    assert township_id is not None  # the path is made of existing nodes
    return Location(best.node_id, best.code, best.level, township_id, township_code, code, code3d)


def township_department(session: Session, township_id: int) -> Department | None:
    """The 乡镇/街道 as a department: linked by node, else by its code ``town-<9 digits>``
    (departments loaded by the migration before the divisions exist have no node yet)."""
    dept = session.scalar(
        select(Department).where(Department.node_id == township_id, Department.active)
    )
    if dept is not None:
        return dept
    code = session.scalar(
        select(JurisdictionNode.code).where(JurisdictionNode.id == township_id),
        execution_options=_TRUSTED,
    )
    if code is None:
        return None
    return session.scalar(
        select(Department).where(Department.code == f"town-{code[:9]}", Department.active)
    )


def route_department(
    session: Session, category: Category, where: Location, component: Component | None
) -> Department | None:
    """The responsible department: the component's maintainer (养护单位), else its owner
    (权属单位); else the category's default; a category routed to ``township`` (or with no
    default) goes to the 乡镇/街道 the case is in."""
    if component is not None:
        dept_id = component.maintainer_department_id or component.owner_department_id
        return session.get(Department, dept_id)
    if category.department_id is not None:
        return session.get(Department, category.department_id)
    return township_department(session, where.township_id)


def find_component(session: Session, object_code: str, category: Category) -> Component:
    comp = session.scalar(select(Component).where(Component.object_code == object_code))
    if comp is None:
        raise field_error("component_code", "is not a known component (部件标识码)")
    if category.kind != "component" or comp.category_code != category.code:
        raise field_error("component_code", "belongs to a different category")
    return comp
