"""Registry tables. Every record belongs to a jurisdiction node (``Jurisdictional``) and every
located record carries its BeiDou grid codes:

* ``code`` — the 2D integer code (``yitu.grid.intcode``, level 10) of its point; spatial queries
  are range scans ``code >= lo AND code < hi`` on an ordinary B-tree index, identical on SQLite
  and PostgreSQL (no PostGIS);
* ``code3d`` — the 3D code string (GB profile, level 10) where a height is known (rooms by floor);
* ``layer`` — the signed level-10 height-layer ordinal, for "between these heights" filters.

Geometries (footprints, boundaries, road lines) are stored as GeoJSON text: they are read for
exact tests and map output, never searched in SQL.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from yitu.access.scope import Jurisdictional
from yitu.core.db import Base


class BuildingUse(StrEnum):
    """建筑用途 (vendor enum 01–06, 99)."""

    RESIDENTIAL = "residential"  # 住宅
    COMMERCIAL = "commercial"  # 商业
    OFFICE = "office"  # 办公
    INDUSTRIAL = "industrial"  # 工业
    WAREHOUSE = "warehouse"  # 仓储
    MIXED = "mixed"  # 商住混用
    PUBLIC = "public"  # 公共服务 (学校、医院、机关)
    OTHER = "other"  # 其他


class Structure(StrEnum):
    """建筑结构."""

    BRICK_CONCRETE = "brick_concrete"  # 砖混
    FRAME = "frame"  # 框架
    SHEAR_WALL = "shear_wall"  # 剪力墙 (钢混)
    STEEL = "steel"  # 钢结构
    BRICK_WOOD = "brick_wood"  # 砖木
    OTHER = "other"


class HouseUse(StrEnum):
    """房屋使用类型: 1 自用 / 2 出租 / 3 闲置."""

    SELF_OCCUPIED = "self_occupied"
    RENTED = "rented"
    VACANT = "vacant"


class RegistrationType(StrEnum):
    """人员类型."""

    HUKOU = "hukou"  # 户籍人口
    FLOATING = "floating"  # 流动人口
    LODGING = "lodging"  # 寄住人口
    FOREIGN = "foreign"  # 境外人员


class HouseRelation(StrEnum):
    """人房关系 (typed, dated; never a single address column on the person)."""

    OWNER = "owner"  # 产权人/房主
    HOUSEHOLDER = "householder"  # 户主
    FAMILY_MEMBER = "family_member"  # 家庭成员
    TENANT = "tenant"  # 租住人 (承租人)
    LODGER = "lodger"  # 寄住人
    REGISTERED = "registered"  # 户籍登记地 (the hukou address; 人户分离 is derived from it)


#: Relations that mean "lives here" (for residents, counts and 人户分离).
RESIDENT_RELATIONS = (
    HouseRelation.HOUSEHOLDER,
    HouseRelation.FAMILY_MEMBER,
    HouseRelation.TENANT,
    HouseRelation.LODGER,
)


class OrgType(StrEnum):
    ENTERPRISE = "enterprise"  # 企业
    INDIVIDUAL_BUSINESS = "individual_business"  # 个体工商户
    GOVERNMENT = "government"  # 机关
    PUBLIC_INSTITUTION = "public_institution"  # 事业单位
    SOCIAL_ORGANISATION = "social_organisation"  # 社会组织
    OTHER = "other"


class OrgRelation(StrEnum):
    LEGAL_REPRESENTATIVE = "legal_representative"  # 法定代表人
    PRINCIPAL = "principal"  # 负责人
    SECURITY_OFFICER = "security_officer"  # 内保负责人
    EMPLOYEE = "employee"  # 从业人员


class NodeBoundary(Base):
    """The boundary polygon of a jurisdiction node (town, village, management grid 网格)."""

    __tablename__ = "node_boundaries"

    node_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction_nodes.id"), primary_key=True)
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON Polygon/MultiPolygon
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)


class BuildingExtent(Base):
    """One row (id 1): the largest footprint extent over all buildings, in degrees. Raised by
    database triggers on every insert/update of ``buildings`` (migration 0003), so it is never
    stale, whichever process loads buildings; deletes leave it (a larger bound stays correct)."""

    __tablename__ = "registry_extent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dlon: Mapped[float] = mapped_column(Float)
    dlat: Mapped[float] = mapped_column(Float)


class Road(Jurisdictional, Base):
    """街路巷 (and rural roads). ``node_id`` is the town it is named in."""

    __tablename__ = "roads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # arterial, secondary, branch, rural
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON LineString
    length_m: Mapped[float] = mapped_column(Float)


class MapFeature(Base):
    """A physical map layer feature that is neither a road nor a building: water bodies (汉江,
    reservoirs, canals). Public geography, not Jurisdictional (like ``node_boundaries``)."""

    __tablename__ = "map_features"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[str] = mapped_column(String(20), index=True)  # "water"
    kind: Mapped[str] = mapped_column(String(20))  # river, lake, reservoir, canal
    name: Mapped[str] = mapped_column(String(60))
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON Polygon/MultiPolygon (the surface)
    centreline: Mapped[str | None] = mapped_column(Text)  # GeoJSON LineString, for rivers
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)


class Building(Jurisdictional, Base):
    """实有房屋的楼栋. ``node_id`` is the management grid it stands in."""

    __tablename__ = "buildings"
    # Covering: range scans on code test the bbox on index entries (0003; no node_id: see
    # the migration for why the scope stays a filter).
    __table_args__ = (Index("ix_buildings_code_cover", "code", "west", "east", "south", "north"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))  # e.g. "12号楼", "张家湾3号"
    road_id: Mapped[int | None] = mapped_column(ForeignKey("roads.id"))
    door_number: Mapped[str] = mapped_column(String(20), default="")  # 门牌号 on the road
    use: Mapped[str] = mapped_column(String(20))
    structure: Mapped[str] = mapped_column(String(20))
    floors: Mapped[int] = mapped_column(Integer)  # above ground
    basement_floors: Mapped[int] = mapped_column(Integer, default=0)
    height_m: Mapped[float] = mapped_column(Float)
    ground_m: Mapped[float] = mapped_column(Float)  # geodetic height of the ground floor
    footprint: Mapped[str] = mapped_column(Text)  # GeoJSON Polygon
    lon: Mapped[float] = mapped_column(Float)  # a point inside the footprint
    lat: Mapped[float] = mapped_column(Float)
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)
    code: Mapped[int] = mapped_column(BigInteger)  # level-10 2D integer code of (lon, lat)
    code3d: Mapped[str] = mapped_column(String(32))  # 3D code of the ground floor


class BuildingCell(Base):
    """A level-6 BeiDou cell a building's bbox meets, with the bbox (``yitu.registry.cells``):
    ``building_containing`` seeks the point's cell and tests the bboxes on the key's entries.
    SQLite: the rows are the primary key's B-tree (WITHOUT ROWID); PostgreSQL: the bbox is in
    the key's index (INCLUDE), so the probe is an index-only scan. Not Jurisdictional: the
    scope is tested on the building it leads to."""

    __tablename__ = "building_cells"
    __table_args__ = (
        PrimaryKeyConstraint(
            "cell", "building_id", postgresql_include=["west", "east", "south", "north"]
        ),
        {"sqlite_with_rowid": False},
    )

    cell: Mapped[int] = mapped_column(BigInteger)  # level-6 2D integer code
    building_id: Mapped[int] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)


_BBOX = ("west", "south", "east", "north")


@event.listens_for(Building, "after_insert")
def _cells_insert(_m: Mapper[Building], conn: Any, b: Building) -> None:
    from yitu.registry import cells

    cells.replace(conn, [(b.id, b.west, b.south, b.east, b.north)])


@event.listens_for(Building, "after_update")
def _cells_update(_m: Mapper[Building], conn: Any, b: Building) -> None:
    state = inspect(b)
    if any(state.attrs[a].history.has_changes() for a in _BBOX):
        from yitu.registry import cells

        cells.replace(conn, [(b.id, b.west, b.south, b.east, b.north)])


class House(Jurisdictional, Base):
    """实有房屋: a room/flat (户室) in a building, located in 3D by its floor."""

    __tablename__ = "houses"
    __table_args__ = (
        UniqueConstraint("building_id", "unit", "number"),
        Index("ix_houses_code", "code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    unit: Mapped[int] = mapped_column(Integer)  # 单元
    floor: Mapped[int] = mapped_column(Integer)  # 1 = ground floor, negative = basement
    number: Mapped[str] = mapped_column(String(10))  # 室号, e.g. "0302"
    use: Mapped[str] = mapped_column(String(20))  # HouseUse
    area_m2: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    height_m: Mapped[float] = mapped_column(Float)  # geodetic height of the floor
    code: Mapped[int] = mapped_column(BigInteger)
    code3d: Mapped[str] = mapped_column(String(32), index=True)
    layer: Mapped[int] = mapped_column(Integer)  # level-10 height-layer ordinal


class Address(Jurisdictional, Base):
    """标准地址, down to the room: 区划 + 街路巷 + 门牌 + 楼栋 + 单元 + 户室."""

    __tablename__ = "addresses"
    __table_args__ = (Index("ix_addresses_code", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # building | room
    full_name: Mapped[str] = mapped_column(String(200), index=True)
    road: Mapped[str] = mapped_column(String(60), default="")
    door_number: Mapped[str] = mapped_column(String(20), default="")
    building_name: Mapped[str] = mapped_column(String(60), default="")
    unit: Mapped[int | None] = mapped_column(Integer)
    room: Mapped[str] = mapped_column(String(10), default="")
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"), index=True)
    code: Mapped[int] = mapped_column(BigInteger)
    code3d: Mapped[str] = mapped_column(String(32), default="")


class Organisation(Jurisdictional, Base):
    """实有单位."""

    __tablename__ = "organisations"
    __table_args__ = (Index("ix_organisations_code", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码 GB 32100
    kind: Mapped[str] = mapped_column(String(24))  # OrgType
    industry: Mapped[str] = mapped_column(String(40), default="")
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"))
    employees: Mapped[int] = mapped_column(Integer, default=0)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    code: Mapped[int] = mapped_column(BigInteger)


class PersonHouse(Jurisdictional, Base):
    """人房关系: typed and dated; ``node_id`` is the house's grid, so a grid worker sees the
    residents of their grid. Carries the house's codes so people-in-a-cell is one range scan."""

    __tablename__ = "person_houses"
    __table_args__ = (
        Index(
            "ix_person_houses_code_cover",
            "code",
            "relation",
            "valid_to",
            "valid_from",
            "person_id",
        ),
        Index("ix_person_houses_person", "person_id", "relation"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))  # HouseRelation
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # None: current
    source: Mapped[str] = mapped_column(String(40), default="")
    code: Mapped[int] = mapped_column(BigInteger)
    code3d: Mapped[str] = mapped_column(String(32))


class PersonOrg(Jurisdictional, Base):
    """人员–单位关系; ``node_id`` is the organisation's grid."""

    __tablename__ = "person_orgs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    relation: Mapped[str] = mapped_column(String(24))  # OrgRelation
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
