"""Request and response models of the API (times are ISO 8601 in the bureau's local offset)."""

from __future__ import annotations

from datetime import date as date_type
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from api.input_values import PlainText

# A file named in a case action (the evidence itself is uploaded separately).
AttachmentName = Annotated[PlainText, Field(max_length=255)]


class AqiPublic(BaseModel):
    time: datetime
    aqi: int
    level: int
    category: str
    category_en: str
    colour: str
    primary: list[str]
    edition: str


class LatestReading(BaseModel):
    time: datetime
    values: dict[str, float]
    flags: dict[str, str]


class StationPlace(BaseModel):
    """Who and where a station is (register fields)."""

    id: str
    name: str
    city: str
    district: str
    lat: float
    lon: float


class StationPublic(StationPlace):
    latest: LatestReading | None
    aqi: AqiPublic | None
    daily_aqi: AqiPublic | None = None


# When a list's latest values were read from InfluxDB, local time: they are shared for up to
# api.latest_cache_s seconds. Optional in the schema, set on every response.
FetchedAt = Annotated[datetime | None, Field(
    description="when these latest values were read from the time-series database "
                "(cached for up to api.latest_cache_s seconds)")]


class StationsPublic(BaseModel):
    data: list[StationPublic]
    count: int
    fetched_at: FetchedAt = None


class SeriesPublic(BaseModel):
    source: str
    start: datetime
    end: datetime
    every_s: int | None
    fields: list[str]
    points: list[dict[str, Any]]
    count: int


class CityAqiPublic(BaseModel):
    city: str
    latest: AqiPublic | None
    stations: int | None
    series: SeriesPublic


class FindingPublic(BaseModel):
    id: int
    case_id: int | None
    type: str
    source: str
    pollutant: str
    start: datetime
    end: datetime
    score: float
    evidence: dict[str, Any]
    detected_at: datetime


class FindingsPublic(BaseModel):
    data: list[FindingPublic]
    count: int


class CasePublic(BaseModel):
    id: int
    source: str
    source_kind: str
    problem_type: str
    status: str
    # as stored (English when the analytics opened the case), and in Chinese (api/case_titles.py)
    title: str
    title_zh: str
    # of the case's findings; empty for a case opened by hand before it has any
    pollutants: list[str]
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    finding_count: int
    first_start: datetime
    last_end: datetime
    max_score: float
    origin: str
    category: str
    district: str
    grid: str
    enterprise: str | None
    responsible_unit: str | None
    responsible_person: str | None
    measures: str | None
    deadline: datetime | None
    escalation_level: int
    watch_until: datetime | None
    recurrence_count: int


class CasesPublic(BaseModel):
    data: list[CasePublic]
    count: int


class CaseDetail(CasePublic):
    findings: list[FindingPublic]


class CaseEventPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    note: str
    attachments: list[Any]
    changes: dict[str, Any]


class AttachmentPublic(BaseModel):
    id: int
    case_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class AttachmentsPublic(BaseModel):
    data: list[AttachmentPublic]
    count: int


class CaseEventsPublic(BaseModel):
    data: list[CaseEventPublic]
    count: int


class CaseActionIn(BaseModel):
    """One action on a case; which fields an action needs: assign → responsible_unit and
    responsible_person (deadline optional); submit → measures; reject → note."""

    action: str = Field(max_length=32)
    note: PlainText = Field("", max_length=4000)
    attachments: list[AttachmentName] = Field([], max_length=50)
    responsible_unit: PlainText | None = Field(None, max_length=128)
    responsible_person: PlainText | None = Field(None, max_length=128)
    deadline: AwareDatetime | None = None
    measures: PlainText | None = Field(None, max_length=8000)


class ManualCaseIn(BaseModel):
    """A case an inspector opens from an inspection or a public complaint (信访)."""

    source: PlainText = Field(min_length=1, max_length=128)
    source_kind: PlainText = Field("site", max_length=16)
    problem_type: PlainText = Field(min_length=1, max_length=32)
    title: PlainText = Field(min_length=1, max_length=300)
    origin: str = Field(pattern="^(inspection|complaint)$")
    note: PlainText = Field("", max_length=4000)
    category: PlainText = Field("", max_length=64)
    district: PlainText = Field("", max_length=64)
    grid: PlainText = Field("", max_length=64)
    enterprise: PlainText | None = Field(None, max_length=128)
    attachments: list[AttachmentName] = Field([], max_length=50)
    deadline: AwareDatetime | None = None


class DeadLetterPublic(BaseModel):
    id: int
    received_at: datetime
    topic: str
    reason: str
    payload_text: str
    payload_base64: str
    size: int


class DeadLettersPublic(BaseModel):
    data: list[DeadLetterPublic]
    count: int


class ComponentHealth(BaseModel):
    ok: bool
    detail: str


class HealthPublic(BaseModel):
    status: str
    broker: ComponentHealth
    influxdb: ComponentHealth
    ledger: ComponentHealth


