"""A real Open311 client library (``georeport`` from PyPI, on ``requests``) against the façade
served by uvicorn on loopback, in JSON and in XML. The library has no POST: reports are filed
with ``requests`` exactly as the spec's example (form-encoded, ``api_key`` in the body)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import uvicorn
from georeport import GeoReport

from cases.conftest import IN_A, IN_B, make_cases_world
from yitu.api.app import create_app
from yitu.cases.open311 import issue_key
from yitu.core.clock import ManualClock


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    cw = make_cases_world(databases.fresh(), tmp_path_factory.mktemp("o311client"))
    clock = cw.platform.clock
    assert isinstance(clock, ManualClock)
    with cw.session() as s:
        key = issue_key(s, "georeport", "test", clock.now())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(cw.platform), host="127.0.0.1", port=port, log_level="warning",
        access_log=False,
    ))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/open311/v2", key
    finally:
        server.should_exit = True
        thread.join(10)
        cw.world.close()


def _post(root: str, fmt: str, **form: Any) -> requests.Response:
    return requests.post(f"{root}/requests.{fmt}", data=form, timeout=30)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_client_reads_everything(served: tuple[str, str], fmt: str) -> None:
    root, key = served
    filed = []
    for code, (lon, lat) in (("E0102", IN_A), ("C0101", IN_B)):
        r = _post(root, fmt, api_key=key, service_code=code, lat=lat, long=lon,
                  description=f"{fmt} 客户端上报", email="client@example.cn")
        assert r.status_code == 200, r.text
        filed.append((code, r))
    client = GeoReport(root, output_format=fmt)
    services = client.get_service_list()
    codes = [s["service_code"] for s in services]
    assert "E0102" in codes and "C0101" in codes and not any(c.startswith("S") for c in codes)
    definition = client.get_service_definition("C0101")
    assert definition["service_code"] == "C0101"
    requests_ = client.get_service_requests(service_code="E0102,C0101", status="open")
    listed = requests_ if isinstance(requests_, list) else [requests_]
    ids = [str(r["service_request_id"]) for r in listed]
    numbers = []
    for _, r in filed:
        if fmt == "json":
            numbers.append(r.json()[0]["service_request_id"])
        else:
            text = r.text
            numbers.append(text.split("<service_request_id>")[1].split("<")[0])
    assert set(numbers) <= set(ids)
    one = client.get_service_request(numbers[0])
    assert str(one["service_request_id"]) == numbers[0]
    assert one["status"] == "open" and one["service_code"] == "E0102"
    assert "client@example.cn" not in str(one)


def test_client_sees_spec_errors(served: tuple[str, str]) -> None:
    root, _ = served
    r = _post(root, "json", api_key="wrong", service_code="E0102", lat=IN_A[1], long=IN_A[0])
    assert r.status_code == 403
    assert r.json()[0]["code"] == 403
    client = GeoReport(root, output_format="json")
    with pytest.raises(requests.HTTPError) as info:
        client.get_service_definition("X0000")
    assert info.value.response.status_code == 404
