"""An outlet as the duty officer sees it: latest values measured and at reference O2, the last
judged hour against its limits, and one status word with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import numpy as np

from analytics.o2_conversion import conversion_mismatch, to_reference_o2
from api.schemas import OutletHourPublic, OutletLatest, OutletPublic, OutletStatus
from config.outlets import LIMITED_POLLUTANTS, Outlet
from ingest.station_payload import FLAG_LETTERS

# Parameters shown in the latest values (stored field names, see ingest.hj212_codes).
SHOWN = ("particulate", "so2", "nox", "o2", "flow", "temperature", "moisture", "velocity",
         "pressure")
FLAG_TEXT = {"N": "normal", "F": "stopped", "M": "maintenance", "S": "manual entry",
             "D": "analyser fault", "C": "calibration", "T": "over range",
             "B": "communication fault"}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if value != value else float(value)  # NaN → None


def latest_view(point: dict[str, object] | None, kind: str, outlet: Outlet,
                local: tzinfo) -> OutletLatest | None:
    if not point:
        return None
    measured = {p: v for p in SHOWN if (v := _number(point.get(p))) is not None}
    flags = {p: str(point[f"{p}_flag"]) for p in SHOWN if f"{p}_flag" in point}
    o2 = measured.get("o2")
    reference = np.nan if outlet.reference_o2 is None else outlet.reference_o2
    converted: dict[str, float] = {}
    reported: dict[str, float] = {}
    mismatch: dict[str, bool] = {}
    for p in LIMITED_POLLUTANTS:
        if p not in measured:
            continue
        value = float(to_reference_o2(np.array([measured[p]]),
                                      np.array([np.nan if o2 is None else o2]), reference)[0])
        if value == value:
            converted[p] = round(value, 2)
        sent = _number(point.get(f"{p}_zs"))
        if sent is not None:
            reported[p] = sent
            if value == value:
                mismatch[p] = bool(conversion_mismatch(np.array([sent]), np.array([value]))[0])
    moment = datetime.fromtimestamp(int(point["time_s"]), UTC)  # type: ignore[call-overload]
    return OutletLatest(time=moment.astimezone(local), kind=kind, measured=measured,
                        flags=flags, o2=o2, converted=converted, reported_converted=reported,
                        conversion_mismatch=mismatch)


def hour_view(point: dict[str, object] | None, outlet: Outlet,
              local: tzinfo) -> OutletHourPublic | None:
    if not point:
        return None
    measured = {p: v for p in LIMITED_POLLUTANTS if (v := _number(point.get(p))) is not None}
    converted = {p: v for p in LIMITED_POLLUTANTS
                 if (v := _number(point.get(f"{p}_zs"))) is not None}
    basis = {p: str(point[f"{p}_basis"]) for p in LIMITED_POLLUTANTS if f"{p}_basis" in point}
    exceeding = [p for p, v in converted.items()
                 if p in outlet.limits and round(v, 1) > outlet.limits[p]]
    moment = datetime.fromtimestamp(int(point["time_s"]), UTC)  # type: ignore[call-overload]
    return OutletHourPublic(time=moment.astimezone(local), measured=measured,
                            converted=converted, basis=basis, exceeding=exceeding)


def status_of(latest: OutletLatest | None, hour: OutletHourPublic | None, now: datetime,
              offline_after_s: float) -> OutletStatus:
    """One word for the map and the list, most urgent first."""
    if latest is None and hour is None:
        return OutletStatus(code="no_data", text="no data received yet")
    newest = max(t for t in (latest.time if latest else None, hour.time if hour else None) if t)
    age = (now - newest).total_seconds()
    if age > offline_after_s:
        return OutletStatus(code="offline", text=f"no data for {age / 3600:.1f} h")
    if hour is not None and hour.exceeding:
        return OutletStatus(code="exceeding", text="hourly mean above the limit: "
                            + ", ".join(f"{p} {hour.converted[p]:g}" for p in hour.exceeding))
    abnormal = {p: f for p, f in (latest.flags.items() if latest else ()) if f != "N"}
    if abnormal:
        return OutletStatus(code="abnormal", text="; ".join(
            f"{p}: {FLAG_TEXT.get(f, f) if f in FLAG_LETTERS else f}"
            for p, f in sorted(abnormal.items())))
    return OutletStatus(code="normal", text="reporting normally")


def outlet_public(outlet: Outlet, latest: OutletLatest | None, hour: OutletHourPublic | None,
                  status: OutletStatus) -> OutletPublic:
    return OutletPublic(
        mn=outlet.mn, name=outlet.name, enterprise=outlet.enterprise, industry=outlet.industry,
        city=outlet.city, district=outlet.district, lat=outlet.lat, lon=outlet.lon,
        reference_o2=outlet.reference_o2, limits=outlet.limits,
        emergency_listed=outlet.emergency.listed,
        reduction_pct=dict(outlet.emergency.reduction_pct), status=status, latest=latest,
        last_hour=hour,
    )
