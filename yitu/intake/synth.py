"""Noisy source files with known truth (测试数据): a demo county's people and person–house
relations written as a county receives them from its departments, for the importer's tests
and benchmark.

Sources (people): 公安户籍 (police household register, XLSX: 户籍人口 at their 户籍 address),
民政 (civil affairs, CSV in GBK: the elderly and people with care tags), 卫健 (health records,
CSV UTF-8 with BOM: three quarters of everyone), 网格员采集 (grid workers' survey, XLSX: the
residents where they live). Relations: 公安户籍登记 (XLSX, relation 户籍), 网格员入户走访
(XLSX, 户主/家庭成员/租户/寄住), 不动产登记 (CSV, 产权人). Each source has its own headers,
coverage and noise profile, a mapping file (TOML, format in docs/intake.md "Mapping files"),
and its rows in ``truth.csv`` (people) or ``truth_relations.csv``; ``manifest.json`` lists
them.

Noise: typos, homophones (同音字, from the GB 2312 level-1 characters grouped by pinyin),
swapped characters, spaces and full-width characters, traditional forms; ID numbers with a
digit missing, added, changed or two swapped, old 15-digit numbers, spaces, lower-case x;
phones stale, short or long by a digit, with +86, dashes or spaces, local landlines; addresses
in a dozen spellings (with/without 市/街道/社区, 3-2-502, 三栋二单元, 幢/号楼, full-width digits,
a homophone in the road name); blank fields; duplicates within a source. Everything is drawn
from one seed: same county and seed, identical CSV, truth and manifest bytes and identical XLSX
cell contents (the XLSX zip entries carry the time of writing).
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import opencc
from pypinyin import lazy_pinyin
from sqlalchemy import select

from yitu.access.models import JurisdictionNode
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.core.db import Database
from yitu.core.errors import InvalidInputError
from yitu.demo.names import MOBILE_PREFIXES
from yitu.people.models import Person
from yitu.registry.models import Address, PersonHouse

RESIDENT = ("householder", "family_member", "tenant", "lodger")
REG_TEXT = {
    "hukou": "户籍人口",
    "floating": "流动人口",
    "lodging": "寄住人口",
    "foreign": "境外人员",
}
TAG_TEXT = {
    "elderly_alone": "独居老人",
    "disabled": "残疾人",
    "low_income": "低保",
    "veteran": "退役军人",
    "left_behind_child": "留守儿童",
}
_FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")
_s2t = opencc.OpenCC("s2t")


# -- the county as read from the database -------------------------------------------------
@dataclass
class HouseText:
    """A room's address components (from its standard address row)."""

    full_name: str
    town: str
    village: str  # division name, e.g. 童营社区居委会
    road: str
    door: str  # "12"
    building: str  # "3栋", "12号楼", "张家湾3号"
    unit: int
    room: str  # "0502"

    @property
    def rural(self) -> bool:
        return not self.building.endswith(("栋", "号楼"))


@dataclass
class CountyData:
    person_id: list[int]
    name: list[str]
    id_number: list[str]
    phone: list[str]
    gender: list[str]
    birth: list[date]
    registration: list[str]
    ethnicity: list[str]
    care_tags: list[str]
    home: dict[int, tuple[int, str, date]]  # person -> (house, relation, since)
    registered: dict[int, tuple[int, date]]  # person -> (house, since), 人户分离 only
    owners: list[tuple[int, int, date]]  # (person, house, since)
    houses: dict[int, HouseText]
    today: date

    @property
    def n(self) -> int:
        return len(self.person_id)


