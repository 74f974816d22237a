"""The pages (the command dashboard at ``/``, the citizen page at ``/report``) and the static
assets under ``/static/web`` — everything from this package, nothing from a CDN."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_MANIFEST = STATIC_DIR / "vendor" / "manifest.json"
MOUNT = "/static/web"

_MISSING = """<!doctype html><meta charset="utf-8"><title>yitu</title>
<h1>前端资源未构建 / web assets not built</h1>
<p>Run <code>make web</code> (npm ci, then npm run build) in the yitu checkout: it copies
MapLibre GL JS and ECharts from npm into <code>yitu/web/static/vendor/</code>.</p>"""


def vendor_ready() -> bool:
    """True when ``make web`` has copied every vendor file the pages load."""
    if not VENDOR_MANIFEST.is_file():
        return False
    files = json.loads(VENDOR_MANIFEST.read_text())["files"]
    return all((VENDOR_MANIFEST.parent / f).is_file() for f in files)


def _page(name: str) -> Response:
    if not vendor_ready():
        return HTMLResponse(_MISSING, status_code=503)
    # no-cache: the page is tiny and names the app modules; a stale page would load stale code
    return FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    app.mount(MOUNT, StaticFiles(directory=str(STATIC_DIR)), name="web")

    @app.get("/", include_in_schema=False)
    def dashboard() -> Response:
        return _page("index.html")

    @app.get("/report", include_in_schema=False)
    def report() -> Response:
        return _page("report.html")
