"""The AQI forecast payload on ``lantian/v1/forecast/{city}`` (JSON), for forecasting offices
that publish over MQTT: ``{"issuer": "市气象台", "source": "official",
"days": [{"date": "2026-11-24", "aqi": 230}, …]}``."""

from __future__ import annotations

import re
from datetime import date

import orjson
from pydantic import BaseModel, Field, ValidationError

from ingest.station_payload import PayloadError

_TOPIC = re.compile(r"^(?P<root>.+)/forecast/(?P<city>[A-Za-z0-9_-]{1,64})$")


class ForecastDayPayload(BaseModel):
    date: date
    aqi: float = Field(ge=0, le=500)


class ForecastPayload(BaseModel):
    issuer: str = Field("mqtt", max_length=128)
    source: str = Field("official", pattern="^(official|statistical)$")
    days: list[ForecastDayPayload] = Field(min_length=1, max_length=15)


def decode_forecast(topic: str, payload: bytes) -> tuple[str, ForecastPayload]:
    """(city, forecast) or PayloadError saying what is wrong."""
    match = _TOPIC.match(topic)
    if match is None:
        raise PayloadError(f"topic {topic!r} is not '<root>/forecast/<city>'")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"forecast is not JSON: {exc}") from None
    try:
        return match.group("city"), ForecastPayload.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors()[:5])
        raise PayloadError(f"forecast is invalid: {problems}") from None
