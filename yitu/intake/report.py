"""Data-quality report (数据质量报告, HTML via Jinja2 and XLSX via openpyxl) and reject files.

The report holds counts only, plus unmatched address texts cut to the building (L1 masking):
issues by type, rows by source and outcome, issues and records by town, duplicates found
(rows merged into an existing record, people linked from several records) and the addresses
that matched nothing in the standard address registry. Reject files list row number, field,
code and reason with the value masked as list views mask it (IDs and phones never in full)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import Connection, func, select

from yitu.access.masking import Tier, mask_address
from yitu.intake.importer import accounting, town_names
from yitu.intake.models import ImportFile, Kind, RowIssue, SourceRecord


@dataclass
class Report:
    issues: list[tuple[str, str, str, int]] = field(default_factory=list)  # sev, field, code, n
    sources: list[dict[str, Any]] = field(default_factory=list)
    towns: list[tuple[str, int, int, int]] = field(default_factory=list)  # town, recs, iss, rej
    duplicates: dict[str, int] = field(default_factory=dict)
    unmatched: list[tuple[str, str, int]] = field(default_factory=list)  # source, address, n
    unmatched_total: int = 0


def build_report(conn: Connection, unmatched_limit: int = 200) -> Report:
    rep = Report()
    rep.issues = [
        (s, f, c, int(n))
        for s, f, c, n in conn.execute(
            select(RowIssue.severity, RowIssue.field, RowIssue.code, func.count())
            .group_by(RowIssue.severity, RowIssue.field, RowIssue.code)
            .order_by(RowIssue.severity, func.count().desc())
        )
    ]
    by_source: dict[str, dict[str, Any]] = {}
    for f in conn.execute(select(ImportFile).order_by(ImportFile.id)):
        acc = accounting(conn, f.id)
        s = by_source.setdefault(
            f.source,
            {
                "source": f.source,
                "kind": f.kind,
                "files": 0,
                "rows": 0,
                "accepted": 0,
                "merged": 0,
                "rejected": 0,
                "pending": 0,
                "duplicates": 0,
            },
        )
        s["files"] += 1
        for k in ("rows", "accepted", "merged", "rejected", "pending", "duplicates"):
            s[k] += acc[k]
    rep.sources = list(by_source.values())
    towns = town_names(conn)
    rec_by_town: dict[str, int] = {}
    for node, n in conn.execute(
        select(SourceRecord.node_id, func.count()).group_by(SourceRecord.node_id)
    ):
        t = towns.get(node, "") or "(county / unmatched)"
        rec_by_town[t] = rec_by_town.get(t, 0) + int(n)
    iss_by_town: dict[str, list[int]] = {}
    for town, sev, n in conn.execute(
        select(RowIssue.town, RowIssue.severity, func.count()).group_by(
            RowIssue.town, RowIssue.severity
        )
    ):
        t = town or "(county / unmatched)"
        slot = iss_by_town.setdefault(t, [0, 0])
        slot[0] += int(n)
        if sev == "reject":
            slot[1] += int(n)
    names = sorted(set(rec_by_town) | set(iss_by_town))
    rep.towns = [
        (t, rec_by_town.get(t, 0), iss_by_town.get(t, [0, 0])[0], iss_by_town.get(t, [0, 0])[1])
        for t in names
    ]
    multi = (
        select(SourceRecord.person_id)
        .where(SourceRecord.kind == Kind.PEOPLE.value, SourceRecord.person_id.is_not(None))
        .group_by(SourceRecord.person_id)
        .having(func.count() > 1)
        .subquery()
    )
    rep.duplicates = {
        "rows merged into an existing record": sum(s["merged"] for s in rep.sources),
        "of which identical rows already imported": sum(s["duplicates"] for s in rep.sources),
        "people linked from several records": int(
            conn.execute(select(func.count()).select_from(multi)).scalar_one()
        ),
    }
    unmatched = (
        select(SourceRecord.source, SourceRecord.address, func.count())
        .where(SourceRecord.address != "", SourceRecord.address_id.is_(None))
        .group_by(SourceRecord.source, SourceRecord.address)
    )
    rows = conn.execute(unmatched).all()
    rep.unmatched_total = sum(int(n) for _s, _a, n in rows)
    rows.sort(key=lambda r: -int(r[2]))
    rep.unmatched = [(s, mask_address(a, Tier.L1), int(n)) for s, a, n in rows[:unmatched_limit]]
    return rep


_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>数据质量报告 data-quality report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #999;padding:.2em .6em;text-align:left}td.n{text-align:right}</style>
</head><body>
<h1>数据质量报告 · data-quality report</h1>
<h2>Rows by source</h2>
<table><tr><th>source</th><th>kind</th><th>files</th><th>rows</th><th>accepted</th>
<th>merged</th><th>rejected</th><th>pending</th></tr>
{% for s in r.sources %}<tr><td>{{ s.source }}</td><td>{{ s.kind }}</td>
<td class=n>{{ s.files }}</td><td class=n>{{ s.rows }}</td><td class=n>{{ s.accepted }}</td>
<td class=n>{{ s.merged }}</td><td class=n>{{ s.rejected }}</td><td class=n>{{ s.pending }}</td>
</tr>{% endfor %}</table>
<h2>Issues by type</h2>
<table><tr><th>severity</th><th>field</th><th>code</th><th>rows</th></tr>
{% for sev, f, c, n in r.issues %}<tr><td>{{ sev }}</td><td>{{ f }}</td><td>{{ c }}</td>
<td class=n>{{ n }}</td></tr>{% endfor %}</table>
<h2>By town</h2>
<table><tr><th>town</th><th>records</th><th>issues</th><th>rejects</th></tr>
{% for t, rec, iss, rej in r.towns %}<tr><td>{{ t }}</td><td class=n>{{ rec }}</td>
<td class=n>{{ iss }}</td><td class=n>{{ rej }}</td></tr>{% endfor %}</table>
<h2>Duplicates found</h2>
<table>{% for k, v in r.duplicates.items() %}<tr><td>{{ k }}</td><td class=n>{{ v }}</td></tr>
{% endfor %}</table>
<h2>Unmatched addresses ({{ r.unmatched_total }} records; most frequent, masked)</h2>
<table><tr><th>source</th><th>address</th><th>records</th></tr>
{% for s, a, n in r.unmatched %}<tr><td>{{ s }}</td><td>{{ a }}</td><td class=n>{{ n }}</td></tr>
{% endfor %}</table>
</body></html>
"""


