"""The dashboard's backend (issue 9) over real HTTP: uvicorn on a free port, the real InfluxDB
fixture, a SQLite ledger. /api/me per role; /api/overview with enterprise scoping and the
latest cache; /api/live as a server-sent event stream that sends the overview at once, again
after new data is written, keepalives, and stops when the client goes or the token is revoked;
the daily bulletin as HTML and PDF with its errors."""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from reportlab.lib.rl_accel import escapePDF
from support.api_users import token_for

from alerts.accounts import Accounts
from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseUpdate, CaseWorkflow
from alerts.emergency_service import EmergencyService
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from analytics.findings import Finding
from api.main import create_app
from api.schemas import OverviewPublic
from config.emergency import load_emergency
from config.settings import ApiSettings, InfluxSettings, LedgerSettings, Settings, get_settings
from ingest.influx_store import InfluxStore
from ingest.line_protocol import format_point

TZ = ZoneInfo("Asia/Shanghai")
A, A_MN = "京能热电示范厂", "020000B7700021E000214AA7"  # config/outlets.yaml
B, B_MN = "首钢示范钢铁", "030000C1100031F000318BB1"
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = (NOW.astimezone(TZ) - timedelta(days=3)).date()  # a closed local day in the past
STATION_KEYS = {"id", "name", "city", "district", "lat", "lon", "time", "aqi", "level",
                "category", "category_en", "colour", "primary", "pm25", "pm10"}
OUTLET_KEYS = {"mn", "name", "enterprise", "city", "lat", "lon", "time", "status", "colour"}


def local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ).astimezone(UTC)


def seed_influx(store: InfluxStore) -> None:
    """Latest values now (readings, hourly AQI, outlets) and the daily AQI of DAY."""
    now_s, hour_s = int(NOW.timestamp()), int(NOW.timestamp()) // 3600 * 3600
    day_s = int(local(DAY, 0).timestamp())
    store.write_lines([
        format_point("station_reading", {"station": "Gucheng"},
                     {"pm25": 95.0, "pm25_flag": "N", "pm10": 130.0, "pm10_flag": "N"},
                     now_s - 120),
        format_point("station_aqi", {"station": "Gucheng"},
                     {"aqi": 187.0, "level": 4.0, "primary": "pm25", "edition": 2026.0},
                     hour_s),
        format_point("city_aqi", {"city": "beijing"},
                     {"aqi": 163.0, "level": 4.0, "primary": "pm25,pm10", "edition": 2026.0,
                      "stations": 12.0}, hour_s),
        format_point("outlet_hour", {"mn": A_MN},
                     {"so2": 40.0, "so2_zs": 45.0, "so2_basis": "hourly"}, now_s - 1200),
        format_point("hj212_minute", {"mn": B_MN},
                     {"so2": 20.0, "so2_flag": "N", "o2": 16.0}, now_s - 60),
        format_point("station_daily", {"station": "Gucheng"},
                     {"aqi": 187.0, "level": 4.0, "primary": "pm25", "edition": 2026.0,
                      "pm25_mean": 141.2, "pm10_mean": 170.0}, day_s),
        format_point("station_daily", {"station": "Dingling"},
                     {"aqi": 58.0, "level": 2.0, "primary": "pm10", "edition": 2026.0,
                      "pm25_mean": 31.0, "pm10_mean": 66.0}, day_s),
        format_point("city_daily", {"city": "beijing"},
                     {"aqi": 163.0, "level": 4.0, "primary": "pm25", "edition": 2026.0,
                      "pm25_mean": 123.4, "pm10_mean": 150.0}, day_s),
    ])


