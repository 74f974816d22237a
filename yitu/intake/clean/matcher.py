"""Matching parsed addresses to the standard address registry (标准地址 → 楼栋 → 户室 → grid
and BeiDou codes), in memory: the registry is read once per import (~2 s for 500k addresses)
and every lookup is a few dict probes.

Evidence for a building, strongest first: road + 门牌号 (unique per road in the registry);
village + building name ("3栋" is numbered within its community); road + building name;
自然村 + number for rural homes ("张家湾3号"). A road written with a typo or a homophone
(胜力路 for 胜利路) is found by its pinyin key or a fuzzy ratio (rapidfuzz) against the
county's road names. Towns and villages, when given, must agree; a conflict lowers the score.
Ambiguity (two buildings equally supported) is no match: the importer reports it unmatched
rather than guessing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import select

from yitu.access.models import JurisdictionNode
from yitu.intake.clean.address import (
    AddressParts,
    bundled_gazetteer,
    canonical_room,
    parse_address,
    village_core,
)
from yitu.intake.clean.names import name_key
from yitu.intake.clean.result import Cleaned
from yitu.registry.models import Address

_APARTMENT = re.compile(r"([0-9A-Za-z]+)(?:栋|号楼)$")
_RURAL = re.compile(r"(\D+?)(\d+)号$")
FUZZY_CUTOFF = 60.0


@dataclass(frozen=True)
class AddressMatch:
    """A registry address (a room's when the room is known, else the building's) with its
    building, house, grid node and codes as the registry stores them (``code``: level-10 2D
    integer code; ``code3d``: 3D code string)."""

    address_id: int
    building_id: int
    house_id: int | None
    node_id: int
    code: int
    code3d: str | None
    score: float

    @property
    def code2d(self) -> int:
        return self.code


@dataclass
class _Building:
    address_id: int
    node_id: int
    code: int
    code3d: str
    village: int | None  # jurisdiction node id
    town: int | None
    road: str
    door: str
    name_key: str  # "3" for 3栋/3号楼; "张家湾/3" for a farmhouse


def _door(text: str) -> str:
    digits = text.removesuffix("号")
    return str(int(digits)) if digits.isdigit() else digits


class AddressMatcher:
    def __init__(self) -> None:
        self.buildings: dict[int, _Building] = {}
        self.by_road_door: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_village_name: dict[tuple[int, str], list[int]] = defaultdict(list)
        self.by_road_name: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_hamlet: dict[tuple[str, str], list[int]] = defaultdict(list)
        # (building, unit, room) -> (address id, house id, code, code3d)
        self.rooms: dict[tuple[int, str, str], tuple[int, int, int, str]] = {}
        self.rooms_by_number: dict[tuple[int, str], list[tuple[str, str]]] = defaultdict(list)
        self.house_count: dict[int, int] = defaultdict(int)
        self.first_room: dict[int, tuple[int, int, int, str]] = {}
        self.node_parent: dict[int, int | None] = {}
        self.node_level: dict[int, str] = {}
        self.names: dict[str, list[int]] = defaultdict(list)  # division name -> node ids
        self.road_names: list[str] = []
        self.road_set: frozenset[str] = frozenset()
        self.road_by_key: dict[str, list[str]] = defaultdict(list)
        # Memos of pure lookups: a county's addresses name a few thousand divisions and roads
        # (the fuzzy road search is the costliest step of a match).
        self._division_memo: dict[tuple[str, str], frozenset[int]] = {}
        self._road_memo: dict[str, list[tuple[str, float]]] = {}

    # -- building the index -------------------------------------------------------------
    @classmethod
    def from_session(cls, session: Any) -> AddressMatcher:
        """Read the registry through ``session`` (its jurisdiction scope applies)."""
        m = cls()
        for nid, name, level, parent in session.execute(
            select(
                JurisdictionNode.id,
                JurisdictionNode.name,
                JurisdictionNode.level,
                JurisdictionNode.parent_id,
            )
        ):
            m.node_parent[nid] = parent
            m.node_level[nid] = level
            m.names[name].append(nid)
            if level == "village" and village_core(name) != name:
                # a bare core ("竹林桥") stands for every village of that core
                m.names[village_core(name)].append(nid)
        rows = session.execute(
            select(
                Address.id,
                Address.kind,
                Address.road,
                Address.door_number,
                Address.building_name,
                Address.unit,
                Address.room,
                Address.building_id,
                Address.house_id,
                Address.node_id,
                Address.code,
                Address.code3d,
            )
        )
        for aid, kind, road, door, bname, unit, room, bid, hid, nid, code, code3d in rows:
            if kind == "building":
                m._add_building(aid, bid, nid, code, code3d, road or "", door or "", bname or "")
            elif hid is not None:
                key = (bid, str(unit), room)
                m.rooms[key] = (aid, hid, code, code3d)
                m.rooms_by_number[(bid, room)].append((str(unit), room))
                m.house_count[bid] += 1
                m.first_room.setdefault(bid, m.rooms[key])
        m.road_names = sorted({b.road for b in m.buildings.values() if b.road})
        m.road_set = frozenset(m.road_names)
        for r in m.road_names:
            m.road_by_key[name_key(r)].append(r)
        return m

    def _up(self, node: int, level: str) -> int | None:
        cur: int | None = node
        while cur is not None and self.node_level.get(cur) != level:
            cur = self.node_parent.get(cur)
        return cur

    def _add_building(
        self, aid: int, bid: int, nid: int, code: int, code3d: str, road: str, door: str, bname: str
    ) -> None:
        village, town = self._up(nid, "village"), self._up(nid, "town")
        door = _door(door)
        rural = _RURAL.fullmatch(bname) if not _APARTMENT.fullmatch(bname) else None
        apt = _APARTMENT.fullmatch(bname)
        key = (
            f"{rural.group(1)}/{int(rural.group(2))}"
            if rural
            else (apt.group(1).upper() if apt else bname)
        )
        self.buildings[bid] = _Building(aid, nid, code, code3d, village, town, road, door, key)
        if rural:
            self.by_hamlet[(rural.group(1), str(int(rural.group(2))))].append(bid)
            if village is not None:
                self.by_village_name[(village, key)].append(bid)
            return  # a farmhouse's road + door is not how anyone writes its address
        self.by_road_door[(road, door)].append(bid)
        self.by_road_name[(road, key)].append(bid)
        if village is not None:
            self.by_village_name[(village, key)].append(bid)

    # -- matching ----------------------------------------------------------------------
    def _division_ids(self, name: str | None, level: str) -> frozenset[int]:
        if not name:
            return frozenset()
        found = self._division_memo.get((name, level))
        if found is None:
            found = frozenset(
                n for n in self.names.get(name, ()) if self.node_level.get(n) == level
            )
            self._division_memo[(name, level)] = found
        return found

    def _roads(self, road: str) -> list[tuple[str, float]]:
        """Known road names for ``road`` with a penalty: exact 0, homophone 0.05, fuzzy 0.1
        (up to five near names: one wrong character in a three-character name is a ratio of
        67; the door number and the divisions then decide among them)."""
        found = self._road_memo.get(road)
        if found is None:
            found = self._road_memo[road] = self._find_roads(road)
        return found

    def _find_roads(self, road: str) -> list[tuple[str, float]]:
        if road in self.road_set:
            return [(road, 0.0)]
        same_sound = self.road_by_key.get(name_key(road))
        if same_sound:
            return [(r, 0.05) for r in same_sound]
        for cut in range(2, len(road) - 1):  # "袁冲袁冲正街": a division name glued on
            if road[cut:] in self.road_set:
                return [(road[cut:], 0.05)]
        near = process.extract(
            road, self.road_names, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=5
        )
        return [(name, 0.1) for name, _score, _i in near]

    def match(self, parts: AddressParts) -> AddressMatch | None:
        """The best-supported registry address for ``parts``, or None (nothing found, or two
        buildings equally supported). ``score`` is 1.0 for an exact match and drops for a
        road found by sound or similarity, a division conflict, a building name that
        contradicts the door, an inferred unit or a room the building does not have."""
        villages = self._division_ids(parts.village, "village")
        towns = self._division_ids(parts.town, "town")
        evidence: dict[int, float] = defaultdict(float)
        road_cost: dict[str, float] = {}  # known road name -> cost of reading it so

        def add(bids: list[int], weight: float) -> None:
            for b in bids:
                evidence[b] += weight

        road = parts.road
        rural_hits: set[int] = set()
        if road:
            if parts.number:
                rural_hits.update(self.by_hamlet.get((road, parts.number), ()))
            # A 自然村 + number ("张家湾3号") is not a road: no road search for it.
            for name, cost in [] if rural_hits else self._roads(road):
                road_cost[name] = cost
                if parts.number:
                    add(self.by_road_door.get((name, parts.number), []), 2.0)
                if parts.building:
                    add(self.by_road_name.get((name, parts.building), []), 1.5)
                    if not parts.number:  # "胜利路12号楼": the building named by its door
                        add(self.by_road_door.get((name, parts.building), []), 1.0)
            if not evidence and not rural_hits and parts.number:
                for cut in range(2, min(len(road) - 1, 8)):  # "竹林桥张家湾3号"
                    rural_hits.update(self.by_hamlet.get((road[cut:], parts.number), ()))
            add(sorted(rural_hits), 2.0)
        if parts.building:
            for v in villages:
                add(self.by_village_name.get((v, parts.building), []), 2.0)
        if not evidence:
            return None
        scored = []
        for bid, ev in evidence.items():
            b = self.buildings[bid]
            score = 1.0
            if road and bid not in rural_hits and b.road != road:
                score -= road_cost.get(b.road, 0.2)  # read by sound/similarity, or contradicted
            if self.house_count.get(bid):
                ev += 0.25  # a building with homes over a same-named outbuilding
            if villages and b.village not in villages:
                score -= 0.15
                ev -= 1.0
            elif villages:
                ev += 1.0
            if towns and b.town not in towns:
                score -= 0.15
                ev -= 0.5
            elif towns:
                ev += 0.5
            if (
                parts.building
                and parts.number
                and b.name_key != parts.building
                and b.door == parts.number
            ):
                score -= 0.1  # the door matched, the building name did not
            scored.append((ev, score, bid))
        scored.sort(reverse=True)
        if len(scored) > 1 and scored[0][0] == scored[1][0]:
            return None  # two buildings equally supported: do not guess
        _, score, bid = scored[0]
        return self._house(bid, parts, score)

    def _house(self, bid: int, parts: AddressParts, score: float) -> AddressMatch:
        b = self.buildings[bid]
        found = None
        if parts.room:
            room = parts.room
            if parts.floor is not None and len(room) <= 2:
                room, _ = canonical_room(room, parts.floor)
            if parts.unit:
                found = self.rooms.get((bid, parts.unit, room))
            else:
                options = self.rooms_by_number.get((bid, room), [])
                if len(options) == 1:
                    found = self.rooms.get((bid, *options[0]))
                    score -= 0.05  # unit inferred
            if found is None:
                score -= 0.2  # the room asked for is not in the registry
        elif self.house_count.get(bid) == 1 and not parts.unit:
            found = self.first_room.get(bid)  # a farmhouse: the building is the home
        if found:
            aid, hid, code, code3d = found
            return AddressMatch(aid, bid, hid, b.node_id, code, code3d, round(max(score, 0.0), 3))
        return AddressMatch(
            b.address_id, bid, None, b.node_id, b.code, b.code3d, round(max(score, 0.0), 3)
        )

    def match_text(self, raw: str | None) -> tuple[Cleaned[AddressParts], AddressMatch | None]:
        parsed = parse_address(raw)
        return parsed, (self.match(parsed.value) if parsed.value is not None else None)


__all__ = ["AddressMatch", "AddressMatcher", "bundled_gazetteer"]