class OutletLatest(BaseModel):
    """The newest real-time or minute record of an outlet: values as measured (mg/m³, O2 %,
    flow m³/s …), flags, and the concentrations at reference O2 — computed by Lantian, and as
    the unit reported them where it did (with whether the two disagree)."""

    time: datetime
    kind: str
    measured: dict[str, float]
    flags: dict[str, str]
    o2: float | None
    converted: dict[str, float]
    reported_converted: dict[str, float]
    conversion_mismatch: dict[str, bool]


class OutletHourPublic(BaseModel):
    """The newest judged hour: hourly means as measured and at reference O2, their basis."""

    time: datetime
    measured: dict[str, float]
    converted: dict[str, float]
    basis: dict[str, str]
    exceeding: list[str]


class OutletStatus(BaseModel):
    code: str  # no_data | offline | exceeding | abnormal | normal
    text: str


class OutletPublic(BaseModel):
    mn: str
    name: str
    enterprise: str
    industry: str
    city: str
    district: str
    lat: float | None
    lon: float | None
    reference_o2: float | None
    limits: dict[str, float]
    emergency_listed: bool
    reduction_pct: dict[str, float]
    status: OutletStatus
    latest: OutletLatest | None
    last_hour: OutletHourPublic | None


class OutletsPublic(BaseModel):
    data: list[OutletPublic]
    count: int
    fetched_at: FetchedAt = None


class EnterprisePublic(BaseModel):
    name: str
    industries: list[str]
    outlets: int
    statuses: dict[str, int]


class EnterprisesPublic(BaseModel):
    data: list[EnterprisePublic]
    count: int
    fetched_at: FetchedAt = None


class TallyPublic(BaseModel):
    found: int
    rectified: int
    in_progress: int
    overdue: int
    recurred: int


class CampaignPublic(BaseModel):
    """Cases opened in [opened_from, opened_to) and where they stand now."""

    opened_from: datetime | None
    opened_to: datetime | None
    target_date: datetime | None
    days_left: float | None
    by: str
    total: TallyPublic
    groups: dict[str, TallyPublic]


class ForecastDay(BaseModel):
    date: date_type
    aqi: float = Field(ge=0, le=500)


class ForecastIn(BaseModel):
    """A daily AQI forecast for the coming days (consecutive local dates)."""

    source: str = Field("official", pattern="^(official|statistical)$")
    issuer: PlainText = Field("", max_length=128)
    days: list[ForecastDay] = Field(min_length=1, max_length=15)


class ForecastAccepted(BaseModel):
    forecast_id: int
    detail: str


class EmergencyEventPublic(BaseModel):
    at: datetime
    action: str
    from_level: str | None
    to_level: str | None
    reason: str
    forecast_id: int | None


class EmergencyPublic(BaseModel):
    city: str
    level: str | None
    alert_id: int | None
    since: datetime | None
    history: list[EmergencyEventPublic]


class ComplianceOutletPublic(BaseModel):
    mn: str
    name: str
    enterprise: str
    status: str  # compliant, not_compliant, no_data, not_required
    required_hours: int
    data_hours: int
    over_hours: int
    stopped_hours: int  # required hours the stack reported itself stopped (HJ 212 flag F)
    required_cut_pct: dict[str, float]
    findings: list[dict[str, Any]]


class ComplianceReportPublic(BaseModel):
    alert_id: int
    city: str
    levels: list[str]
    start: datetime
    end: datetime
    active: bool
    counts: dict[str, int]
    outlets: list[ComplianceOutletPublic]


# -- dashboard (issue 9) ----------------------------------------------------------------------
CaseActionName = Literal["assign", "start", "submit", "verify", "reject", "escalate", "reopen",
                         "comment"]


class MePublic(BaseModel):
    """The signed-in user and the case actions its role may take (the page shows only those)."""

    name: str
    role: Literal["admin", "inspector", "viewer", "enterprise"]
    enterprise: str | None
    case_actions: list[CaseActionName]


class OverviewAqi(BaseModel):
    """The latest hourly AQI of a station or a city (HJ 633, the edition of that hour)."""

    time: datetime | None
    aqi: int | None
    level: int | None
    category: str | None
    category_en: str | None
    colour: str | None
    primary: str | None


class OverviewStation(StationPlace, OverviewAqi):
    """A station on the map: newest reading's time and PM (µg/m³), latest hourly AQI."""

    pm25: float | None
    pm10: float | None


class OverviewOutlet(BaseModel):
    mn: str
    name: str
    enterprise: str
    city: str
    lat: float
    lon: float
    time: datetime | None
    status: Literal["normal", "exceeding", "abnormal", "offline", "no_data"]
    colour: str


class OverviewCity(OverviewAqi):
    city: str


class OverviewEmergency(BaseModel):
    city: str
    level: Literal["none", "blue", "yellow", "orange", "red"]
    since: datetime | None
    reason: str | None


class CaseCounts(BaseModel):
    """Unresolved cases (open to submitted), those past their deadline, those escalated."""

    open: int
    overdue: int
    escalated: int


class OverviewPublic(BaseModel):
    generated_at: datetime
    age_s: float
    stations: list[OverviewStation]
    outlets: list[OverviewOutlet]
    cities: list[OverviewCity]
    emergency: list[OverviewEmergency]
    cases: CaseCounts
