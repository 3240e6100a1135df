"""The case ledger through the API on both backends: an outlet finding becomes a case, the
inspector assigns it, the enterprise submits its rectification, the inspector verifies, the
problem recurs during look-back and the case reopens — all in the audit trail; every role and
enterprise boundary is refused with a clear error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from alerts.accounts import Accounts
from alerts.case_repository import CaseRepository
from alerts.ledger_db import make_engine, make_session_factory
from analytics.findings import Finding
from api.main import create_app
from config.settings import CaseSettings, InfluxSettings, LedgerSettings, Settings

MN = "020000B7700021E000214AA7"  # config/outlets.yaml: 京能热电示范厂
ENTERPRISE = "京能热电示范厂"
HOUR = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def exceedance(hours_later: int) -> Finding:
    start = HOUR + timedelta(hours=hours_later)
    return Finding("exceedance", MN, "so2", start, start, 1.2, {"limit_mgm3": 35})


@pytest.fixture
def api(ledger_url: str, influx_settings: InfluxSettings):  # type: ignore[no-untyped-def]
    settings = Settings(influx=influx_settings, ledger=LedgerSettings(url=ledger_url),
                        cases=CaseSettings(max_attachment_bytes=4096))
    with TestClient(create_app(settings)) as client:
        sessions: sessionmaker = make_session_factory(make_engine(ledger_url))
        accounts = Accounts(sessions)
        now = datetime.now(UTC)
        tokens = {}
        for name, role, enterprise in (("li", "inspector", None), ("zhao", "viewer", None),
                                       ("wang", "enterprise", ENTERPRISE),
                                       ("other", "enterprise", "首钢示范钢铁")):
            accounts.add_user(name, role, now, enterprise)
            tokens[name] = {"Authorization": f"Bearer {accounts.issue_token(name, now)}"}
        yield client, CaseRepository(sessions), tokens


def test_finding_to_closing_to_recurrence_through_the_api(api) -> None:  # type: ignore[no-untyped-def]
    client, repo, tokens = api
    [change] = repo.record_findings([exceedance(0)], datetime.now(UTC), source_kind="outlet",
                                    enterprise_of=lambda f: ENTERPRISE)
    case_url = f"/api/cases/{change.case_id}"

    def act(who: str, **body: object) -> dict:
        response = client.post(f"{case_url}/actions", json=body, headers=tokens[who])
        assert response.status_code == 200, response.json()
        return response.json()

    assigned = act("li", action="assign", responsible_unit=ENTERPRISE,
                   responsible_person="王经理", deadline="2026-12-31T18:00:00+08:00",
                   note="限期整改")
    assert assigned["status"] == "assigned"
    assert assigned["deadline"].startswith("2026-12-31T18:00:00")
    # The enterprise sees only its own cases, and answers them.
    mine = client.get("/api/cases", headers=tokens["wang"]).json()
    assert [c["id"] for c in mine["data"]] == [change.case_id]
    assert client.get("/api/cases", headers=tokens["other"]).json()["count"] == 0
    act("wang", action="start")
    evidence = "整改后 CEMS 小时均值: SO2 21.3 mg/m³\n".encode() * 20
    uploaded = client.post(f"{case_url}/attachments", content=evidence,
                           params={"filename": "整改报告.txt", "note": "整改报告"},
                           headers={**tokens["wang"], "Content-Type": "text/plain"})
    assert uploaded.status_code == 201, uploaded.json()
    attachment = uploaded.json()
    assert attachment["size"] == len(evidence) and attachment["uploaded_by"] == "wang"
    submitted = act("wang", action="submit", measures="更换脱硫喷嘴, 增加石灰石浆液",
                    attachments=["invoice-0421.pdf", "cems-after.png"])
    assert submitted["status"] == "submitted"
    download = client.get(f"{case_url}/attachments/{attachment['id']}", headers=tokens["li"])
    assert download.content == evidence
    assert download.headers["x-content-sha256"] == attachment["sha256"]
    assert client.get(f"{case_url}/attachments/{attachment['id']}",
                      headers=tokens["other"]).status_code == 404
    closed = act("li", action="verify", note="现场核查合格, 同意销号")
    assert closed["status"] == "closed" and closed["watch_until"] is not None

    # The problem comes back during the look-back: the case reopens and counts it.
    repo.record_findings([exceedance(30)], datetime.now(UTC), source_kind="outlet",
                         enterprise_of=lambda f: ENTERPRISE)
    reopened = client.get(case_url, headers=tokens["wang"]).json()
    assert reopened["status"] == "open" and reopened["recurrence_count"] == 1

    trail = client.get(f"{case_url}/events", headers=tokens["wang"]).json()["data"]
    assert [(e["action"], e["actor"], e["to_status"]) for e in trail] == [
        ("open", "system", "open"), ("assign", "li", "assigned"),
        ("start", "wang", "rectifying"), ("upload", "wang", "rectifying"),
        ("submit", "wang", "submitted"), ("verify", "li", "closed"),
        ("reopen", "system", "open")]
    assert trail[3]["attachments"][0]["sha256"] == attachment["sha256"]
    assert trail[4]["attachments"] == ["invoice-0421.pdf", "cems-after.png"]
    assert trail[5]["note"] == "现场核查合格, 同意销号"


def test_every_change_refuses_the_wrong_caller_with_a_reason(api) -> None:  # type: ignore[no-untyped-def]
    client, repo, tokens = api
    [change] = repo.record_findings([exceedance(0)], datetime.now(UTC), source_kind="outlet",
                                    enterprise_of=lambda f: ENTERPRISE)
    url = f"/api/cases/{change.case_id}/actions"
    anonymous = client.post(url, json={"action": "start"})
    assert anonymous.status_code == 401 and "needs an API token" in anonymous.json()["detail"]
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = client.post(url, json={"action": "start"},
                         headers={"Authorization": "Bearer lt_forged"})
    assert forged.status_code == 401 and "not valid" in forged.json()["detail"]
    viewer = client.post(url, json={"action": "comment", "note": "x"}, headers=tokens["zhao"])
    assert viewer.status_code == 403 and "viewer" in viewer.json()["detail"]
    self_verify = client.post(url, json={"action": "verify"}, headers=tokens["wang"])
    assert self_verify.status_code == 403
    assert "may not verify" in self_verify.json()["detail"]
    stranger = client.post(url, json={"action": "start"}, headers=tokens["other"])
    assert stranger.status_code == 404  # another enterprise's case does not exist for them
    assert client.get(f"/api/cases/{change.case_id}", headers=tokens["other"]).status_code == 404
    assert client.get(f"/api/cases/{change.case_id}/events",
                      headers=tokens["other"]).status_code == 404
    assert client.get("/api/cases", params={"enterprise": ENTERPRISE},
                      headers=tokens["other"]).status_code == 403
    findings = client.get("/api/findings", headers=tokens["other"])
    assert findings.status_code == 403 and "source=" in findings.json()["detail"]
    files = f"/api/cases/{change.case_id}/attachments"
    assert client.post(files, params={"filename": "a.txt"}, content=b"x",
                       headers=tokens["zhao"]).status_code == 403
    too_big = client.post(files, params={"filename": "a.bin"}, content=b"x" * 5000,
                          headers=tokens["wang"])
    assert too_big.status_code == 413 and "4096" in too_big.json()["detail"]
    sneaky = client.post(files, params={"filename": "../"}, content=b"x", headers=tokens["li"])
    assert sneaky.status_code == 422 and "plain file name" in sneaky.json()["detail"]
    empty = client.post(files, params={"filename": "a.txt"}, content=b"", headers=tokens["li"])
    assert empty.status_code == 422
    illegal = client.post(url, json={"action": "verify"}, headers=tokens["li"])
    assert illegal.status_code == 409
    assert "cannot verify a case that is open" in illegal.json()["detail"]
    missing = client.post(url, json={"action": "assign"}, headers=tokens["li"])
    assert missing.status_code == 422 and "responsible_unit" in missing.json()["detail"]
    naive = client.post(url, json={"action": "assign", "responsible_unit": "u",
                                   "responsible_person": "p", "deadline": "2026-12-31T18:00"},
                        headers=tokens["li"])
    assert naive.status_code == 422
    # Nothing of the refused calls reached the audit trail.
    assert client.get(f"/api/cases/{change.case_id}/events").status_code == 401
    events = client.get(f"/api/cases/{change.case_id}/events",
                        headers=tokens["zhao"]).json()["data"]
    assert [e["action"] for e in events] == ["open"]


def test_inspectors_open_manual_cases_others_may_not(api) -> None:  # type: ignore[no-untyped-def]
    client, _, tokens = api
    body = {"source": "工地-朝阳-17", "problem_type": "dust", "title": "施工扬尘",
            "origin": "complaint", "district": "Chaoyang", "note": "12345 热线"}
    assert client.post("/api/cases", json=body, headers=tokens["wang"]).status_code == 403
    assert client.post("/api/cases", json=body).status_code == 401
    created = client.post("/api/cases", json=body, headers=tokens["li"])
    assert created.status_code == 201
    case = created.json()
    assert (case["origin"], case["district"], case["status"]) == ("complaint", "Chaoyang",
                                                                  "open")
    again = client.post("/api/cases", json=body, headers=tokens["li"])
    assert again.status_code == 409 and "already has an active dust case" in \
        again.json()["detail"]
    bad_origin = client.post("/api/cases", json={**body, "origin": "finding"},
                             headers=tokens["li"])
    assert bad_origin.status_code == 422


def test_cases_carry_a_chinese_title_from_their_source_and_findings(api) -> None:  # type: ignore[no-untyped-def]
    """The list, the case and an action's answer all give title_zh: the registered enterprise
    and outlet, the findings' pollutants; a case opened by hand keeps its own title."""
    client, repo, tokens = api
    so2, nox = exceedance(0), Finding("exceedance", MN, "nox", HOUR, HOUR, 1.1, {})
    [change] = repo.record_findings([so2, nox], datetime.now(UTC), source_kind="outlet",
                                    enterprise_of=lambda f: ENTERPRISE)
    expected = f"{ENTERPRISE} 1号机组烟囱：氮氧化物、SO₂小时浓度超过排放限值"
    listed = client.get("/api/cases", headers=tokens["li"]).json()["data"]
    [case] = [c for c in listed if c["id"] == change.case_id]
    assert case["title_zh"] == expected and case["pollutants"] == ["nox", "so2"]
    assert case["title"].startswith(MN)  # the ledger's own title stays as it was
    detail = client.get(f"/api/cases/{change.case_id}", headers=tokens["li"]).json()
    assert detail["title_zh"] == expected
    acted = client.post(f"/api/cases/{change.case_id}/actions", headers=tokens["li"],
                        json={"action": "comment", "note": "已电话通知"}).json()
    assert acted["title_zh"] == expected
    body = {"source": "工地-朝阳-17", "problem_type": "dust", "title": "施工扬尘",
            "origin": "complaint"}
    manual = client.post("/api/cases", json=body, headers=tokens["li"])
    assert manual.status_code == 201, manual.json()
    assert manual.json()["title_zh"] == "施工扬尘" and manual.json()["pollutants"] == []
