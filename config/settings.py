"""Runtime settings: environment variables (prefix ``LANTIAN_``) over a YAML file over defaults.

Read once through :func:`get_settings`; nothing else in the project reads ``os.environ``.
Nested groups use ``__`` in variable names, e.g. ``LANTIAN_INFLUX__URL=http://host:8086``.
The YAML file is ``config/lantian.yaml`` unless ``LANTIAN_CONFIG_FILE`` names another one.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from analytics.falsification.suite import DetectorSettings

CONFIG_DIR = Path(__file__).resolve().parent
CONFIG_FILE_ENV = "LANTIAN_CONFIG_FILE"


class MqttSettings(BaseModel):
    """Where the broker is and how Lantian talks to it."""

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    keepalive_s: int = Field(30, ge=5)
    topic_root: str = "lantian/v1"


class InfluxSettings(BaseModel):
    """InfluxDB reached through its 1.x HTTP API (/write, /query, /ping).

    For InfluxDB 2.x/3.x set ``token`` (sent as ``Authorization: Token …``) and
    ``create_database: false``; for 2.x map the database to a bucket (DBRP) first.
    """

    url: str = "http://127.0.0.1:8086"
    database: str = "lantian"
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    create_database: bool = True
    batch_size: int = Field(5000, ge=1, le=100_000)
    # measured (bench/ingest_latency.py): 0.1 s keeps p99 publish → queryable under 1 s at
    # 10,000 readings/s with no measurable CPU cost; batch_size still bounds large loads
    flush_interval_s: float = Field(0.1, gt=0)
    timeout_s: float = Field(10.0, gt=0)
    gzip: bool = True
    # Write requests in flight at once (one writer thread each); acknowledgements still go to
    # the broker in the order the batches were taken.
    writers: int = Field(2, ge=1, le=8)

    @field_validator("username", "password", "token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # docker-compose blanks a variable with `KEY: ""`; an empty token would otherwise be
        # sent as `Authorization: Token ` (deploy/docker-compose.influxdb1.yml)
        return None if value == "" else value


class LedgerSettings(BaseModel):
    """The case ledger (SQLAlchemy URL): a SQLite file by default, PostgreSQL in production."""

    url: str = "sqlite:///var/ledger.db"


class CollectorSettings(BaseModel):
    """Validation and batching of incoming station readings."""

    client_id: str = "lantian-collector"
    future_tolerance_s: float = Field(300.0, ge=0)
    require_registration: bool = False
    max_buffered_readings: int = Field(200_000, ge=1000)
    # Larger JSON payloads are dead letters without being parsed; keep it at or below the
    # broker's max_packet_size (config/mosquitto.conf, 4 MiB).
    max_payload_bytes: int = Field(4 << 20, ge=1 << 16)
    # Dead letters keep their raw payload: bound what waits in memory (hostile megabyte input).
    max_buffered_letter_bytes: int = Field(64 << 20, ge=1 << 20)
    # Acknowledge to the broker in groups of at most this many messages; also a flush trigger,
    # so the broker's in-flight window (max_inflight_messages) never waits on a timer.
    ack_batch_messages: int = Field(500, ge=1, le=100_000)
    retry_max_s: float = Field(30.0, gt=0)
    # The on-disk spool for readings taken while InfluxDB is down (one subdirectory per
    # client_id); None disables it (then nothing is acknowledged until InfluxDB has it).
    spool_dir: Path | None = None
    spool_max_bytes: int = Field(1 << 30, ge=1 << 20)
    # How often the collector records its counters in the ledger (for the API and /metrics).
    status_interval_s: float = Field(5.0, gt=0)
    # Scale-out: collectors with the same group share the subscriptions (MQTT 5 / Mosquitto
    # `$share/<group>/…`): each message goes to one of them. None: a single collector.
    shared_group: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+$")

    def instance_id(self) -> str:
        """`client_id` with `{hostname}` filled in, so replicas started from one configuration
        (docker-compose --scale) each keep their own persistent session, spool and counters."""
        return self.client_id.replace("{hostname}", socket.gethostname())
    # Plausible ranges in the canonical unit (µg/m³, CO mg/m³); outside → dead letter.
    plausible_ranges: dict[str, tuple[float, float]] = {
        "pm25": (0.0, 2000.0),
        "pm10": (0.0, 5000.0),
        "so2": (0.0, 5000.0),
        "no2": (0.0, 3000.0),
        "o3": (0.0, 2000.0),
        "co": (0.0, 150.0),
    }


class AnalyticsSettings(BaseModel):
    """The analytics loop: how often it runs and how far back it looks (in data time)."""

    interval_s: float = Field(5.0, gt=0)
    lookback_days: int = Field(2, ge=1, le=31)
    max_window_days: int = Field(14, ge=2, le=92)
    min_hours_per_day: int = Field(20, ge=1, le=24)
    # GB 3095 Table 4: an hourly mean needs at least 45 minutes of data in the hour.
    min_minutes_per_hour: int = Field(45, ge=1, le=60)
    # HJ 212 flags whose values count in AQI and daily means: N normal, S manual entry, T over
    # the analyser's range (a real high value). F stopped, M maintenance, D fault,
    # C calibration and B communication fault are invalid for statistics.
    valid_flags: str = Field("NST", pattern=r"^[NFMSDCTB]+$")
    # Hourly means stay in memory between cycles (alerts/hourly_cache.py): each cycle reads
    # again only the last `reread_hours` and newer, and the whole window every `full_reread_s`
    # (so data arriving later than `reread_hours` is taken in within that time; 0: always).
    reread_hours: int = Field(3, ge=1, le=48)
    full_reread_s: float = Field(600.0, ge=0)
    # Scale-out: `shards` analytics workers each own the cities and outlets whose key hashes to
    # their `shard` (0 … shards-1); worker 0 also runs the network-wide jobs.
    shards: int = Field(1, ge=1, le=256)
    shard: int = Field(0, ge=0)
    # Liveness for container health checks (`lantian heartbeat --service analytics`): after
    # every cycle the loop writes when it last finished one without error; older than
    # `heartbeat_max_age_s` means stuck or failing. None: no file.
    heartbeat_file: Path | None = None
    heartbeat_max_age_s: float = Field(180.0, gt=0)

    @model_validator(mode="after")
    def _shard_in_range(self) -> AnalyticsSettings:
        if self.shard >= self.shards:
            raise ValueError(f"analytics.shard must be below analytics.shards ({self.shards}), "
                             f"not {self.shard}")
        return self


class EmergencySettings(BaseModel):
    """Heavy-pollution alerts: the statistical fallback forecast, the clock levels are decided
    on, and the audit of enterprises' emission cuts while an alert is active."""

    # wall: decide levels at the current time (live). data: at the time of the newest city
    # data, hour by hour (replays of history, e.g. `lantian replay-emergency`).
    time_basis: Literal["wall", "data"] = "wall"
    # An official forecast is used while younger than this; otherwise the statistical one.
    official_valid_h: float = Field(36.0, gt=0)
    # No downgrade or lift sooner than this after the last level change (no flapping).
    min_hold_h: float = Field(12.0, ge=0)
    statistical_forecast: bool = True
    horizon_days: int = Field(3, ge=1, le=10)
    fit_days: int = Field(60, ge=7, le=730)
    min_fit_pairs: int = Field(14, ge=2)
    # On start-up, statistical forecasts are made for at most this much recent data.
    catchup_days: float = Field(2.0, gt=0)
    # Compliance audit: relative slack on baseline × (1 − cut), shortest shortfall worth a
    # finding, and the step_drop test (a drop of ≥ min_drop against the reference hours
    # before the alert while flow and temperature stay within their tolerance, O2 within pp).
    audit_tolerance: float = Field(0.05, ge=0, le=1)
    # Hours an enterprise has after an alert is issued or raised before the cut is audited.
    audit_grace_h: float = Field(0.0, ge=0, le=48)
    audit_min_run_hours: int = Field(2, ge=1)
    step_reference_hours: int = Field(24, ge=3)
    step_min_drop: float = Field(0.3, gt=0, lt=1)
    step_flow_tolerance: float = Field(0.1, gt=0)
    step_temperature_tolerance: float = Field(0.1, gt=0)
    step_o2_tolerance_pp: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _fit_window(self) -> EmergencySettings:
        if self.min_fit_pairs >= self.fit_days:
            raise ValueError(f"emergency.min_fit_pairs ({self.min_fit_pairs}) must be below "
                             f"emergency.fit_days ({self.fit_days})")
        return self


