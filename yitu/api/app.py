"""The FastAPI application: every domain's router under ``/api/v1``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from yitu import __version__
from yitu.access.api import auth_router, tree_router, users_router
from yitu.api import docs, problems
from yitu.api.middleware import BodyLimit, RequestContext
from yitu.audit.api import router as audit_router
from yitu.cases.api import router as cases_router
from yitu.cases.api import upload_limits as case_upload_limits
from yitu.cases.kpi_api import router as case_kpi_router
from yitu.cases.open311 import router as open311_router
from yitu.intake.api import router as intake_router
from yitu.people.api import router as people_router
from yitu.registry.api import router as registry_router
from yitu.runtime import Platform
from yitu.web import pages as web_pages
from yitu.web.api import router as web_router

API_PREFIX = "/api/v1"


def create_app(platform: Platform) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        platform.db.dispose()

    app = FastAPI(
        title="yitu (一图)",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        description="One map for county-level grassroots governance.",
    )
    app.state.platform = platform
    # Each domain router hangs directly off the app: every level of included routers is
    # matched again per request (FastAPI walks the route list at each level, twice).
    for router in (
        people_router,  # first: the hottest read is matched before any other router
        auth_router,
        users_router,
        tree_router,
        registry_router,
        audit_router,
        web_router,
        case_kpi_router,
        cases_router,
        intake_router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    @app.get(f"{API_PREFIX}/health", tags=["meta"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    # Open311 GeoReport v2 keeps the spec's paths (/open311/v2/…), outside /api/v1.
    app.include_router(open311_router)
    problems.install(app)
    docs.install(app)
    web_pages.install(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=platform.settings.max_body_bytes,
        upload_limits=case_upload_limits(API_PREFIX),
    )
    app.add_middleware(RequestContext)
    return app
