"""The FastAPI application: routers, error mapping, dashboard; clients built in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from alerts.accounts import Accounts
from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseWorkflow
from alerts.emergency_service import EmergencyService
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from alerts.reduction_audit import ReductionAuditor
from api.deps import AppContext
from api.latest_cache import LatestCache
from api.routes import (
    case_actions,
    cases,
    cities,
    dead_letters,
    emergency,
    emergency_compliance,
    finding_chart,
    health,
    ingest_metrics,
    ledger,
    live,
    me,
    outlets,
    overview,
    reports,
    stations,
)
from config.emergency import load_emergency
from config.outlets import load_outlets
from config.settings import Settings, get_settings
from config.stations import load_stations
from ingest.dead_letters import DeadLetterStore
from ingest.errors import StoreRejected, StoreUnavailable
from ingest.influx_store import InfluxStore

STATIC = Path(__file__).resolve().parent / "static"


def build_context(settings: Settings) -> AppContext:
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    outlets = load_outlets(settings.outlets_file)
    store = InfluxStore(settings.influx)
    cases = CaseRepository(sessions, settings.cases)
    return AppContext(
        settings=settings, stations=load_stations(settings.stations_file),
        outlets=outlets, store=store, engine=engine, cases=cases,
        dead_letters=DeadLetterStore(sessions),
        workflow=CaseWorkflow(sessions, settings.cases), accounts=Accounts(sessions),
        emergency=EmergencyService(sessions, load_emergency(settings.emergency_file),
                                   settings.timezone),
        compliance=ReductionAuditor(settings, store, cases, sessions, outlets),
        latest=LatestCache(settings.api.latest_cache_s),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API. Settings are read (and validated) once, at start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = build_context(settings)
        app.state.context = context
        yield
        context.store.close()
        context.engine.dispose()

    app = FastAPI(
        title="Lantian 蓝天", version="0.1.0", lifespan=lifespan,
        description="Air-quality network monitoring, enterprise emissions (HJ 212), "
                    "exceedances and the case ledger. "
                    "Times are ISO 8601 in the bureau's local offset.",
    )
    for module in (stations, outlets, cities, cases, case_actions, ledger, emergency,
                   emergency_compliance, finding_chart, dead_letters, ingest_metrics, health,
                   me, overview, live, reports):
        app.include_router(module.router)
    app.include_router(ledger.plans_router)
    # the dashboard's scripts and stylesheet (api/static/, no third-party code)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": f"time-series database unavailable: {exc}"}, 503)

    @app.exception_handler(StoreRejected)
    async def _store_rejected(request: Request, exc: StoreRejected) -> JSONResponse:
        return JSONResponse({"detail": f"time-series query failed: {exc}"}, 502)

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