class GatewaySettings(BaseModel):
    """The HJ 212 TCP gateway that data acquisition units connect to directly."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(9212, ge=0, le=65535)  # 0: any free port (tests)
    max_connections: int = Field(2000, ge=1)
    # A 9014 reply waits until the packet is durable; after this long the gateway gives up on
    # answering (the unit resends), e.g. while InfluxDB is down and there is no spool.
    reply_timeout_s: float = Field(10.0, gt=0)
    # A unit that sends nothing for this long is disconnected (it reconnects when it has data).
    idle_timeout_s: float = Field(900.0, gt=0)
    # Longest run of bytes accepted without a CR LF before it is discarded as garbage.
    max_frame_bytes: int = Field(4096, ge=1100, le=1_000_000)


class EmissionSettings(BaseModel):
    """Judging enterprise emissions (HJ 212 outlets)."""

    # Flags whose values count as normal measurements: N normal, and T over the analyser's
    # range (the true value is at least the range maximum, so it must count against limits).
    # F stopped, M maintenance, S manual entry, D fault, C calibration, B communication
    # fault are kept and shown but do not count.
    valid_flags: str = Field("NT", pattern=r"^[NFMSDCTB]+$")
    # An outlet whose newest record is older than this (wall clock) is shown as offline.
    offline_after_s: float = Field(1800.0, gt=0)
    # HJ 75/HJ 212 App. D: an hourly value needs ≥ 45 valid minutes.
    min_minutes_per_hour: int = Field(45, ge=1, le=60)
    # Plausible ranges of stored values (mg/m³ as measured, O2/moisture %, flow m³/s,
    # temperature °C, pressure kPa, velocity m/s); a value outside is dropped and the packet
    # kept as a dead letter. Small negatives occur from zero drift and are accepted.
    plausible_ranges: dict[str, tuple[float, float]] = {
        "particulate": (-5.0, 10_000.0),
        "so2": (-5.0, 20_000.0),
        "nox": (-5.0, 20_000.0),
        "no": (-5.0, 20_000.0),
        "no2": (-5.0, 20_000.0),
        "co": (-5.0, 50_000.0),
        "o2": (0.0, 21.5),
        "flow": (0.0, 1_000_000.0),
        "velocity": (0.0, 200.0),
        "temperature": (-60.0, 1600.0),
        "pressure": (-200.0, 300.0),
        "moisture": (0.0, 100.0),
    }


class EscalationLevel(BaseModel):
    """挂牌督办: a case this many days past its deadline reaches this level; `notify` names
    who is told (roles or addresses, used by notifications)."""

    after_overdue_days: float = Field(ge=0)
    notify: list[str] = []


class CaseSettings(BaseModel):
    """The rectification ledger's rules: deadlines, escalation and look-back (回头看)."""

    # Days to rectify, by problem type ("default" for the rest); a case may override its own.
    deadline_days: dict[str, float] = {"default": 30, "exceedance": 15, "impossible_value": 7,
                                       "flatline": 15, "dilution": 15, "flag_abuse": 15}
    escalation: list[EscalationLevel] = [
        EscalationLevel(after_overdue_days=0, notify=["district bureau"]),
        EscalationLevel(after_overdue_days=7, notify=["city bureau"]),
        EscalationLevel(after_overdue_days=30, notify=["city government"]),
    ]
    # Largest evidence file accepted for upload (bytes).
    max_attachment_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    # How long a closed case stays under watch; the problem returning then reopens it.
    lookback_days: float = Field(90, ge=0)

    @field_validator("deadline_days")
    @classmethod
    def _has_default(cls, value: dict[str, float]) -> dict[str, float]:
        if "default" not in value:
            raise ValueError("deadline_days needs a 'default' entry")
        if any(days <= 0 for days in value.values()):
            raise ValueError("deadline_days must be positive")
        return value

    @field_validator("escalation")
    @classmethod
    def _ordered(cls, value: list[EscalationLevel]) -> list[EscalationLevel]:
        days = [level.after_overdue_days for level in value]
        if days != sorted(days):
            raise ValueError("escalation levels must be in increasing after_overdue_days")
        return value


