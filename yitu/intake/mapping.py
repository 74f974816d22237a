"""Column-mapping files (TOML): which column of a county's spreadsheet holds which field.

The format is described in docs/intake.md ("Mapping files")::

    source = "police"          # optional; the CLI's --source names the source
    kind = "people"            # people | houses | organisations | relations
    encoding = "auto"          # CSV only: auto (UTF-8, UTF-8 with BOM, GBK) or a codec name
    sheet = "Sheet1"           # XLSX only; default the first sheet

    [columns]                  # field = header as written in the file
    name = "姓名"
    id_number = "公民身份号码"

    [values.relation]          # optional: the file's codes -> yitu's values
    "户主" = "householder"
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from yitu.core.errors import InvalidInputError
from yitu.intake.models import Kind

# Fields each kind understands; the first group is required.
FIELDS: dict[Kind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Kind.PEOPLE: (
        ("name",),
        (
            "id_number",
            "phone",
            "birth_date",
            "gender",
            "address",
            "observed_on",
            "registration_type",
            "ethnicity",
            "record_id",
        ),
    ),
    Kind.HOUSES: (("address",), ("house_use", "observed_on", "record_id")),
    Kind.ORGANISATIONS: (
        ("credit_code", "org_name"),
        ("org_kind", "address", "observed_on", "record_id"),
    ),
    Kind.RELATIONS: (
        ("address", "relation"),
        ("name", "id_number", "birth_date", "valid_from", "observed_on", "record_id"),
    ),
}

# Codes the yitu values understand by default (the mapping's [values] may add others).
DEFAULT_VALUES: dict[str, dict[str, str]] = {
    "relation": {
        "户主": "householder",
        "房主": "owner",
        "产权人": "owner",
        "业主": "owner",
        "家庭成员": "family_member",
        "成员": "family_member",
        "租住": "tenant",
        "租户": "tenant",
        "承租人": "tenant",
        "租住人": "tenant",
        "寄住": "lodger",
        "寄住人": "lodger",
        "户籍": "registered",
        "户籍登记": "registered",
    },
    "house_use": {
        "自住": "self_occupied",
        "自用": "self_occupied",
        "出租": "rented",
        "闲置": "vacant",
        "空置": "vacant",
    },
    "gender": {"男": "M", "女": "F", "M": "M", "F": "F", "1": "M", "2": "F"},
    "registration_type": {
        "户籍": "hukou",
        "户籍人口": "hukou",
        "流动": "floating",
        "流动人口": "floating",
        "寄住": "lodging",
        "寄住人口": "lodging",
        "境外": "foreign",
        "境外人员": "foreign",
    },
    "org_kind": {
        "企业": "enterprise",
        "个体工商户": "individual_business",
        "机关": "government",
        "事业单位": "public_institution",
        "社会组织": "social_organisation",
    },
}


@dataclass(frozen=True)
class Mapping:
    kind: Kind
    columns: dict[str, str]  # field -> header
    source: str = ""
    encoding: str = "auto"
    sheet: str | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    digest: str = ""

    def value_map(self, name: str) -> dict[str, str]:
        return {**DEFAULT_VALUES.get(name, {}), **self.values.get(name, {})}

    def indexes(self, header: list[str]) -> dict[str, int]:
        """Column index of each mapped field; a missing header is a clear error."""
        where = {h: i for i, h in enumerate(header)}
        missing = [h for h in self.columns.values() if h not in where]
        if missing:
            raise InvalidInputError(
                f"columns not in the file's header: {', '.join(missing)} "
                f"(the mapping names them; the file has {len(header)} columns)"
            )
        return {f: where[h] for f, h in self.columns.items()}


def parse_mapping(data: dict[str, object], origin: str = "mapping") -> Mapping:
    kind_raw = data.get("kind")
    try:
        kind = Kind(str(kind_raw))
    except ValueError as exc:
        raise InvalidInputError(
            f"{origin}: kind must be one of {', '.join(k.value for k in Kind)}"
        ) from exc
    columns = data.get("columns")
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise InvalidInputError(f"{origin}: [columns] must map field names to header strings")
    required, optional = FIELDS[kind]
    unknown = sorted(set(columns) - set(required) - set(optional))
    if unknown:
        raise InvalidInputError(
            f"{origin}: unknown field(s) for kind {kind}: {', '.join(unknown)}; "
            f"known: {', '.join(required + optional)}"
        )
    missing = [f for f in required if f not in columns]
    if missing:
        raise InvalidInputError(f"{origin}: kind {kind} needs column(s) for {', '.join(missing)}")
    values = data.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise InvalidInputError(f"{origin}: [values.FIELD] tables must map codes to values")
    sheet = data.get("sheet")
    digest = hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    return Mapping(
        kind=kind,
        columns=dict(columns),
        source=str(data.get("source", "")),
        encoding=str(data.get("encoding", "auto")),
        sheet=str(sheet) if sheet else None,
        values={k: {str(a): str(b) for a, b in v.items()} for k, v in values.items()},
        digest=digest,
    )


def load_mapping(path: Path) -> Mapping:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"mapping file {path.name}: {exc}") from exc
    return parse_mapping(data, path.name)
