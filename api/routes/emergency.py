"""Heavy-pollution alerts: a city's current level and its history (every signed-in user, as the
level is also published on MQTT); forecasts submitted by the forecasting office (inspectors,
admins)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException

from alerts.emergency_service import ForecastError
from api.auth import SignedIn, require_role, signed_in
from api.deps import Context
from api.schemas import EmergencyEventPublic, EmergencyPublic, ForecastAccepted, ForecastIn

router = APIRouter(prefix="/api/emergency", tags=["emergency"], dependencies=[Depends(signed_in)])


@router.get("/{city}", response_model=EmergencyPublic,
            summary="A city's current alert level and the history of level changes")
def current(city: str, ctx: Context) -> EmergencyPublic:
    if ctx.emergency.register.for_city(city) is None:
        raise HTTPException(404, f"no alert scheme configured for city {city!r}")
    state = ctx.emergency.state(city)
    history = [EmergencyEventPublic(at=ctx.local(e.at), action=e.action,
                                    from_level=e.from_level, to_level=e.to_level,
                                    reason=e.reason, forecast_id=e.forecast_id)
               for e in state.events]
    return EmergencyPublic(
        city=city, level=state.alert.level if state.alert else None,
        alert_id=state.alert.id if state.alert else None,
        since=ctx.local(state.alert.issued_at) if state.alert else None, history=history)


@router.post("/{city}/forecasts", response_model=ForecastAccepted, status_code=202,
             summary="Submit a daily AQI forecast; the analytics service decides the level")
def submit(city: str, body: ForecastIn, ctx: Context, who: SignedIn) -> ForecastAccepted:
    require_role(who, ("admin", "inspector"), "submit forecasts")
    try:
        forecast_id = ctx.emergency.submit_forecast(
            city, [(d.date, d.aqi) for d in body.days], source=body.source,
            issuer=body.issuer or who.name, now=datetime.now(UTC))
    except ForecastError as exc:
        raise HTTPException(422, str(exc)) from None
    return ForecastAccepted(forecast_id=forecast_id,
                            detail="stored; the level is decided on the next analytics cycle")