class WebhookSettings(BaseModel):
    """An HTTP endpoint that receives case events as JSON (POST)."""

    url: str = Field(pattern=r"^https?://")
    # Only these actions (e.g. open, escalate, reopen); empty: every event.
    actions: list[str] = []
    timeout_s: float = Field(5.0, gt=0)


class NotificationSettings(BaseModel):
    """Case events go to MQTT (``{topic_root}/alerts/case``) and to the webhooks; failed
    deliveries are retried with doubling delays up to `max_attempts`, and every attempt is
    recorded."""

    mqtt: bool = True
    webhooks: list[WebhookSettings] = []
    max_attempts: int = Field(8, ge=1, le=100)
    first_retry_s: float = Field(30.0, gt=0)
    # A channel delivers events at most this old when first seen (so a new webhook does not
    # receive the whole history).
    backlog_hours: float = Field(24.0, gt=0)


class FalsificationSettings(BaseModel):
    """The falsification detectors: live schedule, sliding window, thresholds.

    `thresholds` overrides the defaults of analytics/falsification (each default is justified
    where it is defined; docs/detectors.md lists them): ``{detector: {threshold: value}}``.
    """

    enabled: bool = True
    # Every 5 minutes of wall time: hourly data change once an hour, minute data need no faster.
    interval_s: float = Field(300.0, gt=0)
    # A month: the detectors learn each source's own normal from the window (a station's
    # usual ratio to its neighbours over 30 days, the O2 and flow of each hour over ± 7
    # days), and copy_paste looks up to a week back.
    window_days: int = Field(30, ge=2, le=92)
    block_sources: int = Field(500, ge=1)
    detectors: list[str] | None = None
    thresholds: dict[str, dict[str, Any]] = {}

    @model_validator(mode="after")
    def _known(self) -> FalsificationSettings:
        self.detector_settings()
        return self

    def detector_settings(self) -> DetectorSettings:
        """The analytics-side settings; ValueError names an unknown detector or threshold."""
        return DetectorSettings.from_overrides(
            self.thresholds, tuple(self.detectors) if self.detectors is not None else None,
            self.block_sources)


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Seconds the latest values of all stations and outlets (what every duty officer's screen
    # polls) are shared before being read again, per API process; 0 reads them per request.
    # Readings arrive once a minute; 10 s adds little to that and costs one read per 10 s
    # however many screens poll (5,000 stations: ~0.7 s of database and API CPU per read).
    latest_cache_s: float = Field(10.0, ge=0, le=3600)
    # Seconds between the dashboard's live stream (/api/live) looking for a changed overview;
    # each look reads the latest cache above, so it costs the database nothing in between.
    live_interval_s: float = Field(5.0, gt=0, le=3600)


class Settings(BaseSettings):
    """All of Lantian's settings, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="LANTIAN_", env_nested_delimiter="__", extra="forbid"
    )

    timezone: str = "Asia/Shanghai"
    city: str = "beijing"
    stations_file: Path = CONFIG_DIR / "stations.yaml"
    outlets_file: Path = CONFIG_DIR / "outlets.yaml"
    emergency_file: Path = CONFIG_DIR / "emergency.yaml"
    mqtt: MqttSettings = MqttSettings()
    influx: InfluxSettings = InfluxSettings()
    ledger: LedgerSettings = LedgerSettings()
    collector: CollectorSettings = CollectorSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    emergency: EmergencySettings = EmergencySettings()
    gateway: GatewaySettings = GatewaySettings()
    emissions: EmissionSettings = EmissionSettings()
    cases: CaseSettings = CaseSettings()
    notifications: NotificationSettings = NotificationSettings()
    falsification: FalsificationSettings = FalsificationSettings()
    api: ApiSettings = ApiSettings()
    # Service logs: "text" for people, "json" (one object a line) for a log collector.
    log_format: Literal["text", "json"] = "text"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Asia/Shanghai')") from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get(CONFIG_FILE_ENV, CONFIG_DIR / "lantian.yaml"))
        if CONFIG_FILE_ENV in os.environ and not yaml_file.is_file():
            raise FileNotFoundError(f"{CONFIG_FILE_ENV}={yaml_file} does not exist")
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Tests call ``get_settings.cache_clear()``."""
    return Settings()
