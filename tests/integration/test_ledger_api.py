"""Ledger exports open as spreadsheets (XLSX read back with openpyxl, CSV with the csv module),
and campaign statistics count found, rectified, in progress, overdue and recurred — scoped to
the caller's enterprise — on both backends."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from support.api_users import sign_in

from alerts.accounts import Accounts
from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseUpdate, CaseWorkflow
from alerts.ledger_db import make_engine, make_session_factory
from analytics.findings import Finding
from api.main import create_app
from config.settings import InfluxSettings, LedgerSettings, Settings

START = datetime(2026, 11, 1, tzinfo=UTC)


def finding(source: str, day: int) -> Finding:
    at = START + timedelta(days=day)
    return Finding("exceedance", source, "so2", at, at, 1.5, {"limit_mgm3": 35})


@pytest.fixture
def client(ledger_url: str, influx_settings: InfluxSettings):  # type: ignore[no-untyped-def]
    settings = Settings(influx=influx_settings, ledger=LedgerSettings(url=ledger_url))
    with TestClient(create_app(settings)) as test_client:
        sign_in(test_client, ledger_url, "viewer")
        sessions = make_session_factory(make_engine(ledger_url))
        repo, flow = CaseRepository(sessions), CaseWorkflow(sessions)
        now = datetime.now(UTC)
        [a] = repo.record_findings([finding("MN-A", 0)], now, source_kind="outlet",
                                   enterprise_of=lambda f: "甲企业")
        [b] = repo.record_findings([finding("MN-B", 0)], now, source_kind="outlet",
                                   enterprise_of=lambda f: "乙企业")
        flow.open_manual(source="工地-1", source_kind="site", problem_type="dust",
                         title="扬尘", origin="complaint", actor="li", now=now,
                         district="Chaoyang")
        # a: rectified, then recurred; b: assigned with a deadline already passed.
        for action in ("assign", "submit", "verify"):
            flow.act(a.case_id, action, actor="li", now=now,
                     update=CaseUpdate(responsible_unit="甲企业", responsible_person="张",
                                       measures="检修"))
        repo.record_findings([finding("MN-A", 5)], now, source_kind="outlet")
        flow.act(a.case_id, "assign", actor="li", now=now,
                 update=CaseUpdate(responsible_unit="甲企业", responsible_person="张"))
        for action in ("submit", "verify"):
            flow.act(a.case_id, action, actor="li", now=now)
        flow.act(b.case_id, "assign", actor="li", now=now,
                 update=CaseUpdate(responsible_unit="乙企业", responsible_person="赵",
                                   deadline=now - timedelta(days=1)))
        accounts = Accounts(sessions)
        accounts.add_user("jia", "enterprise", now, "甲企业")
        yield test_client, {"Authorization": f"Bearer {accounts.issue_token('jia', now)}"}


def test_campaign_counts_by_group_and_scope(client: tuple[TestClient, dict]) -> None:
    client, jia = client
    stats = client.get("/api/ledger/campaign",
                       params={"by": "source_kind",
                               "target_date": "2026-12-31T00:00:00+08:00"}).json()
    assert stats["total"] == {"found": 3, "rectified": 1, "in_progress": 2, "overdue": 1,
                              "recurred": 1}
    assert stats["groups"]["outlet"] == {"found": 2, "rectified": 1, "in_progress": 1,
                                         "overdue": 1, "recurred": 1}
    assert stats["groups"]["site"]["in_progress"] == 1
    assert stats["days_left"] is not None
    by_unit = client.get("/api/ledger/campaign", params={"by": "responsible_unit"}).json()
    assert set(by_unit["groups"]) == {"甲企业", "乙企业", "—"}
    own = client.get("/api/ledger/campaign", headers=jia).json()
    assert own["total"]["found"] == 1 and own["total"]["recurred"] == 1
    assert client.get("/api/ledger/campaign", params={"enterprise": "乙企业"},
                      headers=jia).status_code == 403
    bad = client.get("/api/ledger/campaign", params={"by": "weather"})
    assert bad.status_code == 422


def test_exports_open_as_spreadsheets_with_chinese_or_english_headers(
        client: tuple[TestClient, dict]) -> None:
    client, jia = client
    response = client.get("/api/ledger/export", params={"format": "xlsx", "lang": "zh"})
    assert response.status_code == 200 and "attachment" in response.headers[
        "content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("编号", "问题", "点位/排口") and len(rows) == 4
    by_source = {row[2]: row for row in rows[1:]}
    status = rows[0].index("状态")
    assert by_source["MN-A"][status] == "已销号"
    assert by_source["MN-B"][rows[0].index("是否超期")] == "是"
    assert by_source["工地-1"][rows[0].index("来源")] == "信访投诉"
    # the Chinese titles the dashboard shows; the hand-opened case keeps its own
    # (MN-B is not in the outlet register, so it is named by its MN)
    assert by_source["MN-B"][1] == "MN-B：SO₂小时浓度超过排放限值"
    assert by_source["工地-1"][1] == "扬尘"

    text = client.get("/api/ledger/export", params={"format": "csv", "lang": "en"}).content
    assert text.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
    assert len(table) == 3
    mn_a = next(r for r in table if r["Source"] == "MN-A")
    assert mn_a["Problem"].startswith("MN-A: ")  # English keeps the ledger's own title
    assert (mn_a["Status"], mn_a["Recurrences"], mn_a["Enterprise"]) == ("closed", "1", "甲企业")
    own = client.get("/api/ledger/export", params={"format": "csv"}, headers=jia).content
    assert len(list(csv.reader(io.StringIO(own.decode("utf-8-sig"))))) == 2  # header + own
