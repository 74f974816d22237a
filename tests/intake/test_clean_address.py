"""Address parsing (table of spellings) and matching against the small demo county's standard
address registry, on SQLite and PostgreSQL (YITU_TEST_DATABASE_URL)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.core.db import Database
from yitu.demo.names import URBAN_STREETS
from yitu.intake.clean import AddressMatcher, AddressParts, clean_credit_code, parse_address
from yitu.intake.clean.address import (
    bundled_gazetteer,
    canonical_room,
    normalise_address_text,
    village_core,
)
from yitu.intake.clean.text import chinese_number
from yitu.intake.mapping import parse_mapping
from yitu.intake.rows import CleanMemo, RowCleaner
from yitu.intake.synth import (
    SOURCES,
    AddressNoise,
    HouseText,
    address_text,
    read_county,
    source_rows,
)
from yitu.registry.codes import make_credit_code
from yitu.registry.models import Address, Building, House

P = AddressParts
FULL = P(
    town="酂阳街道",
    village="童营社区居委会",
    road="胜利路",
    number="12",
    building="3",
    unit="2",
    floor=5,
    room="0502",
)


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("湖北省老河口市酂阳街道童营社区社区胜利路12号3栋2单元0502室", FULL),
        ("老河口市酂阳街道童营社区胜利路12号3栋2单元502室", FULL),
        ("酂阳街道办事处童营社区居委会胜利路12号3-2-502", FULL),
        ("酂阳童营胜利路１２号三幢二单元五〇二", FULL),
        ("酂阳街道童营社区胜利路12号3号楼2单元502", FULL),
        ("酂阳街道童营社区胜利路12号3#2单元502室", FULL),
        ("酂阳街道童营社区胜利路12号3栋2-502", FULL),
        ("酂陽街道童營社區勝利路12號3棟2單元502室", FULL),  # traditional characters
        ("酂阳街道 童营社区 胜利路 12号 3栋 2单元 5楼02室", FULL),
        (
            "胜利路12号12号楼",
            P(road="胜利路", number="12", building="12"),
        ),
        ("胜利路12号楼", P(road="胜利路", building="12")),
        ("光化大道8号", P(road="光化大道", number="8")),  # 光化 is a street too: not here
        (
            "光化街道胜利路社区胜利路12号",
            P(town="光化街道", village="胜利路居委会", road="胜利路", number="12"),
        ),
        (
            "湖北省老河口市孟楼镇孟楼正街3号3-1-201",
            P(
                town="孟楼镇",
                road="孟楼正街",
                number="3",
                building="3",
                unit="1",
                floor=2,
                room="0201",
            ),
        ),
        (
            "竹林桥竹林桥卢家岗２号",  # 竹林桥 is a 居委会 and a 村委会: the core, both tried
            P(town="竹林桥镇", village="竹林桥", road="卢家岗", number="2"),
        ),
        (
            "竹林桥镇竹林桥村张家湾三号",
            P(town="竹林桥镇", village="竹林桥村委会", road="张家湾", number="3"),
        ),
        (
            "百花山虚拟生活区百花山林新街1号楼1单元101",
            P(
                town="百花山林场",
                village="百花山虚拟生活区",
                road="百花山林新街",
                building="1",
                unit="1",
                floor=1,
                room="0101",
            ),
        ),
        (
            "城区3路5号2栋1单元15楼03室",
            P(road="城区3路", number="5", building="2", unit="1", floor=15, room="1503"),
        ),
    ],
)
def test_parse_spellings(raw: str, parts: AddressParts) -> None:
    got = parse_address(raw)
    assert got.value == parts
    assert got.issues == ()


def test_parse_missing_unknown_and_partial() -> None:
    assert parse_address(None).codes == ("address_missing",)
    assert parse_address(" ").codes == ("address_missing",)
    assert parse_address("不知道").codes == ("address_format",)
    got = parse_address("胜利路12号3栋2单元502室旁边小卖部")
    assert got.codes == ("address_partial",)
    assert got.value is not None and got.value.road == "胜利路" and got.value.rest
    assert "小卖部" not in got.issues[0].message


def test_numerals_and_rooms() -> None:
    assert [
        chinese_number(t) for t in ("三", "十", "十二", "二十", "二十五", "五〇二", "一百零五")
    ] == [3, 10, 12, 20, 25, 502, 105]
    assert chinese_number("路") is None
    assert canonical_room("502", None) == ("0502", 5)
    assert canonical_room("1502", None) == ("1502", 15)
    assert canonical_room("2", 5) == ("0502", 5)
    assert "西环一路" in normalise_address_text("西环一路3号")  # 一 before 路 stays a word


@given(st.text(alphabet="光化街道胜利路社区12号3栋单元室-０１２三〇 #", max_size=30))
def test_parse_never_raises_and_is_stable(raw: str) -> None:
    first = parse_address(raw)
    assert parse_address(raw) == first


def test_credit_codes() -> None:
    code = make_credit_code("420682", 12345)
    assert clean_credit_code(code).value == code
    assert clean_credit_code(f" {code.lower()[:9]}-{code.lower()[9:]} ").value == code
    assert clean_credit_code(None).codes == ("credit_missing",)
    assert clean_credit_code(code[:17]).codes == ("credit_format",)
    assert clean_credit_code(code[:5] + "O" + code[6:]).codes == ("credit_format",)
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    got = clean_credit_code(wrong)
    assert got.codes == ("credit_checksum",) and got.candidate == wrong


# -- matching against the demo county ---------------------------------------------------------
@pytest.fixture(scope="module")
def matcher(demo_db: Database) -> AddressMatcher:
    with demo_db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        return AddressMatcher.from_session(s)


def test_every_standard_address_matches_itself(demo_db: Database, matcher: AddressMatcher) -> None:
    with demo_db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        rows = s.execute(
            select(
                Address.id,
                Address.kind,
                Address.full_name,
                Address.building_id,
                Address.house_id,
                Address.node_id,
                Address.code,
                Address.code3d,
            )
        ).all()
        single = {b for b, n in Counter(s.scalars(select(House.building_id))).items() if n == 1}
    assert len(rows) > 3000
    for aid, kind, full, bid, hid, nid, code, code3d in rows:
        parsed, m = matcher.match_text(full)
        assert parsed.issues == () and m is not None, full
        assert m.building_id == bid and m.node_id == nid, full
        if kind == "room":
            assert (m.address_id, m.house_id, m.code, m.code3d) == (aid, hid, code, code3d)
            assert m.score == 1.0
        elif bid not in single:  # a farmhouse's building address is its one home's
            assert (m.address_id, m.house_id) == (aid, None)


def test_synthetic_spellings_match_their_true_room(
    demo_db: Database, matcher: AddressMatcher
) -> None:
    """Every source's address spellings (noise included: homophones in road names, full-width
    digits, Chinese numerals, missing divisions) lead to the true room for ≥ 99.5 %."""
    data = read_county(demo_db)
    for src in SOURCES:
        rows = source_rows(src, data, seed=5)
        written = [r for r in rows if r.values[src.columns["address"]]]
        hits = 0
        for r in written:
            _parsed, m = matcher.match_text(r.values[src.columns["address"]])
            hits += m is not None and m.house_id == r.house
        assert hits >= 0.995 * len(written), (src.key, hits, len(written))


def test_road_homophone_typo_and_conflicts(demo_db: Database, matcher: AddressMatcher) -> None:
    with demo_db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        full, road, hid = s.execute(
            select(Address.full_name, Address.road, Address.house_id)
            .join(Building, Building.id == Address.building_id)
            .where(Address.kind == "room", Address.building_name.like("%栋"))
            .order_by(Address.id)
            .limit(1)
        ).one()
    exact = matcher.match_text(full)[1]
    assert exact is not None and exact.house_id == hid and exact.score == 1.0
    # one character of the road swapped for another with the same pinyin
    from yitu.intake.synth import _homophones

    i = next(k for k, c in enumerate(road[:-1]) if c in _homophones())
    typo = road[:i] + _homophones()[road[i]][0] + road[i + 1 :]
    m = matcher.match_text(full.replace(road, typo))[1]
    assert m is not None and m.house_id == hid and 0.8 <= m.score < 1.0
    # a room the building does not have: the building, no house, lower score
    m = matcher.match_text(full.rsplit("单元", 1)[0] + "单元9999室")[1]
    assert m is not None and m.house_id is None and m.score < exact.score
    # a road that does not exist anywhere
    assert matcher.match_text("不存在的大街999号1栋1单元101室")[1] is None


def test_ambiguity_is_no_match(matcher: AddressMatcher) -> None:
    """A building name without road or village (every community has a 1栋) is ambiguous."""
    assert matcher.match(AddressParts(building="1", unit="1", room="0101")) is None


def test_matcher_is_fast_enough_to_build_per_import(matcher: AddressMatcher) -> None:
    # the index holds every building and room (no timing assertion: just completeness)
    assert len(matcher.buildings) > 1000 and len(matcher.rooms) > 2000
    rnd = random.Random(1)
    bid = rnd.choice(sorted(matcher.buildings))
    assert matcher.buildings[bid].address_id > 0


# -- every synthetic spelling parses back to its components ---------------------------------
_GAZ_VILLAGES = [
    (d.name, bundled_gazetteer().divisions[d.parent].name)
    for d in bundled_gazetteer().divisions.values()
    if len(d.code) == 12
]


@given(
    st.sampled_from(_GAZ_VILLAGES),
    st.sampled_from(URBAN_STREETS),
    st.integers(1, 150),
    st.booleans(),
    st.integers(1, 30),
    st.integers(1, 4),
    st.integers(1, 33),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
)
def test_synthetic_urban_spellings_parse_back(
    village_town: tuple[str, str],
    road: str,
    door: int,
    apartment: bool,
    k: int,
    unit: int,
    floor: int,
    room: int,
    seed: int,
) -> None:
    village, town = village_town
    building = f"{k}栋" if apartment else f"{door}号楼"
    number = f"{floor:02d}{room:02d}"
    full = f"湖北省老河口市{town}{village}{road}{door}号{building}{unit}单元{number}室"
    h = HouseText(full, town, village, road, str(door), building, unit, number)
    noise = AddressNoise(registry=0.2, fullwidth=0.3)
    text = address_text(h, noise, random.Random(seed), [])
    got = parse_address(text).value
    assert got is not None, text
    assert (got.road, got.unit, got.room, got.floor) == (road, str(unit), number, floor), text
    bnum = str(k if apartment else door)
    assert (got.number, got.building) in ((str(door), bnum), (None, str(door))), text
    if got.town is not None:
        assert got.town == town, text
    if got.village is not None:  # the core alone when it names two divisions (张集)
        assert got.village in (village, village_core(village)), text


def test_the_cleaner_matches_each_parsed_address_once(
    demo_db: Database, matcher: AddressMatcher
) -> None:
    """Spellings that parse to the same parts are matched once (``CleanMemo.places``), with the
    very result matching each spelling on its own gives."""
    calls: list[AddressParts] = []

    class Counting(AddressMatcher):
        def match(self, parts: AddressParts):  # type: ignore[no-untyped-def]
            calls.append(parts)
            return super().match(parts)

    counting = Counting.__new__(Counting)
    counting.__dict__.update(matcher.__dict__)
    mapping = parse_mapping({"kind": "people", "columns": {"name": "姓名", "address": "住址"}})
    memo = CleanMemo()
    cleaner = RowCleaner(mapping, ["姓名", "住址"], "test", counting, date(2026, 11, 27), {}, memo)
    data = read_county(demo_db)
    texts = [
        r.values[src.columns["address"]]
        for src in SOURCES
        for r in source_rows(src, data, seed=5)
        if r.values[src.columns["address"]]
    ]
    distinct_parts = {p.value for p in map(parse_address, set(texts)) if p.value is not None}
    assert len(distinct_parts) < len(set(texts))  # the sources spell one place many ways
    for text in texts:
        match, _town = cleaner.address(text)
        assert match == matcher.match_text(text)[1], text
    assert len(calls) == len(set(calls)) == len(distinct_parts)
    assert set(memo.places) == distinct_parts
