"""Noisy department sources from the small demo county (SQLite and PostgreSQL): determinism,
truth consistency (row numbers, people, houses, relations), coverage, noise, encodings,
mapping files the importer reads, and the CLI (audited, no personal data printed)."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from foundation.conftest import DatabaseFactory
from foundation.world import AUDIT_KEY
from openpyxl import load_workbook
from sqlalchemy import select, text
from typer.testing import CliRunner

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.cli import app as cli
from yitu.core.db import Database
from yitu.core.errors import InvalidInputError
from yitu.core.logs import ID_NUMBER_RE, MOBILE_RE
from yitu.intake.clean import AddressMatcher, clean_id_number, clean_name
from yitu.intake.mapping import load_mapping
from yitu.intake.synth import SOURCES, CountyData, read_county, write_sources
from yitu.registry.models import PersonHouse

SEED = 3
ID_DAMAGE = {"id_blank", "id_missing_digit", "id_extra_digit", "id_transpose", "id_wrong_digit"}


def read_rows(path: Path, encoding: str, sheet: str | None) -> tuple[list[str], list[list[str]]]:
    if path.suffix == ".xlsx":
        wb = load_workbook(path, read_only=True)
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = [
            ["" if v is None else v.isoformat() if isinstance(v, date) else str(v) for v in row]
            for row in ws.iter_rows(values_only=True)
        ]
        wb.close()
    else:
        with path.open(encoding=encoding, newline="") as fh:
            rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def county(demo_db: Database) -> CountyData:
    return read_county(demo_db)


@pytest.fixture(scope="module")
def out(county: CountyData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sources")
    write_sources(county, path, SEED)
    return path


def truth(out: Path, name: str = "truth.csv") -> dict[str, list[dict[str, str]]]:
    by_source: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (out / name).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            by_source[row["source"]].append(row)
    return by_source


def test_deterministic_for_a_seed(county: CountyData, out: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    write_sources(county, again, SEED)
    for name in (
        "truth.csv",
        "truth_relations.csv",
        "manifest.json",
        "civil_affairs.csv",
        "health.csv",
        "property_owners.csv",
        "grid_survey.toml",
    ):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    for src in SOURCES:
        if src.file.endswith(".xlsx"):
            assert read_rows(out / src.file, "", src.sheet) == read_rows(
                again / src.file, "", src.sheet
            )
    other = tmp_path / "other"
    write_sources(county, other, SEED + 1, only=("health",))
    assert (other / "health.csv").read_bytes() != (out / "health.csv").read_bytes()


def test_people_truth_is_consistent(county: CountyData, out: Path) -> None:
    people = {pid: i for i, pid in enumerate(county.person_id)}
    t = truth(out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    rows_of = {s["source"]: s["rows"] for s in manifest["sources"]}
    for src in (s for s in SOURCES if s.kind == "people"):
        header, rows = read_rows(out / src.file, src.encoding, src.sheet)
        assert header == src.headers
        assert len(rows) == len(t[src.key]) == rows_of[src.key] > 0
        col = {f: header.index(h) for f, h in src.columns.items()}
        checked_id = checked_name = 0
        for row, tr in zip(rows, t[src.key], strict=True):
            i = people[int(tr["person_key"])]
            noise = tr["noise"].split(";")
            raw_id = row[col["id_number"]]
            if not set(noise) & ID_DAMAGE:  # spacing, case and 15 digits clean back
                assert clean_id_number(raw_id).value == county.id_number[i]
                checked_id += 1
            if not any(n.startswith("name_") for n in noise):
                assert clean_name(row[col["name"]]).value == clean_name(county.name[i]).value
                checked_name += 1
            if "id_old15" in noise and "id_format_noise" not in noise:
                assert len(raw_id) == 15
        assert checked_id > 0.85 * len(rows) and checked_name > 0.85 * len(rows)
        assert [int(r["row_number"]) for r in t[src.key]] == list(range(1, len(rows) + 1))


def test_relations_truth_is_consistent(demo_db: Database, county: CountyData, out: Path) -> None:
    with demo_db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        real = {
            (p, h, r)
            for p, h, r in s.execute(
                select(PersonHouse.person_id, PersonHouse.house_id, PersonHouse.relation).where(
                    PersonHouse.valid_to.is_(None)
                )
            )
        }
        matcher = AddressMatcher.from_session(s)
    homes = {p: h for p, (h, _r, _s) in county.home.items()}
    t = truth(out, "truth_relations.csv")
    for src in (s for s in SOURCES if s.kind == "relations"):
        header, rows = read_rows(out / src.file, src.encoding, src.sheet)
        assert len(rows) == len(t[src.key]) > 0
        address = header.index(src.columns["address"])
        hits = 0
        for row, tr in zip(rows, t[src.key], strict=True):
            key = (int(tr["person_key"]), int(tr["house_id"]), tr["relation"])
            # registered where they live: no registered row, the home is the 户籍 address
            assert key in real or (key[2] == "registered" and homes[key[0]] == key[1])
            m = matcher.match_text(row[address])[1]
            hits += m is not None and m.house_id == key[1]
        assert hits >= 0.995 * len(rows), src.key


def test_coverage_overlap_and_duplicates(county: CountyData, out: Path) -> None:
    t = truth(out)
    reg = dict(zip(county.person_id, county.registration, strict=True))
    sets = {k: {int(r["person_key"]) for r in rows} for k, rows in t.items()}
    assert all(reg[p] == "hukou" for p in sets["police"])
    today = county.today
    for p in sets["civil"]:
        i = county.person_id.index(p)
        age = (today - county.birth[i]).days / 365.25
        assert age >= 59.9 or county.care_tags[i]
    n = county.n
    assert 0.6 * n < len(sets["health"]) < 0.9 * n
    assert 0.75 * n < len(sets["grid"]) < 0.95 * n
    assert len(sets["police"] & sets["health"] & sets["grid"]) > 0.3 * n
    assert len(set().union(*sets.values())) > 0.97 * n
    for key, rows in t.items():
        counts = Counter(r["person_key"] for r in rows)
        dups = sum(1 for r in rows if "duplicate" in r["noise"])
        assert sum(c - 1 for c in counts.values()) == dups, key
    assert sum("duplicate" in r["noise"] for r in t["grid"]) > 0.02 * len(t["grid"])


def test_every_kind_of_noise_occurs(out: Path) -> None:
    labels: Counter[str] = Counter()
    for name in ("truth.csv", "truth_relations.csv"):
        for rows in truth(out, name).values():
            for r in rows:
                labels.update(x for x in r["noise"].split(";") if x)
    expected = {
        "name_typo",
        "name_homophone",
        "name_swap",
        "name_traditional",
        "name_space",
        "id_blank",
        "id_old15",
        "id_missing_digit",
        "id_extra_digit",
        "id_transpose",
        "id_wrong_digit",
        "id_format_noise",
        "phone_blank",
        "phone_stale",
        "phone_landline",
        "phone_missing_digit",
        "phone_extra_digit",
        "phone_format_noise",
        "address_spelling",
        "address_road_homophone",
        "address_fullwidth",
        "address_space",
        "address_blank",
        "birth_blank",
        "duplicate",
    }
    assert expected <= set(labels), expected - set(labels)


def test_encodings_and_mapping_files(out: Path) -> None:
    raw = (out / "civil_affairs.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gbk").startswith("序号,姓名")
    assert (out / "health.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    for src in SOURCES:
        mapping = load_mapping(out / (Path(src.file).stem + ".toml"))  # the importer's parser
        assert mapping.kind.value == src.kind and mapping.source == src.key
        header, _rows = read_rows(out / src.file, src.encoding, src.sheet)
        mapping.indexes(header)  # every mapped header is in the file
        assert mapping.sheet == src.sheet


def test_bad_arguments(county: CountyData, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="seed"):
        write_sources(county, tmp_path, -1)
    with pytest.raises(InvalidInputError, match="unknown source"):
        write_sources(county, tmp_path, 1, only=("tax",))


def test_empty_database_is_refused(databases: DatabaseFactory) -> None:
    db = Database(databases.fresh())
    try:
        with pytest.raises(InvalidInputError, match="no demo county"):
            read_county(db)
    finally:
        db.dispose()


def test_cli_writes_sources_and_audits_the_export(demo_db: Database, tmp_path: Path) -> None:
    env = {
        "YITU_DATABASE_URL": demo_db.engine.url.render_as_string(hide_password=False),
        "YITU_AUDIT_KEY": AUDIT_KEY,
        "YITU_DATA_DIR": str(tmp_path / "data"),
    }
    result = CliRunner().invoke(
        cli,
        [
            "demo",
            "sources",
            "--out",
            str(tmp_path / "s"),
            "--seed",
            "2",
            "--source",
            "civil",
            "--source",
            "property",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert not ID_NUMBER_RE.search(result.output) and not MOBILE_RE.search(result.output)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text(encoding="utf-8"))
    assert [s["source"] for s in manifest["sources"]] == ["civil", "property"]
    with demo_db.engine.connect() as conn:
        details = (
            conn.execute(
                text(
                    "SELECT detail FROM audit_events"
                    " WHERE action = 'export' AND object_type = 'person'"
                )
            )
            .scalars()
            .all()
        )
    assert any("demo sources" in d and "seed 2" in d for d in details)
