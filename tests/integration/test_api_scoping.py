"""Enterprise users see only their own enterprise: signed in as enterprise A, every route that
names one of enterprise B's records (outlet, series, case, evidence, finding, chart) answers
404, every list and export leaves B's records out, and the network-wide tables (dead letters,
ingest counters) are refused — while an admin, on the same URLs, does see B's records. Every
route of the app is classified here, so a new one fails this test until it is.

Policy, per route (from the handlers): station, city and alert-level data are public air
quality, readable by every signed-in user; outlets, their series and judged hours, cases, their
evidence and audit trail, findings and their charts, the ledger exports, the reduction list and
alert compliance reports are scoped to the caller's enterprise; dead letters (raw packets of
every unit), ingest counters and metrics are the bureau's only.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from support.api_users import token_for

from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseWorkflow
from alerts.emergency_service import EmergencyService
from alerts.ledger_db import make_engine, make_session_factory
from analytics.findings import Finding
from config.emergency import load_emergency
from config.settings import get_settings
from ingest.dead_letters import DeadLetterStore, NewDeadLetter
from ingest.influx_store import InfluxStore
from ingest.line_protocol import format_point

try:  # FastAPI ≥ 0.16x keeps included routers whole in app.routes; this walks into them.
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI: app.routes is already flat
    def iter_route_contexts(routes):  # type: ignore[no-untyped-def,misc]
        return iter(routes)

A, A_MN = "京能热电示范厂", "020000B7700021E000214AA7"  # config/outlets.yaml
B, B_MN = "首钢示范钢铁", "030000C1100031F000318BB1"
B_MARKERS = (B, B_MN, "烧结机机头")  # B's name, its outlet's MN and the outlet's name
HOUR = datetime(2026, 11, 20, 0, tzinfo=UTC)
KINDS = ("rtd", "minute", "hourly", "daily", "judged")

# Routes that hold no enterprise's data, or public air quality every signed-in user reads.
NOT_SCOPED = {"/", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/api/health",
              "/api/stations", "/api/stations/{station_id}", "/api/stations/{station_id}/series",
              "/api/stations/{station_id}/daily", "/api/stations/{station_id}/aqi",
              "/api/cities/{city}/aqi", "/api/cities/{city}/daily", "/api/emergency/{city}",
              "/api/me"}
# Checked in test_dashboard_api.py over real HTTP: an endless event stream (a TestClient
# cannot read one) and a compressed PDF (its scoping is asserted on the decoded page text).
SCOPED_ELSEWHERE = {"/api/live", "/reports/daily/{city}.pdf"}


def _seed(ledger_url: str, store: InfluxStore) -> dict[str, int]:
    """Data of both enterprises and a station; the ids the URLs below need."""
    lines = []
    for h in range(-3, 6):
        t = int((HOUR + timedelta(hours=h)).timestamp())
        lines.append(format_point("station_reading", {"station": "Dongsi"},
                                  {"pm25": 80.0 + h, "pm25_flag": "N"}, t))
        for mn in (A_MN, B_MN):
            raw = {"so2": 40.0 + h, "so2_flag": "N", "o2": 9.0, "flow": 50.0}
            lines += [format_point(f"hj212_{kind}", {"mn": mn}, raw, t) for kind in KINDS[:4]]
            lines.append(format_point("outlet_hour", {"mn": mn}, {
                "so2": 40.0 + h, "so2_zs": 45.0 + h, "so2_limit": 35.0, "process_o2": 9.0,
                "process_flow": 50.0}, t))
    store.write_lines(lines)
    sessions = make_session_factory(make_engine(ledger_url))
    repo, flow = CaseRepository(sessions), CaseWorkflow(sessions)
    now = datetime.now(UTC)
    enterprise_of = {A_MN: A, B_MN: B}
    ids = {}
    for name, source, kind in (("a", A_MN, "outlet"), ("b", B_MN, "outlet"),
                               ("station", "Dongsi", "station")):
        finding = Finding("exceedance", source, "so2" if kind == "outlet" else "pm25", HOUR,
                          HOUR + timedelta(hours=1), 1.3, {"limit_mgm3": 35})
        [change] = repo.record_findings(
            [finding], now, source_kind=kind,
            enterprise_of=(lambda f: enterprise_of.get(f.source)))
        ids[f"{name}_case"] = change.case_id
        [record] = repo.get_case(change.case_id).findings  # type: ignore[union-attr]
        ids[f"{name}_finding"] = record.id
        ids[f"{name}_attachment"] = flow.add_attachment(
            change.case_id, filename=f"{name}.txt", content_type="text/plain",
            data=f"{name} evidence".encode(), actor="li", now=now).id
    DeadLetterStore(sessions).add_many([NewDeadLetter(
        now, f"lantian/v1/outlet/{B_MN}/hj212", "CRC mismatch", b"##0101QN=...")])
    service = EmergencyService(sessions, load_emergency(get_settings().emergency_file),
                               "Asia/Shanghai")
    service.submit_forecast("beijing", [(now.date() + timedelta(days=i), 480.0)
                                        for i in range(3)],
                            source="official", issuer="test", now=now)
    event = service.evaluate("beijing", now)
    assert event is not None
    ids["alert"] = service.state("beijing").alert.id  # type: ignore[union-attr]
    return ids


@pytest.fixture
def scoped(api_client, influx_store: InfluxStore  # type: ignore[no-untyped-def]
           ) -> Iterator[tuple[TestClient, dict[str, int], dict[str, str], dict[str, str]]]:
    client, ledger_url = api_client
    ids = _seed(ledger_url, influx_store)
    admin = {"Authorization": f"Bearer {token_for(ledger_url, 'admin')}"}
    own = {"Authorization": f"Bearer {token_for(ledger_url, 'enterprise', A)}"}
    yield client, ids, admin, own


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """A response's content as text, spreadsheets' cells included."""
    if response.content.startswith(b"PK"):
        book = load_workbook(io.BytesIO(response.content))
        return "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    return response.content.decode("utf-8", errors="replace")


def _refused(ids: dict[str, int]) -> dict[str, list[str]]:
    """Route → URLs naming B's records (or every enterprise's): 403 or 404 for A."""
    b_case = f"/api/cases/{ids['b_case']}"
    return {
        "/api/outlets/{mn}": [f"/api/outlets/{B_MN}"],
        "/api/outlets/{mn}/series": [f"/api/outlets/{B_MN}/series?kind={k}" for k in KINDS],
        "/api/enterprises/{name}/outlets": [f"/api/enterprises/{quote(B)}/outlets"],
        "/api/cases": [f"/api/cases?enterprise={quote(B)}"],
        "/api/cases/{case_id}": [b_case, f"/api/cases/{ids['station_case']}"],
        "/api/cases/{case_id}/events": [f"{b_case}/events"],
        "/api/cases/{case_id}/attachments": [f"{b_case}/attachments"],
        "/api/cases/{case_id}/attachments/{attachment_id}": [
            f"{b_case}/attachments/{ids['b_attachment']}"],
        "/api/findings": [f"/api/findings?source={B_MN}", "/api/findings",
                          "/api/findings?source=Dongsi"],
        "/api/findings/{finding_id}/chart.png": [
            f"/api/findings/{ids['b_finding']}/chart.png",
            f"/api/findings/{ids['station_finding']}/chart.png"],
        "/api/ledger/export": [f"/api/ledger/export?format=csv&enterprise={quote(B)}"],
        "/api/ledger/campaign": [f"/api/ledger/campaign?enterprise={quote(B)}"],
        "/api/dead-letters": ["/api/dead-letters"],
        "/api/ingest": ["/api/ingest"],
        "/metrics": ["/metrics"],
    }


def _lists(ids: dict[str, int]) -> dict[str, list[str]]:
    """Route → URLs that answer A with A's records only (an admin sees B's on them too)."""
    compliance = f"/api/emergency/alerts/{ids['alert']}/compliance"
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the cases were opened now
    return {
        "/api/overview": ["/api/overview"],
        "/reports/daily/{city}": [f"/reports/daily/beijing?date={today}",
                                  f"/reports/daily/beijing?date={today}&lang=en"],
        "/api/outlets": ["/api/outlets", f"/api/outlets?enterprise={quote(B)}"],
        "/api/enterprises": ["/api/enterprises"],
        "/api/cases": ["/api/cases", f"/api/cases?source={B_MN}"],
        "/api/ledger/export": ["/api/ledger/export?format=csv&lang=en",
                               "/api/ledger/export?format=xlsx"],
        "/api/ledger/campaign": ["/api/ledger/campaign?by=enterprise"],
        "/api/reduction-plans/export": ["/api/reduction-plans/export?format=csv",
                                        "/api/reduction-plans/export?format=xlsx"],
        "/api/emergency/alerts/{alert_id}/compliance": [
            compliance, f"{compliance}?format=csv", f"{compliance}?format=xlsx&lang=en"],
    }


def test_every_route_is_classified(scoped) -> None:  # type: ignore[no-untyped-def]
    client, ids, _, _ = scoped
    gets = {route.path for route in iter_route_contexts(client.app.routes)
            if "GET" in (route.methods or ())}
    classified = NOT_SCOPED | SCOPED_ELSEWHERE | set(_refused(ids)) | set(_lists(ids))
    assert gets <= classified, f"classify these routes here: {sorted(gets - classified)}"
    writes = {(method, route.path) for route in iter_route_contexts(client.app.routes)
              for method in route.methods or () if method not in ("GET", "HEAD")}
    assert writes == {("POST", "/api/cases"), ("POST", "/api/cases/{case_id}/actions"),
                      ("POST", "/api/cases/{case_id}/attachments"),
                      ("POST", "/api/emergency/{city}/forecasts")}, \
        "a new write route: add its enterprise check to test_writes_to_another_enterprise…"


def test_another_enterprises_records_are_not_found(scoped) -> None:  # type: ignore[no-untyped-def]
    client, ids, admin, own = scoped
    checked = 0
    for path, urls in _refused(ids).items():
        for url in urls:
            seen = client.get(url, headers=admin)
            assert seen.status_code == 200, (url, seen.status_code)  # it exists
            refused = client.get(url, headers=own)
            assert refused.status_code in (403, 404), (path, url, refused.status_code)
            assert not any(m in refused.text for m in ("烧结机机头", "b evidence")), url
            checked += 1
    # B's evidence through A's own case: not there for anyone.
    through_own = f"/api/cases/{ids['a_case']}/attachments/{ids['b_attachment']}"
    assert client.get(through_own, headers=own).status_code == 404
    # A's own records answer, so the refusals above are the scoping, not missing data.
    for url in (f"/api/outlets/{A_MN}", f"/api/outlets/{A_MN}/series?kind=minute",
                f"/api/cases/{ids['a_case']}/attachments/{ids['a_attachment']}",
                f"/api/findings?source={A_MN}", f"/api/findings/{ids['a_finding']}/chart.png"):
        assert client.get(url, headers=own).status_code == 200, url
    print(f"enterprise A refused on {checked} URLs naming enterprise B's or others' records")


def test_lists_and_exports_leave_other_enterprises_out(scoped) -> None:  # type: ignore[no-untyped-def]
    client, ids, admin, own = scoped
    checked = 0
    for path, urls in _lists(ids).items():
        for url in urls:
            everyone = client.get(url, headers=admin)
            assert everyone.status_code == 200 and any(
                m in _text(everyone) for m in B_MARKERS), (url, "admin should see B")
            mine = client.get(url, headers=own)
            assert mine.status_code == 200, (path, url, mine.status_code)
            leaked = [m for m in B_MARKERS if m in _text(mine)]
            assert not leaked, (url, leaked)
            checked += 1
    assert client.get("/api/cases", headers=own).json()["count"] == 1
    compliance = client.get(f"/api/emergency/alerts/{ids['alert']}/compliance",
                            headers=own).json()
    assert {o["enterprise"] for o in compliance["outlets"]} == {A}
    assert sum(compliance["counts"].values()) == len(compliance["outlets"]) == 2
    print(f"{checked} lists and exports carry only enterprise A's records")


def test_writes_to_another_enterprises_cases_are_not_found(scoped) -> None:  # type: ignore[no-untyped-def]
    client, ids, _, own = scoped
    for case in ("b_case", "station_case"):
        url = f"/api/cases/{ids[case]}"
        comment = client.post(f"{url}/actions", json={"action": "comment", "note": "x"},
                              headers=own)
        assert comment.status_code == 404, comment.json()
        upload = client.post(f"{url}/attachments", params={"filename": "x.txt"},
                             content=b"x", headers=own)
        assert upload.status_code == 404, upload.json()
    opened = client.post("/api/cases", headers=own, json={
        "source": B_MN, "problem_type": "dust", "title": "t", "origin": "complaint"})
    assert opened.status_code == 403
    forecast = client.post("/api/emergency/beijing/forecasts", headers=own,
                           json={"days": [{"date": "2030-01-01", "aqi": 100}]})
    assert forecast.status_code == 403
    mine = client.post(f"/api/cases/{ids['a_case']}/actions",
                       json={"action": "comment", "note": "已整改"}, headers=own)
    assert mine.status_code == 200, mine.json()


def test_public_air_quality_is_read_by_every_signed_in_user(scoped) -> None:  # type: ignore[no-untyped-def]
    client, _, _, own = scoped
    for url in ("/api/stations", "/api/stations/Dongsi", "/api/stations/Dongsi/series",
                "/api/stations/Dongsi/daily", "/api/stations/Dongsi/aqi",
                "/api/cities/beijing/aqi", "/api/cities/beijing/daily", "/api/emergency/beijing"):
        assert client.get(url, headers=own).status_code == 200, url
        assert client.get(url).status_code == 401, url