def seed_ledger(ledger_url: str) -> dict[str, int]:
    """Cases: Gucheng's and A's and B's exceedances opened on DAY (A's escalated), an overdue
    manual case of B, a manual case at Dingling closed on DAY; a red-ish alert from DAY noon."""
    engine = make_engine(ledger_url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    repo, flow = CaseRepository(sessions), CaseWorkflow(sessions)
    ids = {}
    for name, source, pollutant, hour, evidence in (
            ("station", "Gucheng", "pm25", 0, {"daily_mean_ugm3": 141.2, "limit_ugm3": 60.0}),
            ("a", A_MN, "so2", 8, {"max_converted_mgm3": 45.0, "limit_mgm3": 35.0}),
            ("b", B_MN, "so2", 9, {"max_converted_mgm3": 52.0, "limit_mgm3": 35.0})):
        finding = Finding("exceedance", source, pollutant, local(DAY, hour),
                          local(DAY, hour + 1), 1.3, evidence)
        [change] = repo.record_findings(
            [finding], local(DAY, 10 + len(ids)),
            source_kind="station" if name == "station" else "outlet",
            enterprise_of=lambda f: {A_MN: A, B_MN: B}.get(f.source))
        ids[name] = change.case_id
    flow.act(ids["a"], "escalate", actor="li", now=local(DAY, 13))
    ids["overdue"] = flow.open_manual(
        source=B_MN, source_kind="outlet", problem_type="dust", title="B 料场扬尘",
        origin="inspection", actor="li", now=local(DAY, 0) - timedelta(days=2),
        enterprise=B, deadline=local(DAY, 0) - timedelta(days=1)).id
    closed = flow.open_manual(source="Dingling", source_kind="station", problem_type="dust",
                              title="定陵 工地扬尘", origin="complaint", actor="li",
                              now=local(DAY, 0) - timedelta(days=1))
    flow.act(closed.id, "assign", actor="li", now=local(DAY, 9),
             update=CaseUpdate(responsible_unit="昌平区", responsible_person="王"))
    flow.act(closed.id, "submit", actor="wang", now=local(DAY, 11),
             update=CaseUpdate(measures="覆盖裸土"))
    flow.act(closed.id, "verify", actor="li", now=local(DAY, 15))
    ids["closed"] = closed.id
    service = EmergencyService(sessions, load_emergency(get_settings().emergency_file),
                               "Asia/Shanghai")
    service.submit_forecast("beijing", [(DAY + timedelta(days=i), 480.0) for i in range(3)],
                            source="official", issuer="test", now=local(DAY, 12))
    assert service.evaluate("beijing", local(DAY, 12)) is not None
    engine.dispose()
    return ids


@contextmanager
def serving(app: FastAPI) -> Iterator[tuple[str, uvicorn.Server]]:
    """`app` under uvicorn on a free loopback port (a real streaming HTTP server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 15, "uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", server
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_for(condition, timeout_s: float, message: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.02)


@dataclass
class Dashboard:
    http: httpx.Client
    app: FastAPI
    server: uvicorn.Server
    store: InfluxStore
    ledger_url: str
    ids: dict[str, int]

    def auth(self, role: str = "admin", enterprise: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(self.ledger_url, role, enterprise)}"}


@pytest.fixture
def dashboard(tmp_path: Path, influx_settings: InfluxSettings,
              influx_store: InfluxStore) -> Iterator[Dashboard]:
    ledger_url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    seed_influx(influx_store)
    ids = seed_ledger(ledger_url)
    settings = Settings(influx=influx_settings, ledger=LedgerSettings(url=ledger_url),
                        api=ApiSettings(latest_cache_s=0, live_interval_s=0.2))
    app = create_app(settings)
    with serving(app) as (url, server), httpx.Client(base_url=url, timeout=20) as http:
        yield Dashboard(http, app, server, influx_store, ledger_url, ids)


def test_me_names_the_case_actions_of_each_role(dashboard: Dashboard) -> None:
    http = dashboard.http
    staff = ["assign", "start", "submit", "verify", "reject", "escalate", "reopen", "comment"]
    for role, enterprise, actions in (("admin", None, staff), ("inspector", None, staff),
                                      ("viewer", None, []),
                                      ("enterprise", A, ["comment", "start", "submit"])):
        me = http.get("/api/me", headers=dashboard.auth(role, enterprise))
        assert me.status_code == 200, me.text
        body = me.json()
        assert body["role"] == role and body["enterprise"] == enterprise
        assert body["name"].startswith(role) and body["case_actions"] == actions
    assert http.get("/api/me").status_code == 401


def test_overview_is_one_snapshot_scoped_to_the_caller(dashboard: Dashboard) -> None:
    http = dashboard.http
    seen = http.get("/api/overview", headers=dashboard.auth())
    assert seen.status_code == 200, seen.text
    overview = seen.json()
    assert set(overview) == {"generated_at", "age_s", "stations", "outlets", "cities",
                             "emergency", "cases"}
    OverviewPublic.model_validate(overview)  # the documented schema is the body's
    assert datetime.fromisoformat(overview["generated_at"]).utcoffset() == timedelta(hours=8)
    stations = {s["id"]: s for s in overview["stations"]}
    assert len(stations) == 12 and all(set(s) == STATION_KEYS for s in stations.values())
    gucheng = stations["Gucheng"]
    assert {k: gucheng[k] for k in ("name", "aqi", "level", "category", "category_en",
                                    "colour", "primary", "pm25", "pm10")} == {
        "name": "古城", "aqi": 187, "level": 4, "category": "中度污染",
        "category_en": "Moderately polluted", "colour": "#FF0000", "primary": "pm25",
        "pm25": 95.0, "pm10": 130.0}
    assert datetime.fromisoformat(gucheng["time"]) == NOW - timedelta(seconds=120)
    assert stations["Dingling"]["aqi"] is None and stations["Dingling"]["time"] is None
    outlets = {o["mn"]: o for o in overview["outlets"]}
    assert all(set(o) == OUTLET_KEYS for o in outlets.values()) and len(outlets) == 6
    assert (outlets[A_MN]["status"], outlets[A_MN]["colour"]) == ("exceeding", "#d32f2f")
    assert outlets[B_MN]["status"] == "normal"
    assert outlets["040000D2200041A000421CC2"]["status"] == "no_data"
    [city] = overview["cities"]
    assert (city["city"], city["aqi"], city["category"], city["primary"]) == (
        "beijing", 163, "中度污染", "pm25,pm10")
    level = http.get("/api/emergency/beijing", headers=dashboard.auth()).json()
    [emergency] = overview["emergency"]
    assert emergency["level"] == level["level"] and emergency["level"] in ("orange", "red")
    assert datetime.fromisoformat(emergency["since"]) == local(DAY, 12)
    assert emergency["reason"]
    assert overview["cases"] == {"open": 4, "overdue": 1, "escalated": 1}

    mine = http.get("/api/overview", headers=dashboard.auth("enterprise", A)).json()
    assert {o["enterprise"] for o in mine["outlets"]} == {A} and len(mine["outlets"]) == 2
    assert len(mine["stations"]) == 12  # public air quality
    assert mine["cases"] == {"open": 1, "overdue": 0, "escalated": 1}
    assert B not in str(mine) and B_MN not in str(mine)
    assert http.get("/api/overview").status_code == 401


def test_many_screens_cost_one_read_per_cache_period(tmp_path: Path,
                                                     influx_settings: InfluxSettings,
                                                     influx_store: InfluxStore) -> None:
    seed_influx(influx_store)
    ledger_url = f"sqlite:///{tmp_path / 'cached.db'}"
    headers = {"Authorization": f"Bearer {token_for(ledger_url)}"}
    settings = Settings(influx=influx_settings, ledger=LedgerSettings(url=ledger_url),
                        api=ApiSettings(latest_cache_s=600))
    with TestClient(create_app(settings)) as client:
        bodies = [client.get("/api/overview", headers=headers) for _ in range(5)]
        refreshes = client.app.state.context.latest.refreshes
    assert all(b.status_code == 200 for b in bodies)
    assert {k: refreshes[k] for k in ("stations", "outlets", "city_aqi", "emergency")} == {
        "stations": 1, "outlets": 1, "city_aqi": 1, "emergency": 1}
    assert bodies[0].json()["stations"] == bodies[-1].json()["stations"]


def read_event(lines: Iterator[str]) -> tuple[str, str]:
    """The next event (name, data) or comment (":", text) of a server-sent event stream."""
    name, data = "", []
    for line in lines:
        if line == "":
            if name or data:
                return name, "\n".join(data)
            continue
        if line.startswith(":"):
            return ":", line[1:].strip()
        field, _, value = line.partition(":")
        if field == "event":
            name = value.strip()
        elif field == "data":
            data.append(value.removeprefix(" "))
    raise AssertionError("the stream ended")


def test_live_sends_the_overview_then_each_change(dashboard: Dashboard) -> None:
    import json

    headers = dashboard.auth()
    with dashboard.http.stream("GET", "/api/live", headers=headers, timeout=10) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        lines = stream.iter_lines()
        name, data = read_event(lines)
        first = json.loads(data)
        assert name == "overview" and first["cases"] == {"open": 4, "overdue": 1,
                                                         "escalated": 1}
        assert {s["id"]: s["pm25"] for s in first["stations"]}["Gucheng"] == 95.0
        dashboard.store.write_lines([format_point(
            "station_reading", {"station": "Gucheng"}, {"pm25": 222.0, "pm25_flag": "N"},
            int(NOW.timestamp()) - 30)])
        name, data = read_event(lines)  # no repeat of an unchanged overview came before it
        changed = json.loads(data)
        assert name == "overview"
        assert {s["id"]: s["pm25"] for s in changed["stations"]}["Gucheng"] == 222.0
    own = dashboard.auth("enterprise", A)
    with dashboard.http.stream("GET", "/api/live", headers=own, timeout=10) as stream:
        name, data = read_event(stream.iter_lines())
        mine = json.loads(data)
        assert {o["enterprise"] for o in mine["outlets"]} == {A} and B_MN not in data
        assert mine["cases"] == {"open": 1, "overdue": 0, "escalated": 1}
    # the clients went away: the streams' tasks end instead of looking forever
    wait_for(lambda: not dashboard.server.server_state.tasks, 5,
             "the live stream kept running after the client disconnected")
    assert dashboard.http.get("/api/live").status_code == 401


def test_live_keeps_quiet_connections_alive_and_ends_on_revocation(
        dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.routes import live

    monkeypatch.setattr(live, "KEEPALIVE_S", 0.5)
    sessions = make_session_factory(make_engine(dashboard.ledger_url))
    accounts = Accounts(sessions)
    accounts.add_user("duty", "viewer", NOW)
    token = accounts.issue_token("duty", NOW)
    with dashboard.http.stream("GET", "/api/live", timeout=10,
                               headers={"Authorization": f"Bearer {token}"}) as stream:
        lines = stream.iter_lines()
        assert read_event(lines)[0] == "overview"
        assert read_event(lines) == (":", "keepalive")
        accounts.revoke_tokens("duty", NOW)
        name, data = read_event(lines)
        assert name == "error" and "no longer valid" in data
        assert list(lines) == []  # the server closed the stream


def pdf_text(pdf: bytes) -> bytes:
    """The page streams of a PDF, decoded: reportlab writes them Flate-compressed and then
    ASCII85-encoded (/Filter [/ASCII85Decode /FlateDecode])."""
    streams = re.findall(rb"\nstream\r?\n(.*?)~>\s*endstream", pdf, re.S)
    return b"\n".join(zlib.decompress(base64.a85decode(raw)) for raw in streams)


def shown(text: str) -> bytes:
    """`text` as the CID font STSong-Light writes it in a page stream."""
    return escapePDF(text.encode("utf-16-be")).encode("latin-1")


def test_daily_bulletin_html_and_pdf(dashboard: Dashboard) -> None:
    http, ids = dashboard.http, dashboard.ids
    level = http.get("/api/emergency/beijing", headers=dashboard.auth()).json()["level"]
    page = http.get(f"/reports/daily/beijing?date={DAY}&lang=zh", headers=dashboard.auth())
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for text in (f"beijing 环境空气质量日报 {DAY}", "古城 (Gucheng)", "187", "141", "170",
                 "定陵 (Dingling)", "58", "163", "123", "141.2 µg/m³", "52.0 mg/m³",
                 "古城：PM2.5日均浓度超过 GB 3095 二级标准", f"{B} ",
                 "SO₂小时浓度超过排放限值", "定陵 工地扬尘", f'data-level="{level}"'):
        assert text in html, text
    opened = html.split("当日新建案件")[1].split("当日销号案件")[0]
    assert all(f"<td>{ids[k]}</td>" in opened for k in ("station", "a", "b"))
    assert "B 料场扬尘" not in html  # opened two days before
    closed = html.split("当日销号案件")[1]
    assert f"<td>{ids['closed']}</td>" in closed and "定陵 工地扬尘" in closed

    english = http.get(f"/reports/daily/beijing?date={DAY}&lang=en", headers=dashboard.auth())
    assert "Daily air quality bulletin" in english.text and "Moderately polluted" in english.text
    # the English page keeps the ledger's own titles
    assert "Gucheng: daily mean above the GB 3095 Grade II limit" in english.text

    pdf = http.get(f"/reports/daily/beijing.pdf?date={DAY}&lang=zh", headers=dashboard.auth())
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    text = pdf_text(pdf.content)
    for name in ("古城", "定陵", "187", "中度污染"):
        assert shown(name) in text, name

    mine = http.get(f"/reports/daily/beijing?date={DAY}", headers=dashboard.auth("enterprise", A))
    assert mine.status_code == 200
    assert f"{A} 1号机组烟囱：SO₂小时浓度超过排放限值" in mine.text
    assert "古城 (Gucheng)" in mine.text
    assert B_MN not in mine.text and "古城：PM2.5日均" not in mine.text
    mine_pdf = pdf_text(http.get(f"/reports/daily/beijing.pdf?date={DAY}",
                                 headers=dashboard.auth("enterprise", A)).content)
    assert shown(A_MN) in mine_pdf and shown(B_MN) not in mine_pdf


def test_bulletin_errors_say_what_was_wrong(dashboard: Dashboard) -> None:
    http, headers = dashboard.http, dashboard.auth()
    for path in ("/reports/daily/atlantis", "/reports/daily/atlantis.pdf"):
        missing = http.get(path, headers=headers)
        assert missing.status_code == 404 and "atlantis" in missing.json()["detail"]
    bad = http.get("/reports/daily/beijing?date=2026-13-45", headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "date"]
    early = http.get("/reports/daily/beijing?date=0001-01-01", headers=headers)
    assert early.status_code == 422 and "1970-01-02" in early.json()["detail"][0]["msg"]
    future = (NOW.astimezone(TZ) + timedelta(days=2)).date()
    ahead = http.get(f"/reports/daily/beijing.pdf?date={future}", headers=headers)
    assert ahead.status_code == 422 and "in the future" in ahead.json()["detail"]
    lang = http.get("/reports/daily/beijing?lang=fr", headers=headers)
    assert lang.status_code == 422 and lang.json()["detail"][0]["loc"] == ["query", "lang"]
    assert http.get("/reports/daily/beijing").status_code == 401
    assert http.get("/reports/daily/beijing.pdf").status_code == 401
    # no date: yesterday's bulletin
    yesterday = (NOW.astimezone(TZ) - timedelta(days=1)).date()
    assert str(yesterday) in http.get("/reports/daily/beijing", headers=headers).text


def test_ledger_export_the_reports_page_links_to(dashboard: Dashboard) -> None:
    export = dashboard.http.get("/api/ledger/export?format=xlsx&lang=zh",
                                headers=dashboard.auth())
    assert export.status_code == 200 and export.content.startswith(b"PK")