def read_county(db: Database, today: date | None = None) -> CountyData:
    """People with a current relation, their relations and the rooms' address components."""
    with db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        nodes = {
            nid: (name, level, parent)
            for nid, name, level, parent in s.execute(
                select(
                    JurisdictionNode.id,
                    JurisdictionNode.name,
                    JurisdictionNode.level,
                    JurisdictionNode.parent_id,
                )
            )
        }
        rels = s.execute(
            select(
                PersonHouse.person_id,
                PersonHouse.house_id,
                PersonHouse.relation,
                PersonHouse.valid_from,
            )
            .where(PersonHouse.valid_to.is_(None))
            .order_by(PersonHouse.id)
        ).all()
        home: dict[int, tuple[int, str, date]] = {}
        registered: dict[int, tuple[int, date]] = {}
        owners: list[tuple[int, int, date]] = []
        for pid, hid, rel, since in rels:
            if rel in RESIDENT:
                home.setdefault(pid, (hid, rel, since))
            elif rel == "registered":
                registered.setdefault(pid, (hid, since))
            elif rel == "owner":
                owners.append((pid, hid, since))
        people = s.execute(
            select(
                Person.id,
                Person.name,
                Person.id_number,
                Person.phone,
                Person.gender,
                Person.birth_date,
                Person.registration_type,
                Person.ethnicity,
                Person.care_tags,
            ).order_by(Person.id)
        ).all()
        people = [p for p in people if p[0] in home]
        houses: dict[int, HouseText] = {}
        needed = (
            {h for h, _r, _s in home.values()}
            | {h for h, _s in registered.values()}
            | {h for _p, h, _s in owners}
        )
        for full, road, door, bname, unit, room, hid, nid in s.execute(
            select(
                Address.full_name,
                Address.road,
                Address.door_number,
                Address.building_name,
                Address.unit,
                Address.room,
                Address.house_id,
                Address.node_id,
            ).where(Address.kind == "room")
        ):
            if hid not in needed:
                continue
            village = _up(nodes, nid, "village")
            town = _up(nodes, nid, "town")
            houses[hid] = HouseText(
                full, town, village, road, door.removesuffix("号"), bname, unit or 1, room
            )
    if not people:
        raise InvalidInputError("no demo county is loaded: run `yitu demo generate` first")
    cols = list(zip(*people, strict=True))
    return CountyData(
        person_id=list(cols[0]),
        name=list(cols[1]),
        id_number=list(cols[2]),
        phone=[p or "" for p in cols[3]],
        gender=list(cols[4]),
        birth=list(cols[5]),
        registration=list(cols[6]),
        ethnicity=[e or "" for e in cols[7]],
        care_tags=[t or "" for t in cols[8]],
        home=home,
        registered=registered,
        owners=owners,
        houses=houses,
        today=today or _demo_today(),
    )


def _demo_today() -> date:
    from yitu.demo.generate import TODAY

    return TODAY


def _up(nodes: dict[int, tuple[str, str, int | None]], nid: int, level: str) -> str:
    cur: int | None = nid
    while cur is not None:
        name, lvl, parent = nodes[cur]
        if lvl == level:
            return name
        cur = parent
    return ""


# -- noise ------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _gb2312_level1() -> tuple[str, ...]:
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return tuple(chars)


@lru_cache(maxsize=1)
def _homophones() -> dict[str, tuple[str, ...]]:
    """Character -> other GB 2312 level-1 characters with the same toneless pinyin."""
    groups: dict[str, list[str]] = {}
    for c in _gb2312_level1():
        groups.setdefault(lazy_pinyin(c)[0], []).append(c)
    out: dict[str, tuple[str, ...]] = {}
    for chars in groups.values():
        for c in chars:
            others = tuple(o for o in chars if o != c)
            if others:
                out[c] = others
    return out


def cn_int(n: int) -> str:
    """3 → 三, 12 → 十二, 25 → 二十五; larger numbers digit by digit (502 → 五〇二)."""
    digits = "〇一二三四五六七八九"
    if 0 < n < 10:
        return digits[n]
    if 10 <= n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
    return "".join(digits[int(d)] for d in str(n))


def _cjk_positions(name: str) -> list[int]:
    return [i for i, c in enumerate(name) if "\u4e00" <= c <= "\u9fff"]


def noisy_name(name: str, p: NameNoise, r: random.Random, applied: list[str]) -> str:
    cjk = _cjk_positions(name)
    if not cjk:  # a Latin name: case and spacing only
        if r.random() < p.space:
            applied.append("name_case")
            return name.title() if r.random() < 0.5 else "  ".join(name.split())
        return name
    given = cjk[1:] or cjk
    if r.random() < p.homophone:
        i = r.choice(given)
        alts = _homophones().get(name[i])
        if alts:
            name = name[:i] + r.choice(alts) + name[i + 1 :]
            applied.append("name_homophone")
    if r.random() < p.typo:
        i = r.choice(given)
        name = name[:i] + r.choice(_gb2312_level1()) + name[i + 1 :]
        applied.append("name_typo")
    if r.random() < p.swap and len(cjk) >= 3:
        i, j = cjk[-2], cjk[-1]
        name = name[:i] + name[j] + name[i + 1 : j] + name[i] + name[j + 1 :]
        applied.append("name_swap")
    if r.random() < p.traditional:
        trad = _s2t.convert(name)
        if trad != name:
            name = trad
            applied.append("name_traditional")
    if r.random() < p.space:
        sep = r.choice((" ", "\u3000", "  "))
        name = sep.join(name) if r.random() < 0.5 else name[:1] + sep + name[1:]
        applied.append("name_space")
    return name


