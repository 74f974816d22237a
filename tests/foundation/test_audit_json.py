"""The audit record's JSON columns: the direct join for int ids writes exactly what
``json.dumps`` writes (the MAC covers these strings, so ``yitu audit verify`` depends on it)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from yitu.audit.chain import _fields_json, _ids_json

IDS = st.lists(st.integers() | st.booleans() | st.text(max_size=5) | st.floats(allow_nan=False))


@given(IDS)
def test_ids_json_is_json_dumps(ids: list[Any]) -> None:
    assert _ids_json(ids) == json.dumps(ids, separators=(",", ":"))


@given(st.lists(st.text(max_size=8), max_size=6))
def test_fields_json_is_sorted_json_dumps(fields: list[str]) -> None:
    assert _fields_json(tuple(fields)) == json.dumps(sorted(fields), separators=(",", ":"))
