"""The jurisdiction tree (辖区): codes, loading the statistical divisions, adding grids."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from yitu.access.models import LEVEL_DEPTH, JurisdictionNode, Level
from yitu.access.scope import invalidate_scopes
from yitu.core.errors import InvalidInputError, NotFoundError

_DIVISION_LEN = {6: Level.COUNTY, 9: Level.TOWN, 12: Level.VILLAGE}


def normalize_code(code: str) -> str:
    """Accept 6/9/12-digit division codes and 15-digit grid codes; store 12-digit divisions."""
    code = code.strip()
    if not code.isdigit() or len(code) not in (6, 9, 12, 15):
        raise InvalidInputError(f"jurisdiction code {code!r} must be 6, 9, 12 or 15 digits")
    return code.ljust(12, "0") if len(code) < 12 else code


def get_node(session: Session, code: str) -> JurisdictionNode:
    normalized = normalize_code(code)
    node = session.scalar(select(JurisdictionNode).where(JurisdictionNode.code == normalized))
    if node is None:
        raise NotFoundError(f"jurisdiction node {normalized} does not exist")
    return node


def add_node(
    session: Session, code: str, name: str, level: Level, parent: JurisdictionNode | None
) -> JurisdictionNode:
    code = normalize_code(code)
    if parent is None and level != Level.COUNTY:
        raise InvalidInputError(f"a {level} node needs a parent")
    if parent is not None and LEVEL_DEPTH[Level(parent.level)] + 1 != LEVEL_DEPTH[level]:
        raise InvalidInputError(f"a {level} cannot sit under a {parent.level}")
    path = (parent.path if parent else "") + code + "/"
    node = JurisdictionNode(
        code=code, name=name, level=level.value, parent_id=parent.id if parent else None, path=path
    )
    session.add(node)
    session.flush()
    invalidate_scopes()  # a new node may fall inside someone's scope
    return node


def bundled_divisions() -> Path:
    return Path(str(resources.files("yitu.access") / "data" / "laohekou-divisions.csv"))


def load_divisions(session: Session, csv_path: Path | None = None) -> int:
    """Load county/town/village rows (code,name,level,parent_code); existing codes are kept."""
    path = csv_path or bundled_divisions()
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    existing = {n.code: n for n in session.scalars(select(JurisdictionNode))}
    added = 0
    # Parents first: county, then towns, then villages.
    for row in sorted(rows, key=lambda r: len(r["code"])):
        raw = row["code"].strip()
        level = _DIVISION_LEN.get(len(raw))
        if level is None or row["level"].strip() != level.value:
            raise InvalidInputError(
                f"{path.name}: row {raw!r} has a code that does not fit its level"
            )
        code = normalize_code(raw)
        if code in existing:
            continue
        parent = None
        if level != Level.COUNTY:
            parent = existing.get(normalize_code(row["parent_code"].strip()))
            if parent is None:
                raise InvalidInputError(f"{path.name}: parent of {raw} is not in the file")
        existing[code] = add_node(session, code, row["name"].strip(), level, parent)
        added += 1
    return added
