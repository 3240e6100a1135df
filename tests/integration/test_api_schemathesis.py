"""schemathesis over every operation of the API's OpenAPI schema, valid and invalid inputs, as an
admin and as an enterprise user, against the real InfluxDB and ledger: zero server errors.

The ledger and InfluxDB are seeded first (an outlet case with a finding and an attachment, a
station finding, an alert, station and outlet data) so that the small ids schemathesis tries
reach the handlers' deeper paths, not only their 404s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import get_client
from sqlalchemy.engine import make_url
from support.api_users import token_for

from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseWorkflow
from alerts.emergency_service import EmergencyService
from alerts.ledger_db import make_engine, make_session_factory
from analytics.findings import Finding
from api.main import create_app
from config.emergency import load_emergency
from config.settings import (
    CaseSettings,
    InfluxSettings,
    LedgerSettings,
    Settings,
    get_settings,
)
from ingest.influx_store import InfluxStore
from ingest.line_protocol import format_point

OWN_MN = "020000B7700021E000214AA7"  # 京能热电示范厂 in config/outlets.yaml
OWN = "京能热电示范厂"
HOUR = datetime(2016, 12, 16, 0, tzinfo=UTC)
# Per backend: (role, enterprise, examples per operation and generation mode). The enterprise
# pass runs once: its scoping does not depend on the backend. Sized to keep the file near 30 s.
PASSES: dict[str, tuple[tuple[str, str | None, int], ...]] = {
    "sqlite": (("admin", None, 6), ("enterprise", OWN, 3)),
    "postgresql": (("admin", None, 6),),
}


@dataclass
class FuzzRun:
    """What one pass did: operations and cases run, and every server error met."""

    operations: int = 0
    cases: int = 0
    status_classes: Counter[int] = field(default_factory=Counter)  # 2 for 2xx, 4 for 4xx …
    errors: list[str] = field(default_factory=list)


def _seed(ledger_url: str, store: InfluxStore) -> None:
    """A little of everything the read endpoints show, at ids 1 and 2."""
    lines = []
    for h in range(6):
        t = int((HOUR + timedelta(hours=h)).timestamp())
        lines.append(format_point("station_reading", {"station": "Dongsi"},
                                  {"pm25": 80.0 + h, "pm25_flag": "N", "co": 1.2}, t))
        lines.append(format_point("hj212_minute", {"mn": OWN_MN},
                                  {"so2": 40.0 + h, "so2_flag": "N", "o2": 9.0, "flow": 50.0},
                                  t))
    store.write_lines(lines)
    sessions = make_session_factory(make_engine(ledger_url))
    repo, flow = CaseRepository(sessions), CaseWorkflow(sessions, CaseSettings())
    now = datetime.now(UTC)
    [outlet] = repo.record_findings(
        [Finding("exceedance", OWN_MN, "so2", HOUR, HOUR + timedelta(hours=2), 1.3,
                 {"limit_mgm3": 35})], now, source_kind="outlet", enterprise_of=lambda f: OWN)
    repo.record_findings([Finding("exceedance", "Dongsi", "pm25", HOUR, HOUR, 1.1, {})], now,
                         source_kind="station")
    flow.add_attachment(outlet.case_id, filename="report.txt", content_type="text/plain",
                        data=b"rectified", actor="li", now=now, note="")
    service = EmergencyService(sessions, load_emergency(get_settings().emergency_file),
                               "Asia/Shanghai")
    service.submit_forecast("beijing", [(now.date() + timedelta(days=i), 480.0)
                                        for i in range(3)],
                            source="official", issuer="test", now=now)
    assert service.evaluate("beijing", now) is not None  # an alert, for its compliance report


def _fuzz(client: TestClient, token: str, max_examples: int) -> FuzzRun:
    """Every operation, positive then negative generation, each call checked for a 5xx."""
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    # Requests go straight into the app; its lifespan is the TestClient's (already running).
    session = get_client(client.app)
    headers = {"Authorization": f"Bearer {token}"}
    run = FuzzRun()

    def check(case: schemathesis.Case) -> None:
        run.cases += 1
        try:
            response = case.call(session=session, base_url="http://testserver",
                                 headers=headers)
        except Exception as exc:  # the app raised: what a server would answer with a 500
            run.errors.append(f"{case.operation.label} raised {exc!r:.300}\n"
                              f"  {case.as_curl_command()}")
            return
        run.status_classes[response.status_code // 100] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception:
            run.errors.append(f"{case.operation.label} {response.status_code}: "
                              f"{response.text[:300]}\n  {case.as_curl_command()}")

    for result in schema.get_all_operations():
        operation = result.ok()
        run.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            test: Callable[[], None] = hypothesis_settings(
                max_examples=max_examples, derandomize=True, deadline=None, database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))(
                given(case=operation.as_strategy(generation_mode=mode))(check))
            try:
                test()
            except Unsatisfiable:
                # No invalid input exists (an operation without parameters or body).
                assert mode is GenerationMode.NEGATIVE, operation.label
    return run


@pytest.fixture
def seeded_api(ledger_url: str, influx_settings: InfluxSettings, influx_store: InfluxStore
               ) -> Iterator[tuple[TestClient, str]]:
    """The API on a seeded ledger (each backend) and InfluxDB database: (client, ledger URL)."""
    settings = Settings(influx=influx_settings, ledger=LedgerSettings(url=ledger_url))
    with TestClient(create_app(settings)) as client:
        _seed(ledger_url, influx_store)
        yield client, ledger_url


def test_no_operation_answers_with_a_server_error(seeded_api: tuple[TestClient, str]) -> None:
    client, ledger_url = seeded_api
    backend = make_url(ledger_url).get_backend_name()
    errors = []
    for role, enterprise, examples in PASSES[backend]:
        run = _fuzz(client, token_for(ledger_url, role, enterprise), examples)
        answered = ", ".join(f"{k}xx {v}" for k, v in sorted(run.status_classes.items()))
        print(f"schemathesis on {backend} as {role}: {run.operations} operations, "
              f"{run.cases} cases ({answered}), {len(run.errors)} server errors")
        assert run.operations >= 29 and run.status_classes[2] > 0
        errors += run.errors
    assert not errors, "\n".join(errors[:40])