def write_html(rep: Report, path: Path) -> None:
    env = Environment(autoescape=select_autoescape(default=True))
    path.write_text(env.from_string(_HTML).render(r=rep), encoding="utf-8")


def write_xlsx(rep: Report, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "sources"
    cols = ["source", "kind", "files", "rows", "accepted", "merged", "rejected", "pending"]
    ws.append(cols)
    for s in rep.sources:
        ws.append([s[c] for c in cols])
    sheets: list[tuple[str, list[str], list[Any]]] = [
        ("issues", ["severity", "field", "code", "rows"], rep.issues),
        ("towns", ["town", "records", "issues", "rejects"], rep.towns),
        ("duplicates", ["what", "count"], list(rep.duplicates.items())),
        ("unmatched addresses", ["source", "address (masked)", "records"], rep.unmatched),
    ]
    for title, header, rows in sheets:
        sheet = wb.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append(list(row))
    wb.save(path)


def write_report(conn: Connection, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    rep = build_report(conn)
    html, xlsx = out / "quality.html", out / "quality.xlsx"
    write_html(rep, html)
    write_xlsx(rep, xlsx)
    return html, xlsx


REJECT_COLUMNS = ["source", "file", "row", "field", "code", "reason", "value (masked)"]


def rejects(conn: Connection, file_ids: list[int] | None = None) -> list[list[Any]]:
    query = (
        select(
            ImportFile.source,
            ImportFile.file_name,
            RowIssue.row_number,
            RowIssue.field,
            RowIssue.code,
            RowIssue.message,
            RowIssue.masked_value,
        )
        .join(ImportFile, ImportFile.id == RowIssue.file_id)
        .where(RowIssue.severity == "reject")
        .order_by(RowIssue.file_id, RowIssue.row_number, RowIssue.id)
    )
    if file_ids is not None:
        query = query.where(RowIssue.file_id.in_(file_ids))
    return [list(r) for r in conn.execute(query)]


def write_rejects(conn: Connection, path: Path, file_ids: list[int] | None = None) -> int:
    """Rejected rows to ``path`` (.csv UTF-8 with BOM so Excel opens it, or .xlsx)."""
    rows = rejects(conn, file_ids)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "rejects"
        ws.append(REJECT_COLUMNS)
        for r in rows:
            ws.append(r)
        wb.save(path)
    else:
        with path.open("w", newline="", encoding="utf-8-sig") as f:
            w = csv.writer(f)
            w.writerow(REJECT_COLUMNS)
            w.writerows(rows)
    return len(rows)
