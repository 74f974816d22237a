"""Reader (encodings, XLSX), mapping errors, and the houses / organisations kinds against the
small demo county's registry."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from foundation.conftest import DatabaseFactory
from openpyxl import Workbook
from sqlalchemy import func, select

from yitu.core.db import Database
from yitu.core.errors import InvalidInputError
from yitu.demo.generate import Demo
from yitu.demo.load import load
from yitu.intake.mapping import load_mapping, parse_mapping
from yitu.intake.models import RowIssue, SourceRecord
from yitu.intake.reader import open_table
from yitu.intake.service import run_import
from yitu.registry.codes import make_credit_code
from yitu.registry.models import Address, House, Organisation

HEADER = ["序号", "姓名", "身份证号", "住址"]
ROWS = [["1", "张伟", "420682198202277596", "光化街道光明社区"], ["2", "李娜", "", "孟楼镇"]]


def now() -> datetime:
    return datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "people.csv"
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows([HEADER, *ROWS, ["", "", "", ""]])
    table = open_table(path)
    assert table.header == HEADER
    assert list(table.rows) == [(1, ROWS[0]), (2, ROWS[1])]  # the blank row is skipped
    assert table.encoding == ("gb18030" if encoding == "gbk" else "utf-8-sig")


def test_xlsx_rows_keep_the_operators_numbering(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "人口"
    ws.append(HEADER)
    ws.append(ROWS[0])
    ws.append([None, None, None, None])  # an empty row keeps its number
    ws.append(ROWS[1])
    wb.save(tmp_path / "p.xlsx")
    table = open_table(tmp_path / "p.xlsx", "人口")
    assert table.header == HEADER
    assert list(table.rows) == [(1, ROWS[0]), (3, ROWS[1])]
    with pytest.raises(InvalidInputError, match="sheet"):
        open_table(tmp_path / "p.xlsx", "户籍")
    (tmp_path / "bad.xlsx").write_bytes(b"not a zip")
    with pytest.raises(InvalidInputError, match="XLSX"):
        open_table(tmp_path / "bad.xlsx")
    with pytest.raises(InvalidInputError, match="unsupported"):
        open_table(tmp_path / "p.ods")


def test_mapping_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="kind must be"):
        parse_mapping({"kind": "cars", "columns": {}})
    with pytest.raises(InvalidInputError, match=r"unknown field.*shoe_size"):
        parse_mapping({"kind": "people", "columns": {"name": "姓名", "shoe_size": "鞋码"}})
    with pytest.raises(InvalidInputError, match=r"needs column.*credit_code"):
        parse_mapping({"kind": "organisations", "columns": {"org_name": "名称"}})
    (tmp_path / "m.toml").write_text("kind = [", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"m\.toml"):
        load_mapping(tmp_path / "m.toml")
    m = parse_mapping({"kind": "people", "columns": {"name": "姓名", "phone": "电话"}})
    with pytest.raises(InvalidInputError, match="电话"):
        m.indexes(HEADER)


@pytest.fixture(scope="module")
def registry_db(databases: DatabaseFactory, small_demo: Demo) -> Iterator[Database]:
    db = Database(databases.fresh())
    load(db, small_demo)
    yield db
    db.dispose()


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def test_houses_merge_into_registry_rooms_or_are_rejected(
    registry_db: Database, tmp_path: Path
) -> None:
    db = registry_db
    with db.engine.connect() as conn:
        rooms = conn.execute(
            select(Address.full_name, Address.house_id)
            .where(Address.kind == "room")
            .order_by(Address.id)
            .limit(3)
        ).all()
    rows = [[r.full_name, "出租"] for r in rooms] + [
        ["火星市不存在路99号", "自住"],
        [rooms[0].full_name, "拆了"],
    ]
    path = _write_csv(tmp_path / "houses.csv", ["地址", "使用情况"], rows)
    mapping = parse_mapping(
        {"kind": "houses", "columns": {"address": "地址", "house_use": "使用情况"}}
    )
    result = run_import(db, "housing", mapping, [path], now=now)
    acc = result.accounts["houses.csv"]
    assert acc == {
        "rows": 5,
        "accepted": 0,
        "merged": 3,
        "rejected": 2,
        "pending": 0,
        "duplicates": 0,
    }
    with db.engine.connect() as conn:
        uses = (
            conn.execute(select(House.use).where(House.id.in_([r.house_id for r in rooms])))
            .scalars()
            .all()
        )
        assert uses == ["rented"] * 3
        codes = sorted(
            conn.execute(
                select(RowIssue.code).where(
                    RowIssue.severity == "reject", RowIssue.file_id == result.files[0].file_id
                )
            ).scalars()
        )
        assert codes == ["address_unmatched", "house_use_unknown"]


def test_organisations_by_credit_code(registry_db: Database, tmp_path: Path) -> None:
    db = registry_db
    with db.engine.connect() as conn:
        existing = conn.execute(select(Organisation).limit(1)).one()
        room = conn.execute(
            select(Address.full_name).where(Address.kind == "building").limit(1)
        ).scalar_one()
        before = conn.execute(select(func.count()).select_from(Organisation)).scalar_one()
    new_code = make_credit_code("420682", 99_999_001)
    bad = new_code[:-1] + ("0" if new_code[-1] != "0" else "1")
    rows = [
        [existing.credit_code, existing.name, ""],
        [new_code, "老河口市测试商贸有限公司", room],
        [new_code, "老河口市测试商贸有限公司", room],  # the same organisation twice
        [bad, "校验位错误公司", room],
        [make_credit_code("420682", 99_999_002), "无地址公司", "火星市不存在路99号"],
    ]
    path = _write_csv(tmp_path / "orgs.csv", ["统一社会信用代码", "单位名称", "地址"], rows)
    mapping = parse_mapping(
        {
            "kind": "organisations",
            "columns": {
                "credit_code": "统一社会信用代码",
                "org_name": "单位名称",
                "address": "地址",
            },
        }
    )
    result = run_import(db, "market", mapping, [path], now=now)
    acc = result.accounts["orgs.csv"]
    # Row 3 is identical to row 2: a duplicate row, merged without a second record.
    assert (acc["accepted"], acc["merged"], acc["rejected"]) == (1, 2, 2)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Organisation)).scalar_one() == (
            before + 1
        )
        org = conn.execute(select(Organisation).where(Organisation.credit_code == new_code)).one()
        assert org.building_id is not None and org.code > 0
        merged = conn.execute(
            select(SourceRecord.org_id).where(
                SourceRecord.source == "market", SourceRecord.row_number == 1
            )
        ).scalar_one()
        assert merged == existing.id
    # The same file again: nothing changes.
    again = run_import(db, "market", mapping, [path], now=now)
    assert again.files[0].already_imported
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Organisation)).scalar_one() == (
            before + 1
        )
