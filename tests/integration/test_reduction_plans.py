"""The emission-reduction list exports as a spreadsheet, scoped to the caller's enterprise, and
a plan without a baseline to audit against is refused at start-up."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError
from support.api_users import token_for

from config.outlets import EmergencyMembership


def test_plans_export_with_cuts_per_level_and_enterprise_scope(api_client) -> None:  # type: ignore[no-untyped-def]
    client, url = api_client
    assert client.get("/api/reduction-plans/export").status_code == 401
    viewer = {"Authorization": f"Bearer {token_for(url, 'viewer')}"}
    sheet = load_workbook(io.BytesIO(client.get("/api/reduction-plans/export",
                                                headers=viewer).content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    by_mn = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert len(by_mn) == 5  # the coking plant is not on the list
    assert by_mn["040000D2200041A000421CC2"]["红色预警减排"] == "停产"
    assert by_mn["020000B7700021E000214AA7"]["黄色预警减排"] == "10%"
    assert by_mn["020000B7700021E000214AA7"]["二氧化硫基准(mg/m³)"] == 15
    own = {"Authorization": f"Bearer {token_for(url, 'enterprise', '京能热电示范厂')}"}
    text = client.get("/api/reduction-plans/export", params={"format": "csv", "lang": "en"},
                      headers=own).content.decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert {r["Enterprise"] for r in table} == {"京能热电示范厂"} and len(table) == 2
    assert table[0]["red cut"] == "30%"


def test_a_plan_needs_a_baseline_to_be_audited() -> None:
    with pytest.raises(ValidationError, match="needs a baseline"):
        EmergencyMembership(listed=True, reduction_pct={"red": 20})
    assert EmergencyMembership(listed=True, stop_production=["red"]).required_cut("red") == 1.0
    plan = EmergencyMembership(listed=True, reduction_pct={"orange": 30},
                               baseline_mgm3={"so2": 20})
    assert plan.required_cut("orange") == pytest.approx(0.3)
    assert plan.required_cut("yellow") is None
