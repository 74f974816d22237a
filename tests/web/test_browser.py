"""The UI in a real browser: Debian's headless chromium driven by Playwright against a real
uvicorn server on a free port, serving the map county (small demo county, case categories and
departments, two months of demo cases). Log in, load the map, click a building, file a
citizen report with a photo, then dispatch and close it from the dashboard.

Screenshots of the dashboard and the citizen page are taken on every run; with
``YITU_WRITE_SCREENSHOTS=1`` they are written to docs/screenshots/ (the README shows them),
otherwise to the test's temporary directory, so a test run leaves the work tree clean.
"""

from __future__ import annotations

import io
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from foundation.world import PASSWORD, World
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import func, select

from yitu.access import users
from yitu.access.models import User
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.api.app import create_app
from yitu.audit.models import AuditEvent
from yitu.cases.models import Case
from yitu.grid import from_int
from yitu.registry.models import Building, House, PersonHouse

CHROMIUM = "/usr/bin/chromium"
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# SwiftShader gives headless chromium WebGL without a GPU (MapLibre needs WebGL).
ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
        "--no-sandbox"]
TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(case_map_world: World) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(create_app(case_map_world.platform), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("YITU_WRITE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian chromium is needed: apt-get install chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def new_page(browser: Browser, width: int = 1600, height: int = 900, mobile: bool = False) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height},
                                  device_scale_factor=1, is_mobile=mobile, has_touch=mobile,
                                  locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def login(page: Page, base: str, role: Role) -> None:
    page.goto(base + "/")
    expect(page.locator("#login")).to_be_visible()
    page.fill("#login-user", f"u_{role.value}")
    page.fill("#login-pass", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login")).to_be_hidden()
    page.wait_for_selector("body[data-map-ready='1']")


def wait_idle(page: Page) -> None:
    page.wait_for_function(
        "() => window.yituMap && window.yituMap.loaded() && window.yituMap.areTilesLoaded()"
    )
    page.wait_for_timeout(300)


def click_lonlat(page: Page, lon: float, lat: float) -> None:
    pt = page.evaluate("""([lon, lat]) => {
        const m = window.yituMap;
        m.getContainer().scrollIntoView({block: "center"});
        const r = m.getCanvas().getBoundingClientRect(), p = m.project([lon, lat]);
        return {x: r.left + p.x, y: r.top + p.y}; }""", [lon, lat])
    page.mouse.click(pt["x"], pt["y"])


def inhabited_building(world: World) -> tuple[int, float, float]:
    """A residential building in the urban core with residents (the most rooms)."""
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        row = s.execute(
            select(Building.id, Building.lon, Building.lat)
            .join(House, House.building_id == Building.id)
            .join(PersonHouse, PersonHouse.house_id == House.id)
            .where(Building.use == "residential", PersonHouse.valid_to.is_(None))
            .group_by(Building.id, Building.lon, Building.lat)
            .order_by(func.count(PersonHouse.id).desc(), Building.id)
            .limit(1)
        ).one()
    return int(row[0]), float(row[1]), float(row[2])


def test_dashboard_login_map_and_building_drill_down(
    server: str, browser: Browser, case_map_world: World, shots: Path
) -> None:
    page = new_page(browser)
    login(page, server, Role.OPERATOR)
    # the command panel from the case API: figures, trend chart, rankings
    page.wait_for_selector("body[data-panel-ready='1']")
    expect(page.locator("#kpis .kpi")).to_have_count(4)
    expect(page.locator("#rank-township tr")).not_to_have_count(1)
    bid, lon, lat = inhabited_building(case_map_world)
    page.evaluate("([lon, lat]) => window.yituMap.jumpTo({center: [lon, lat], zoom: 17.5, "
                  "pitch: 0, bearing: 0})", [lon, lat])
    wait_idle(page)
    rendered = page.evaluate("(id) => window.yituMap.queryRenderedFeatures({layers: "
                             "['buildings-3d']}).some(f => f.id === id)", bid)
    assert rendered, "the building is drawn from the vector tiles"
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        audited_before = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.detail == f"registry building {bid} residents"))
    click_lonlat(page, lon, lat)
    expect(page.locator("#building-title")).to_be_visible()
    expect(page.locator("#detail .room").first).to_be_visible()
    text = page.locator("#detail").text_content() or ""
    # residents are masked for the operator's list tier: no full mobile or ID number on screen
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)
    assert not re.search(r"(?<!\d)\d{17}[\dX](?!\d)", text)
    assert "*" in text
    # enum values in the page's language, never the API's identifiers
    expect(page.locator("#building-use")).to_have_text("住宅")
    for raw in ("residential", "self_occupied", "rented", "vacant", "tenant", "owner",
                "householder", "family_member", "lodger"):
        assert raw not in (page.locator("#detail").inner_text() or ""), raw
    # the long grid code stays inside the panel: one line, whole in the title, a copy button
    code = page.locator("#building-code")
    assert len(code.get_attribute("title") or "") > 20
    inside = page.evaluate("""() => {
        const c = document.querySelector('#building-code').getBoundingClientRect();
        const d = document.querySelector('#detail').getBoundingClientRect();
        return c.right <= d.right && c.height < 24; }""")
    assert inside, "the grid code does not overflow the panel"
    expect(page.locator("#detail-body button.copy").first).to_be_visible()
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        audited_after = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.detail == f"registry building {bid} residents"))
    assert audited_after == audited_before + 1, "the residents view is audited"
    # the screenshot: the building's floors open beside the 3D city, cases heat on
    page.locator("#detail .room").first.locator("summary").click()
    page.check("input[data-group='heat']")
    page.evaluate("() => window.yituMap.jumpTo({zoom: 15.6, pitch: 58, bearing: -25})")
    wait_idle(page)
    page.screenshot(path=str(shots / "dashboard.png"))
    assert (shots / "dashboard.png").stat().st_size > 10_000
    # English is one click away
    page.click("#lang")
    page.wait_for_selector("body[data-map-ready='1']")
    expect(page.locator("#panel h2").first).to_have_text("Command panel")
    page.click("#lang")
    assert page.errors == []  # type: ignore[attr-defined]