def noisy_id(number: str, p: IdNoise, r: random.Random, applied: list[str]) -> str:
    if r.random() < p.blank:
        applied.append("id_blank")
        return ""
    citizen = len(number) == 18 and number[:17].isdigit()
    if not citizen:  # a passport number: only spacing and case
        if r.random() < p.format:
            applied.append("id_format_noise")
            return number.lower()
        return number
    roll = r.random()
    if roll < p.old15 and number[6:8] == "19" and number[:1] != "9":
        number = number[:6] + number[8:17]
        applied.append("id_old15")
    elif (roll := roll - p.old15) < p.missing_digit:
        i = r.randrange(18)
        number = number[:i] + number[i + 1 :]
        applied.append("id_missing_digit")
    elif (roll := roll - p.missing_digit) < p.extra_digit:
        i = r.randrange(19)
        number = number[:i] + str(r.randrange(10)) + number[i:]
        applied.append("id_extra_digit")
    elif (roll := roll - p.extra_digit) < p.transpose:
        pairs = [i for i in range(17) if number[i] != number[i + 1]]
        if pairs:
            i = r.choice(pairs)
            number = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
            applied.append("id_transpose")
    elif (roll := roll - p.transpose) < p.wrong_digit:
        i = r.randrange(17)
        digit = str((int(number[i]) + r.randrange(1, 10)) % 10)
        number = number[:i] + digit + number[i + 1 :]
        applied.append("id_wrong_digit")
    if r.random() < p.format:
        style = r.randrange(3)
        if style == 0:
            number = f"{number[:6]} {number[6:14]} {number[14:]}"
        elif style == 1:
            number = number.translate(_FULL)
        else:
            number = number.lower() if "X" in number else "'" + number
        applied.append("id_format_noise")
    return number


def _random_mobile(r: random.Random) -> str:
    return f"{r.choice(MOBILE_PREFIXES)}{r.randrange(10**8):08d}"


def noisy_phone(phone: str, p: PhoneNoise, r: random.Random, applied: list[str]) -> str:
    if not phone or r.random() < p.blank:
        if phone:
            applied.append("phone_blank")
        return ""
    if r.random() < p.stale:
        phone = _random_mobile(r)
        applied.append("phone_stale")
    elif r.random() < p.landline:
        local = f"{r.randrange(2, 10)}{r.randrange(10**6):06d}"
        applied.append("phone_landline")
        return local if r.random() < 0.5 else f"0710-{local}"
    roll = r.random()
    if roll < p.digit / 2:
        i = r.randrange(11)
        phone = phone[:i] + phone[i + 1 :]
        applied.append("phone_missing_digit")
    elif roll < p.digit:
        i = r.randrange(12)
        phone = phone[:i] + str(r.randrange(10)) + phone[i:]
        applied.append("phone_extra_digit")
    if r.random() < p.format and len(phone) == 11:
        style = r.randrange(4)
        phone = (
            f"+86 {phone}",
            f"{phone[:3]}-{phone[3:7]}-{phone[7:]}",
            f"{phone[:3]} {phone[3:7]} {phone[7:]}",
            phone.translate(_FULL),
        )[style]
        applied.append("phone_format_noise")
    return phone


def _village_display(name: str) -> str:
    if name.endswith("居委会"):
        core = name.removesuffix("居委会")
        return core if core.endswith("社区") else core + "社区"
    if name.endswith("村委会"):
        return name.removesuffix("村委会") + "村"
    return name


