"""标准地址 parsing: free address text → components (town, village, road, door number,
building, unit, floor, room), as the county's departments write them.

Town and village (乡镇街道, 社区/村) are recognised with the county's bundled division list
(``yitu.access``'s 统计用区划代码 CSV) in all the spellings seen in practice: "光化街道",
"光化办事处", "光化"; "童营社区居委会", "童营社区", "童营"; "竹林桥村委会", "竹林桥村". The
street part follows the public-security address element order (街路巷 → 门牌号 → 建筑物 →
单元 → 户室): "胜利路12号3栋2单元502室", "胜利路12号3-2-502", "胜利路12号三幢二单元五〇二",
"胜利路12号楼", rural "张家湾3号" (自然村 + 号, kept as road + number).

Canonical forms: ``building`` and ``unit`` are bare numbers ("3"), ``room`` is the registry's
floor-and-room form ("0502" = floor 5, room 2; from "502", "0502", "5楼02"), ``floor`` an int.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache

from yitu.access.jurisdiction import bundled_divisions
from yitu.intake.clean.names import simplify_char
from yitu.intake.clean.result import Cleaned, Issue
from yitu.intake.clean.text import blank, chinese_number, nfkc, squeeze

FIELD = "address"


@dataclass(frozen=True)
class AddressParts:
    town: str | None = None  # canonical division name when known ("光化街道")
    village: str | None = None  # canonical division name when known ("童营社区居委会")
    road: str | None = None  # 街路巷, or 自然村 for rural addresses ("张家湾")
    number: str | None = None  # 门牌号, digits ("12")
    building: str | None = None  # 楼栋 number ("3" from 3栋/3幢/3号楼/三栋/3#)
    unit: str | None = None  # 单元 ("2")
    floor: int | None = None
    room: str | None = None  # "0502"
    rest: str | None = None  # text left over (not understood)


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    parent: str  # parent code


@dataclass(frozen=True)
class Gazetteer:
    """Spelling variants → division codes (a variant may name several divisions)."""

    towns: dict[str, tuple[str, ...]]
    bare_towns: dict[str, tuple[str, ...]]
    villages: dict[str, tuple[str, ...]]
    bare_villages: dict[str, tuple[str, ...]]  # core names without 村/社区 (ambiguous-prone)
    divisions: dict[str, Division]
    longest: int


_TOWN_SUFFIXES = ("街道办事处", "街道", "办事处", "镇", "乡")
_PREFIXES = ("湖北省", "湖北", "襄阳市", "襄阳", "老河口市", "老河口")


def _town_variants(name: str) -> tuple[set[str], str | None]:
    """(variants with a kind word, bare core or None)."""
    if name.endswith("街道"):
        core = name[:-2]
        return {name, core + "街道办事处", core + "办事处", core + "街办"}, core
    if name.endswith(("镇", "乡")) and len(name) >= 3:
        return {name}, name[:-1]
    if name.endswith("林场"):
        return {name}, name[:-2]
    if name.endswith("场"):  # 原种场
        return {name}, name[:-1]
    return {name}, None


def village_core(name: str) -> str:
    """A village or community name without its kind word: 童营社区居委会 → 童营."""
    for suffix in ("社区居委会", "居委会", "村委会"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def _village_variants(name: str) -> tuple[set[str], str | None]:
    """(variants with a kind word, bare core or None)."""
    for suffix in ("社区居委会", "居委会"):
        if name.endswith(suffix):
            core = name.removesuffix(suffix)
            # "社区社区" is how the demo generator spells "…社区居委会" in addresses.
            forms = {"社区居委会", "居委会", "社区", "社区社区", "居民委员会", "社区居民委员会"}
            return {core + f for f in forms}, core
    if name.endswith("村委会"):
        core = name.removesuffix("村委会")
        return {core + f for f in ("村委会", "村民委员会", "村")}, core
    return {name}, None


def gazetteer_from(divisions: list[Division]) -> Gazetteer:
    towns: dict[str, set[str]] = {}
    bare_towns: dict[str, set[str]] = {}
    villages: dict[str, set[str]] = {}
    bare: dict[str, set[str]] = {}
    codes = {d.code: d for d in divisions}
    for d in divisions:
        if len(d.code) == 9:
            forms, core = _town_variants(d.name)
            for v in forms:
                towns.setdefault(v, set()).add(d.code)
            if core and len(core) >= 2:
                bare_towns.setdefault(core, set()).add(d.code)
        elif len(d.code) == 12:
            forms, core = _village_variants(d.name)
            for v in forms:
                villages.setdefault(v, set()).add(d.code)
            if core and len(core) >= 2:
                bare.setdefault(core, set()).add(d.code)
    longest = max(len(v) for v in [*towns, *villages, *bare, *bare_towns])

    def frozen(m: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
        return {k: tuple(sorted(v)) for k, v in m.items()}

    return Gazetteer(
        frozen(towns), frozen(bare_towns), frozen(villages), frozen(bare), codes, longest
    )


@lru_cache(maxsize=1)
def bundled_gazetteer() -> Gazetteer:
    with bundled_divisions().open(encoding="utf-8") as fh:
        rows = [
            Division(r["code"], r["name"], r["parent_code"])
            for r in csv.DictReader(fh)
            if r["level"] in ("town", "village")
        ]
    return gazetteer_from(rows)


_HEADS: dict[int, dict[str, tuple[int, ...]]] = {}


def _heads(table: dict[str, tuple[str, ...]]) -> dict[str, tuple[int, ...]]:
    """First two characters -> the lengths of the table's words starting so, longest first
    (a parse then probes only lengths that exist instead of every length)."""
    heads = _HEADS.get(id(table))
    if heads is None:
        acc: dict[str, set[int]] = {}
        for word in table:
            acc.setdefault(word[:2], set()).add(len(word))
        heads = {k: tuple(sorted(v, reverse=True)) for k, v in acc.items()}
        _HEADS[id(table)] = heads
    return heads


def _prefix(
    text: str, table: dict[str, tuple[str, ...]], longest: int
) -> tuple[str, tuple[str, ...]]:
    for n in _heads(table).get(text[:2], ()):
        if n <= len(text) and n <= longest:
            hit = table.get(text[:n])
            if hit:
                return text[:n], hit
    return "", ()


# Chinese numerals before an address word become digits; 〇-only runs too (五〇二).
_CN_NUM = re.compile(r"([零〇一二两三四五六七八九十百]+)(?=号楼|号|栋|幢|座|单元|楼|层|室|户|$)")
_PUNCT = re.compile(r"[,，。;；:：、\"“”'‘’()（）\[\]【】<>《》]")
_DASH = re.compile(r"[－—–~〜_]")
_ROAD = re.compile(r"(.+?(?:大道|路|街|巷))(?=\d|$)")
_HAMLET = re.compile(r"(\D+?)(?=\d+号)")
_NUMBER = re.compile(r"(\d+)号(?!楼)")
_BUILDING = re.compile(r"([0-9A-Za-z]+)(?:号楼|栋|幢|座|#|楼(?=\d+单元))")
_TRIPLE = re.compile(r"(\d+)-(\d+)-(\d+)(?:室|号|户)?$")
_PAIR = re.compile(r"(\d+)-(\d+)(?:室|号|户)?$")
_UNIT = re.compile(r"(\d+)单元")
_FLOOR = re.compile(r"(-?\d+)(?:楼|层)(?=\d)")
_ROOM = re.compile(r"(\d+)(?:室|号房|号|户|房)?$")


def normalise_address_text(raw: str) -> str:
    text = "".join(simplify_char(c) for c in squeeze(nfkc(str(raw))))
    text = _DASH.sub("-", _PUNCT.sub("", text))
    return _CN_NUM.sub(lambda m: str(chinese_number(m.group(1))), text)


def canonical_room(digits: str, floor: int | None) -> tuple[str, int | None]:
    """("0502", 5) from "502", "0502", or ("02", floor 5); other shapes kept as written."""
    if floor is not None and len(digits) <= 2:
        return f"{floor:02d}{int(digits):02d}", floor
    if len(digits) == 3:
        return f"0{digits}", int(digits[0])
    if len(digits) == 4:
        return digits, int(digits[:2])
    return digits, floor


# A division name without its kind word, followed by one of these, is part of a road name
# ("光化大道", "胜利路12号", "孟楼正街3号"), not the 光化 street, the 胜利路 community or the
# 孟楼 village.
_ROAD_FOLLOWS = re.compile(r"\d|号|\D?(?:大道|路|街|巷)(?:\d|$)")


def _find(
    text: str, kinded: dict[str, tuple[str, ...]], bare: dict[str, tuple[str, ...]], longest: int
) -> tuple[str, tuple[str, ...]]:
    word, codes = _prefix(text, kinded, longest)
    bword, bcodes = _prefix(text, bare, longest)
    if bcodes and len(bword) > len(word) and not _ROAD_FOLLOWS.match(text, len(bword)):
        return bword, bcodes
    return word, codes


def _divisions(text: str, gaz: Gazetteer) -> tuple[str | None, str | None, str]:
    """Strip the province/county prefix and recognise town and village names. A village
    written under the wrong town is still recognised (the matcher weighs the conflict)."""
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if text.startswith(p):
                text, changed = text[len(p) :], True
    town_code: str | None = None
    word, codes = _find(text, gaz.towns, gaz.bare_towns, gaz.longest)
    vword, vcodes = _find(text, gaz.villages, gaz.bare_villages, gaz.longest)
    if len(vcodes) == 1 and len(vword) > len(word):
        codes = ()  # "百花山虚拟生活区…": a village name that starts like a town's
    if len(codes) == 1:
        town_code, text = codes[0], text[len(word) :]
    village_code: str | None = None
    word, codes = _find(text, gaz.villages, gaz.bare_villages, gaz.longest)
    if town_code and len(codes) > 1:
        codes = tuple(c for c in codes if gaz.divisions[c].parent == town_code) or codes
    if len(codes) == 1:
        village_code, text = codes[0], text[len(word) :]
        if town_code is None:
            town_code = gaz.divisions[village_code].parent
    elif codes:  # "张集" names both 张集居委会 and 张集村委会: a division, just not which one
        text = text[len(word) :]
    town = gaz.divisions[town_code].name if town_code else None
    village = gaz.divisions[village_code].name if village_code else None
    if codes and village_code is None:
        village = village_core(gaz.divisions[codes[0]].name)  # the matcher tries each
    if town is None:  # an unknown town still has a recognisable suffix
        m = re.match(r"(.{2,8}?(?:街道办事处|街道|办事处|镇|乡))", text)
        if m:
            town, text = m.group(1), text[m.end() :]
    if village is None:
        m = re.match(r"(.{2,10}?(?:社区居委会|居委会|村委会|社区|村民委员会))", text)
        if m:
            village, text = m.group(1), text[m.end() :]
    return town, village, text


def parse_street(text: str) -> dict[str, object]:
    """The part after the divisions: road, number, building, unit, floor, room, rest."""
    out: dict[str, object] = {}
    m = _ROAD.match(text) or _HAMLET.match(text)
    if m:
        out["road"], text = m.group(1), text[m.end() :]
    m = _NUMBER.match(text)
    if m:
        out["number"], text = m.group(1), text[m.end() :]
    elif text.startswith("号楼", len(re.match(r"\d*", text).group(0))) and re.match(r"\d+", text):
        digits = re.match(r"\d+", text).group(0)  # "胜利路12号楼": the building named by its door
        out["building"], text = digits, text[len(digits) + 2 :]
    m = _TRIPLE.match(text)
    if m and "building" not in out:
        out["building"], out["unit"] = m.group(1), m.group(2)
        room, floor = canonical_room(m.group(3), None)
        out["room"], out["floor"], text = room, floor, ""
    if text:
        m = _BUILDING.match(text)
        if m:
            out["building"], text = m.group(1).upper(), text[m.end() :]
        m = _PAIR.match(text)
        if m:
            if "building" in out:
                out["unit"] = m.group(1)
            else:
                out["building"] = m.group(1)
            room, floor = canonical_room(m.group(2), None)
            out["room"], out["floor"], text = room, floor, ""
    if text:
        m = _UNIT.match(text)
        if m:
            out["unit"], text = m.group(1), text[m.end() :]
        floor = None
        m = _FLOOR.match(text)
        if m:
            floor, text = int(m.group(1)), text[m.end() :]
        m = _ROOM.match(text)
        if m and text:
            room, floor = canonical_room(m.group(1), floor)
            out["room"], text = room, ""
        if floor is not None:
            out["floor"] = floor
    for key in ("unit", "number", "building"):
        if isinstance(out.get(key), str) and out[key].isdigit():  # type: ignore[union-attr]
            out[key] = str(int(out[key]))  # type: ignore[arg-type]
    text = text.strip("-")
    if text:
        out["rest"] = text
    return out


@lru_cache(maxsize=1 << 18)
def parse_address(raw: str | None) -> Cleaned[AddressParts]:
    """Components of an address, or None with ``address_missing`` / ``address_format``
    (nothing recognisable); ``address_partial`` (informational) when text was left over."""
    if blank(raw):
        return Cleaned(None, (Issue(FIELD, "address_missing", "address is missing"),))
    text = normalise_address_text(str(raw))
    town, village, rest = _divisions(text, bundled_gazetteer())
    street = parse_street(rest)
    parts = AddressParts(town=town, village=village, **street)  # type: ignore[arg-type]
    if not (parts.road or parts.building or parts.village):
        return Cleaned(
            None,
            (Issue(FIELD, "address_format", "no road, building or village recognised"),),
        )
    if parts.rest:
        issue = Issue(FIELD, "address_partial", f"{len(parts.rest)} characters not understood")
        return Cleaned(parts, (issue,))
    return Cleaned(parts)