def test_cell_click_shows_code_and_counts(server: str, browser: Browser) -> None:
    page = new_page(browser)
    login(page, server, Role.OPERATOR)
    page.evaluate("() => window.yituMap.jumpTo({center: [111.6755, 32.3851], zoom: 16, "
                  "pitch: 0})")
    wait_idle(page)
    # an empty spot: no building or case drawn at the centre → the cell under the point
    box = page.locator("#map canvas").bounding_box()
    assert box is not None
    spot = page.evaluate("""() => {
        const m = window.yituMap, c = m.getCanvas();
        const layers = ['buildings-3d', 'cases-points', 'cases-clusters'];
        for (let y = 40; y < c.clientHeight - 40; y += 23) {
          for (let x = 240; x < c.clientWidth - 420; x += 23) {
            if (!m.queryRenderedFeatures([x, y], {layers}).length) return {x, y};
          }
        }
        return null; }""")
    assert spot is not None
    page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])
    expect(page.locator("#cell-code")).to_have_text(re.compile(r"^N\d{2}[A-Z0-9]+$"))
    assert "人口" in page.locator("#detail").inner_text()


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def test_citizen_report_then_dispatch_and_close(
    server: str, browser: Browser, case_map_world: World, tmp_path: Path, shots: Path
) -> None:
    photo = tmp_path / "pothole.png"
    photo.write_bytes(_png())
    page = new_page(browser, 430, 1100, mobile=True)
    page.goto(server + "/report")
    page.wait_for_selector("body[data-map-ready='1']")
    page.select_option("#category", index=0)
    page.fill("#description", "路面有一个大坑，电动车容易摔倒")
    page.set_input_files("#photo", str(photo))
    _, lon, lat = inhabited_building(case_map_world)
    lon += 0.0006  # beside the building, on the street
    page.evaluate("([lon, lat]) => window.yituMap.jumpTo({center: [lon, lat], zoom: 16.5})",
                  [lon, lat])
    wait_idle(page)
    click_lonlat(page, lon, lat)
    expect(page.locator("#where")).to_have_text(re.compile(r"N49\w+"))
    page.click("#send")
    expect(page.locator("#report-ok")).to_be_visible()
    number = page.locator("#case-number").inner_text()
    assert re.fullmatch(r"\d{13}", number)
    grid = page.locator("#case-grid").inner_text()
    expect(page.locator("#follow-state")).to_have_attribute("data-state", "reported")
    expect(page.locator("#follow-state")).to_have_text("已上报")
    page.screenshot(path=str(shots / "report.png"), full_page=True)
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case is not None and case.source == "citizen" and case.state == "reported"
        assert from_int(int(case.code)) == grid

    # the operations centre: find it by number, accept, verify, register, dispatch
    desk = new_page(browser)
    login(desk, server, Role.OPERATOR)
    desk.fill("#search", number)
    desk.press("#search", "Enter")
    desk.click("#search-results a[data-case]")
    expect(desk.locator("#case-number")).to_have_text(number)
    expect(desk.locator("#detail .photos img")).to_have_count(1)
    for action in ("accept", "verify", "register"):
        desk.click(f"#action-{action}")
        expect(desk.locator(f"#action-{action}")).to_have_count(0)
    desk.select_option("#dispatch-department", "cgj")
    desk.click("#action-dispatch")
    expect(desk.locator("#case-state")).to_have_text("已派遣")

    # the department takes it and reports it handled
    handler = new_page(browser)
    login(handler, server, Role.DEPT_HANDLER)
    handler.fill("#search", number)
    handler.press("#search", "Enter")
    handler.click("#search-results a[data-case]")
    handler.click("#action-handle")
    expect(handler.locator("#case-state")).to_have_text("处置中")
    # an extension request carries its length: the form says which field is missing first
    handler.fill("#action-note", "等待配件")
    handler.click("#action-request_extension")
    expect(handler.locator("#action-error")).to_have_text("请填写: 延期时长")
    handler.fill("#request-extension-value", "2")
    handler.select_option("#request-extension-unit", "working_days")
    handler.click("#action-request_extension")
    expect(handler.locator("#case-extension")).to_have_text("2 工作日")
    # the department by name, the grid code as the BeiDou text of the stored integer code
    expect(handler.locator("#case-department")).to_have_text("市城市管理执法局")
    expect(handler.locator("#case-grid-code")).to_have_text(grid)
    handler.fill("#action-note", "已修补")
    handler.click("#action-feedback")
    expect(handler.locator("#case-state")).to_have_text("已处置")

    # back at the centre: check and close
    desk.reload()
    desk.wait_for_selector("body[data-map-ready='1']")
    desk.fill("#search", number)
    desk.press("#search", "Enter")
    desk.click("#search-results a[data-case]")
    desk.click("#action-check")
    expect(desk.locator("#action-check")).to_have_count(0)
    desk.click("#action-close")
    expect(desk.locator("#case-state")).to_have_text("已结案")
    # the return visit (回访) needs the citizen's satisfaction
    desk.screenshot(path=str(shots / "case.png"))
    desk.click("#action-visit")
    expect(desk.locator("#action-error")).to_have_text("请填写: 满意度")
    desk.select_option("#visit-satisfaction", "basically_satisfied")
    desk.click("#action-visit")
    expect(desk.locator("#case-satisfaction")).to_have_text("基本满意")
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        done = s.scalar(select(Case).where(Case.number == number))
        assert done is not None
        assert done.state == "closed" and done.satisfaction == "basically_satisfied"
        assert done.extension_pending is not None and done.extension_pending["value"] == 2.0

    # the citizen follows it to the end
    page.fill("#follow-number", number)
    page.click("#follow-form button")
    expect(page.locator("#follow-state")).to_have_attribute("data-state", "closed")
    for p in (page, desk, handler):
        assert p.errors == []  # type: ignore[attr-defined]


def test_first_login_changes_the_one_time_password(
    server: str, browser: Browser, case_map_world: World
) -> None:
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        users.create_user(s, case_map_world.clock, "new_operator", "Once-only-2026",
                          role=Role.OPERATOR, scope_codes=["420682000000"],
                          must_change_password=True)
    page = new_page(browser)
    page.goto(server + "/")
    # the new-password field appears only once the server has asked for it
    expect(page.locator("#login-new-pass")).to_be_hidden()
    page.fill("#login-user", "new_operator")
    page.fill("#login-pass", "Once-only-2026")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-new-pass")).to_be_visible()
    expect(page.locator("#login-error")).not_to_be_empty()
    page.fill("#login-new-pass", "Chosen-by-me-2026")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-map-ready='1']")
    page.wait_for_selector("body[data-panel-ready='1']")
    with case_map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        user = s.scalar(select(User).where(User.username == "new_operator"))
        assert user is not None and not user.must_change_password
    assert page.errors == []  # type: ignore[attr-defined]