def _core(name: str) -> str:
    for suffix in ("社区居委会", "居委会", "村委会", "街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name.removesuffix(suffix)
    return name


def _road_typo(road: str, r: random.Random) -> str:
    positions = [i for i, c in enumerate(road[:-1]) if c in _homophones()]
    if not positions:
        return road
    i = r.choice(positions)
    return road[:i] + r.choice(_homophones()[road[i]]) + road[i + 1 :]


def address_text(h: HouseText, p: AddressNoise, r: random.Random, applied: list[str]) -> str:
    """One spelling of a room's address (the registry's own one with ``p.registry``)."""
    if r.random() < p.blank:
        applied.append("address_blank")
        return ""
    if r.random() < p.registry:
        text = h.full_name
    else:
        applied.append("address_spelling")
        road = h.road
        if r.random() < p.road_typo and not h.rural:
            road = _road_typo(road, r)
            applied.append("address_road_homophone")
        if h.rural:
            hamlet, n = re.fullmatch(r"(\D+?)(\d+)号", h.building).groups()  # type: ignore[union-attr]
            street = f"{hamlet}{cn_int(int(n)) if r.random() < 0.3 else n}号"
        else:
            bnum = re.match(r"\d+", h.building).group(0)  # type: ignore[union-attr]
            door = f"{road}{h.door}号"
            room3 = str(int(h.room))
            apartment = h.building.endswith("栋")
            style = r.randrange(6)
            if style == 0:
                street = f"{door}{h.building}{h.unit}单元{h.room}室"
            elif style == 1:
                street = f"{door}{bnum}-{h.unit}-{room3}"
            elif style == 2:
                word = r.choice(("栋", "幢")) if apartment else "号楼"
                street = f"{door}{cn_int(int(bnum))}{word}{cn_int(h.unit)}单元{cn_int(int(room3))}"
            elif style == 3:
                word = r.choice(("幢", "号楼", "#")) if apartment else "号楼"
                street = f"{door}{bnum}{word}{h.unit}单元{room3}室"
            elif style == 4 and not apartment:
                street = f"{road}{h.door}号楼{h.unit}单元{room3}"  # 12号楼 is the door's building
            else:
                street = f"{door}{h.building}{h.unit}-{room3}"
        prefix_style = r.randrange(5)
        village = _village_display(h.village)
        if prefix_style == 0:
            prefix = f"老河口市{h.town}{village}"
        elif prefix_style == 1:
            prefix = f"{h.town}{village}"
        elif prefix_style == 2:
            prefix = f"{_core(h.town)}{_core(h.village)}"
        elif prefix_style == 3 and not h.rural:
            prefix = f"湖北省老河口市{h.town}"  # no village: the road says where
        else:
            prefix = f"{h.town}{village}" if h.rural else village
        text = prefix + street
    if r.random() < p.fullwidth:
        text = text.translate(_FULL)
        applied.append("address_fullwidth")
    if r.random() < p.space:
        i = r.randrange(1, len(text))
        text = text[:i] + " " + text[i:]
        applied.append("address_space")
    return text


# -- source profiles --------------------------------------------------------------------
@dataclass(frozen=True)
class NameNoise:
    typo: float = 0.0
    homophone: float = 0.0
    swap: float = 0.0
    traditional: float = 0.0
    space: float = 0.0


@dataclass(frozen=True)
class IdNoise:
    blank: float = 0.0
    old15: float = 0.0
    missing_digit: float = 0.0
    extra_digit: float = 0.0
    transpose: float = 0.0
    wrong_digit: float = 0.0
    format: float = 0.0


@dataclass(frozen=True)
class PhoneNoise:
    blank: float = 0.0
    stale: float = 0.0
    landline: float = 0.0
    digit: float = 0.0
    format: float = 0.0


@dataclass(frozen=True)
class AddressNoise:
    registry: float = 0.5  # share written exactly as the registry spells it
    blank: float = 0.0
    road_typo: float = 0.0
    fullwidth: float = 0.0
    space: float = 0.0


@dataclass(frozen=True)
class Source:
    key: str
    file: str
    kind: str  # people | relations
    title: str
    columns: dict[str, str]  # field -> header (the mapping file's [columns])
    extra: tuple[str, ...] = ()  # headers the importer does not map (序号, 救助类别 …)
    sheet: str | None = None
    encoding: str = "utf-8-sig"
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    name: NameNoise = NameNoise()
    id: IdNoise = IdNoise()
    phone: PhoneNoise = PhoneNoise()
    address: AddressNoise = AddressNoise()
    duplicate: float = 0.0
    birth_blank: float = 0.0

    @property
    def headers(self) -> list[str]:
        return [*self.extra[:1], *self.columns.values(), *self.extra[1:]]


SOURCES: tuple[Source, ...] = (
    Source(
        "police",
        "police_hukou.xlsx",
        "people",
        "公安户籍 常住人口登记",
        {
            "name": "姓名",
            "gender": "性别",
            "ethnicity": "民族",
            "birth_date": "出生日期",
            "id_number": "公民身份号码",
            "address": "户籍地址",
            "phone": "联系电话",
            "registration_type": "人员类型",
        },
        extra=("序号",),
        sheet="常住人口",
        name=NameNoise(typo=0.003, homophone=0.005, traditional=0.002),
        id=IdNoise(old15=0.01, wrong_digit=0.002),
        phone=PhoneNoise(blank=0.35, stale=0.15, format=0.05),
        address=AddressNoise(registry=0.8),
        duplicate=0.002,
    ),
    Source(
        "civil",
        "civil_affairs.csv",
        "people",
        "民政 救助对象与高龄老人",
        {
            "name": "姓名",
            "id_number": "身份证号",
            "gender": "性别",
            "birth_date": "出生年月日",
            "phone": "联系方式",
            "address": "家庭住址",
        },
        extra=("序号", "救助类别", "所属乡镇"),
        encoding="gbk",
        name=NameNoise(typo=0.01, homophone=0.02, swap=0.005, traditional=0.01, space=0.02),
        id=IdNoise(
            blank=0.01,
            old15=0.08,
            missing_digit=0.01,
            extra_digit=0.005,
            wrong_digit=0.005,
            format=0.03,
        ),
        phone=PhoneNoise(blank=0.2, stale=0.15, landline=0.2, digit=0.01, format=0.1),
        address=AddressNoise(registry=0.2, road_typo=0.02, fullwidth=0.03, space=0.02),
        duplicate=0.015,
        birth_blank=0.02,
    ),
    Source(
        "health",
        "health.csv",
        "people",
        "卫健 居民健康档案",
        {
            "name": "居民姓名",
            "id_number": "证件号码",
            "gender": "性别",
            "birth_date": "出生日期",
            "phone": "手机号码",
            "address": "现住址",
            "observed_on": "建档日期",
        },
        extra=("档案编号", "证件类型"),
        values={"gender": {"1": "M", "2": "F"}},
        name=NameNoise(typo=0.01, homophone=0.015, swap=0.003, space=0.02),
        id=IdNoise(
            blank=0.02,
            old15=0.02,
            missing_digit=0.01,
            extra_digit=0.01,
            transpose=0.008,
            wrong_digit=0.005,
            format=0.03,
        ),
        phone=PhoneNoise(blank=0.1, stale=0.08, digit=0.01, format=0.3),
        address=AddressNoise(registry=0.3, road_typo=0.02, fullwidth=0.02, blank=0.02),
        duplicate=0.03,
        birth_blank=0.01,
    ),
    Source(
        "grid",
        "grid_survey.xlsx",
        "people",
        "网格员采集 实有人口",
        {
            "name": "姓名",
            "id_number": "身份证号码",
            "phone": "联系电话",
            "address": "居住地址",
            "registration_type": "人员类别",
            "ethnicity": "民族",
            "observed_on": "采集时间",
        },
        extra=("所属网格",),
        sheet="实有人口",
        name=NameNoise(typo=0.02, homophone=0.04, swap=0.01, traditional=0.005, space=0.03),
        id=IdNoise(
            blank=0.03,
            old15=0.01,
            missing_digit=0.015,
            extra_digit=0.01,
            transpose=0.01,
            wrong_digit=0.01,
            format=0.05,
        ),
        phone=PhoneNoise(blank=0.08, stale=0.05, digit=0.02, format=0.2),
        address=AddressNoise(registry=0.15, road_typo=0.03, fullwidth=0.05, space=0.03),
        duplicate=0.04,
    ),
    Source(
        "police_rel",
        "police_hukou_relations.xlsx",
        "relations",
        "公安户籍 户籍登记地",
        {
            "name": "姓名",
            "id_number": "公民身份号码",
            "address": "户籍地址",
            "relation": "登记类别",
            "valid_from": "落户日期",
        },
        sheet="户籍登记",
        name=NameNoise(typo=0.003, homophone=0.005),
        id=IdNoise(old15=0.01, wrong_digit=0.002),
        address=AddressNoise(registry=0.8),
    ),
    Source(
        "grid_rel",
        "grid_residence.xlsx",
        "relations",
        "网格员入户走访 居住关系",
        {
            "name": "姓名",
            "id_number": "身份证号码",
            "address": "居住地址",
            "relation": "与户主关系",
            "valid_from": "入住时间",
        },
        extra=("所属网格",),
        sheet="居住关系",
        values={
            "relation": {
                "本人": "householder",
                "配偶": "family_member",
                "子女": "family_member",
                "父母": "family_member",
                "孙子女": "family_member",
                "租户": "tenant",
            }
        },
        name=NameNoise(typo=0.02, homophone=0.04, swap=0.01, space=0.03),
        id=IdNoise(
            blank=0.03,
            old15=0.01,
            missing_digit=0.015,
            extra_digit=0.01,
            transpose=0.01,
            wrong_digit=0.01,
            format=0.05,
        ),
        address=AddressNoise(registry=0.15, road_typo=0.03, fullwidth=0.05, space=0.03),
        duplicate=0.02,
    ),
    Source(
        "property",
        "property_owners.csv",
        "relations",
        "不动产登记 房屋权利人",
        {
            "name": "权利人",
            "id_number": "证件号码",
            "address": "不动产坐落",
            "relation": "权利人类型",
            "valid_from": "登记时间",
        },
        extra=("不动产单元号",),
        name=NameNoise(typo=0.005, traditional=0.01),
        id=IdNoise(old15=0.03, wrong_digit=0.003, format=0.02),
        address=AddressNoise(registry=0.6, fullwidth=0.02),
    ),
)
SOURCE_KEYS = tuple(s.key for s in SOURCES)
FAMILY_WORDS = ("家庭成员", "配偶", "子女", "父母", "孙子女")


# -- rows -------------------------------------------------------------------------------
@dataclass
class Row:
    values: dict[str, Any]  # header -> value
    person: int
    noise: list[str]
    house: int | None = None
    relation: str | None = None


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _selected(key: str, data: CountyData, u: np.ndarray) -> np.ndarray:
    reg = np.array(data.registration)
    if key in ("police", "police_rel"):
        return np.flatnonzero((reg == "hukou") & (u < 0.97))
    if key == "civil":
        ages = np.array([_age(b, data.today) for b in data.birth])
        tagged = np.array([bool(t) for t in data.care_tags])
        return np.flatnonzero(((ages >= 60) | tagged) & (reg != "foreign") & (u < 0.85))
    if key == "health":
        return np.flatnonzero(u < 0.75)
    return np.flatnonzero(u < 0.85)  # grid, grid_rel


def _birth_text(key: str, birth: date) -> Any:
    if key == "police":
        return birth  # a date cell
    if key == "civil":
        return f"{birth.year}年{birth.month}月{birth.day}日"
    return birth.strftime("%Y%m%d")


def _person_row(src: Source, data: CountyData, i: int, r: random.Random) -> Row:
    noise: list[str] = []
    cols = src.columns
    pid = data.person_id[i]
    v: dict[str, Any] = {}
    v[cols["name"]] = noisy_name(data.name[i], src.name, r, noise)
    v[cols["id_number"]] = noisy_id(data.id_number[i], src.id, r, noise)
    if "phone" in cols:
        v[cols["phone"]] = noisy_phone(data.phone[i], src.phone, r, noise)
    if "gender" in cols:
        male = data.gender[i] == "M"
        v[cols["gender"]] = (
            ("1" if male else "2") if src.key == "health" else "男" if male else "女"
        )
    if "birth_date" in cols:
        blank = r.random() < src.birth_blank
        if blank:
            noise.append("birth_blank")
        v[cols["birth_date"]] = "" if blank else _birth_text(src.key, data.birth[i])
    if "ethnicity" in cols:
        v[cols["ethnicity"]] = data.ethnicity[i]
    if "registration_type" in cols:
        v[cols["registration_type"]] = REG_TEXT.get(data.registration[i], "")
    house = data.home[pid][0]
    if src.key.startswith("police"):
        house = data.registered.get(pid, (house,))[0]
    h = data.houses[house]
    v[cols["address"]] = address_text(h, src.address, r, noise)
    if "observed_on" in cols:
        if src.key == "grid":
            when = datetime(2026, 5, 1, 8) + timedelta(minutes=r.randrange(200 * 24 * 60))
            v[cols["observed_on"]] = f"{when:%Y/%m/%d %H:%M}"
        else:
            v[cols["observed_on"]] = (
                data.today - timedelta(days=r.randrange(30, 3000))
            ).isoformat()
    for header in src.extra:
        if header == "救助类别":
            tags = [TAG_TEXT[t] for t in data.care_tags[i].split(",") if t in TAG_TEXT]
            old = _age(data.birth[i], data.today) >= 80
            v[header] = "、".join(tags) or ("高龄" if old else "老年人")
        elif header == "所属乡镇":
            v[header] = h.town
        elif header == "档案编号":
            v[header] = f"JK{r.randrange(10**10):010d}"
        elif header == "证件类型":
            v[header] = "居民身份证" if data.registration[i] != "foreign" else "护照/永久居留证"
        elif header == "所属网格":
            v[header] = _village_display(h.village) + "网格"
    return Row(v, pid, noise, house)


def _relation_row(
    src: Source, data: CountyData, i: int, house: int, rel: str, since: date, r: random.Random
) -> Row:
    noise: list[str] = []
    cols = src.columns
    pid = data.person_id[i]
    v: dict[str, Any] = {
        cols["name"]: noisy_name(data.name[i], src.name, r, noise),
        cols["id_number"]: noisy_id(data.id_number[i], src.id, r, noise),
        cols["address"]: address_text(data.houses[house], src.address, r, noise),
    }
    if rel == "registered":
        word = "户籍"
    elif rel == "householder":
        word = "户主"
    elif rel == "family_member":
        word = r.choice(FAMILY_WORDS)
    elif rel == "tenant":
        word = r.choice(("租户", "承租人"))
    elif rel == "lodger":
        word = "寄住"
    else:
        word = "产权人"
    v[cols["relation"]] = word
    v[cols["valid_from"]] = since if src.key != "property" else f"{since:%Y/%m/%d}"
    if "所属网格" in src.extra:
        v["所属网格"] = _village_display(data.houses[house].village) + "网格"
    if "不动产单元号" in src.extra:
        v["不动产单元号"] = f"420682{r.randrange(10**12):012d}F{r.randrange(10**8):08d}"
    return Row(v, pid, noise, house, rel)


def source_rows(src: Source, data: CountyData, seed: int) -> list[Row]:
    """All rows of one source (duplicates included), in file order."""
    index = SOURCE_KEYS.index(src.key)
    g = np.random.default_rng([seed, index])
    r = random.Random(f"yitu-synth:{seed}:{src.key}")
    pos = {pid: i for i, pid in enumerate(data.person_id)}
    rows: list[Row] = []
    if src.key == "property":
        keep = g.random(len(data.owners)) < 0.9
        for (pid, house, since), k in zip(data.owners, keep.tolist(), strict=True):
            if k and pid in pos:
                rows.append(_relation_row(src, data, pos[pid], house, "owner", since, r))
    else:
        for i in _selected(src.key, data, g.random(data.n)).tolist():
            pid = data.person_id[i]
            if src.kind == "people":
                rows.append(_person_row(src, data, i, r))
            elif src.key == "police_rel":
                house, since = data.registered.get(pid, (data.home[pid][0], data.birth[i]))
                rows.append(_relation_row(src, data, i, house, "registered", since, r))
            else:
                house, rel, since = data.home[pid]
                rows.append(_relation_row(src, data, i, house, rel, since, r))
    if src.duplicate:
        for j in np.flatnonzero(g.random(len(rows)) < src.duplicate).tolist():
            first = rows[j]  # the same record keyed in again, with its own slips
            i = pos[first.person]
            if src.kind == "people":
                again = _person_row(src, data, i, r)
            else:
                assert first.house is not None and first.relation is not None
                since = data.home[first.person][2]
                again = _relation_row(src, data, i, first.house, first.relation, since, r)
            again.noise.append("duplicate")
            rows.append(again)
    order = g.permutation(len(rows)).tolist()
    return [rows[k] for k in order]


# -- files ------------------------------------------------------------------------------
FIXED_TIME = datetime(2026, 11, 26, 8, 0, 0)


def _cells(src: Source, rows: list[Row]) -> Iterator[list[Any]]:
    headers = src.headers
    for n, row in enumerate(rows, start=1):
        values = row.values
        if src.extra and src.extra[0] == "序号":
            values = {**values, "序号": n}
        yield [values.get(h, "") for h in headers]


def _write_xlsx(path: Path, src: Source, rows: list[Row]) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    wb.properties.created = wb.properties.modified = FIXED_TIME
    ws = wb.create_sheet(src.sheet or "Sheet1")
    ws.append(src.headers)
    for cells in _cells(src, rows):
        ws.append(cells)
    wb.save(path)


def _write_csv(path: Path, src: Source, rows: list[Row]) -> None:
    with path.open("w", encoding=src.encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(src.headers)
        for cells in _cells(src, rows):
            w.writerow(["" if c is None else str(c) for c in cells])


def mapping_toml(src: Source) -> str:
    """The source's column-mapping file (docs/intake.md, "Mapping files")."""

    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a TOML basic string

    lines = [
        f"# {src.title} ({src.file}): written by `yitu demo sources`",
        f"source = {q(src.key)}",
        f"kind = {q(src.kind)}",
    ]
    if src.file.endswith(".csv"):
        lines.append(f"encoding = {q('gbk' if src.encoding == 'gbk' else 'auto')}")
    if src.sheet:
        lines.append(f"sheet = {q(src.sheet)}")
    lines += ["", "[columns]"]
    lines += [f"{f} = {q(h)}" for f, h in src.columns.items()]
    for name, table in src.values.items():
        lines += ["", f"[values.{name}]"]
        lines += [f"{q(a)} = {q(b)}" for a, b in table.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Written:
    source: str
    file: str
    mapping: str
    kind: str
    rows: int
    people: int  # distinct true people in the file


def write_sources(
    data: CountyData,
    out: Path,
    seed: int,
    only: tuple[str, ...] = SOURCE_KEYS,
    progress: Callable[[str, int], None] | None = None,
) -> list[Written]:
    """Write every source, its mapping, ``truth.csv``, ``truth_relations.csv`` and
    ``manifest.json`` into ``out``; return what was written."""
    if seed < 0:
        raise InvalidInputError("seed must be a non-negative integer")
    unknown = sorted(set(only) - set(SOURCE_KEYS))
    if unknown:
        raise InvalidInputError(f"unknown source(s) {', '.join(unknown)}")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Written] = []
    with (
        (out / "truth.csv").open("w", encoding="utf-8", newline="") as tp,
        (out / "truth_relations.csv").open("w", encoding="utf-8", newline="") as tr,
    ):
        truth_people, truth_rel = csv.writer(tp), csv.writer(tr)
        truth_people.writerow(["source", "row_number", "person_key", "noise"])
        truth_rel.writerow(["source", "row_number", "person_key", "house_id", "relation", "noise"])
        for src in SOURCES:
            if src.key not in only:
                continue
            rows = source_rows(src, data, seed)
            path = out / src.file
            (_write_xlsx if src.file.endswith(".xlsx") else _write_csv)(path, src, rows)
            mapping = out / (Path(src.file).stem + ".toml")
            mapping.write_text(mapping_toml(src), encoding="utf-8")
            for n, row in enumerate(rows, start=1):
                noise = ";".join(row.noise)
                if src.kind == "people":
                    truth_people.writerow([src.key, n, row.person, noise])
                else:
                    truth_rel.writerow([src.key, n, row.person, row.house, row.relation, noise])
            written.append(
                Written(
                    src.key,
                    src.file,
                    mapping.name,
                    src.kind,
                    len(rows),
                    len({row.person for row in rows}),
                )
            )
            if progress:
                progress(src.key, len(rows))
    manifest = {
        "seed": seed,
        "people": data.n,
        "today": data.today.isoformat(),
        "truth": {"people": "truth.csv", "relations": "truth_relations.csv"},
        "sources": [
            {
                "source": w.source,
                "title": next(s.title for s in SOURCES if s.key == w.source),
                "file": w.file,
                "mapping": w.mapping,
                "kind": w.kind,
                "rows": w.rows,
                "people": w.people,
            }
            for w in written
        ],
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return written
