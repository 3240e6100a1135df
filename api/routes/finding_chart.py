"""GET /api/findings/{id}/chart.png: a finding's evidence drawn from the live data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Response

from alerts.case_models import FindingRecord
from alerts.falsification_window import outlet_series, station_series
from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.nan_median import nan_median
from analytics.falsification.neighbours import neighbour_rows
from api.auth import SignedIn, can_see_source
from api.case_titles import TYPE_NAMES_ZH, pollutant_names, source_name
from api.deps import AppContext, Context
from api.evidence_chart import EvidenceChart, render_png
from api.input_values import RowId

router = APIRouter(prefix="/api", tags=["cases"])
HOUR_S = 3600
STATION_UNITS = {"co": "mg/m³"}
# Process signals that explain an outlet finding, drawn on a second axis.
PROCESS_OF = {"dilution": ("o2", "flow", "moisture"), "step_drop": ("flow", "o2", "temperature")}
PROCESS_UNITS = {"o2": "O2 %", "flow": "flow m³/h", "moisture": "moisture %",
                 "temperature": "temperature °C"}
# The chart's words in Chinese (lang=zh); names come from the registers (api/case_titles.py).
ZH = {"neighbours' median": "周边站点中位数", "as measured": "实测值",
      "at reference O2": "折算值（基准氧含量）", "mg/m³ at reference O2": "mg/m³（基准氧含量）",
      "flagged hours are shown as measured (not converted)": "异常标记的小时按实测值显示（未折算）",
      "O2 %": "氧含量 %", "flow m³/h": "流量 m³/h", "moisture %": "湿度 %",
      "temperature °C": "温度 °C"}
Lang = Literal["zh", "en"]


def _window(record: FindingRecord, pad_hours: int) -> tuple[int, int]:
    start = int(record.start.timestamp()) - pad_hours * HOUR_S
    end = int(record.end.timestamp()) + (pad_hours + 1) * HOUR_S
    return start - start % HOUR_S, end - end % HOUR_S


def _pollutant(series: AuditSeries, record: FindingRecord) -> str:
    if record.pollutant in series.values:
        return record.pollutant
    limited = [p for p in series.pollutants() if not np.isnan(series.limit(p)).all()]
    if limited or series.pollutants():
        return (limited or list(series.pollutants()))[0]
    raise HTTPException(404, f"no data of {record.pollutant} at {record.source} around "
                             "this finding")


def _title(ctx: AppContext, record: FindingRecord, shown: str,
           local: tuple[datetime, datetime], lang: Lang) -> str:
    span = f"{local[0]:%Y-%m-%d %H:%M} … {local[1]:%Y-%m-%d %H:%M}"
    if lang == "zh":
        name = source_name(record.source, ctx.station_by_id, ctx.outlet_by_mn)
        return (f"{TYPE_NAMES_ZH.get(record.type, record.type)} — {name} {shown}，{span}"
                f"（评分 {record.score:.2f}）")
    return f"{record.type} — {record.source} {shown}, {span} (score {record.score:.2f})"


def _chart(ctx: AppContext, record: FindingRecord, pad_hours: int, lang: Lang) -> EvidenceChart:
    start_s, end_s = _window(record, pad_hours)
    tz = ctx.settings.timezone
    is_station = record.source in ctx.station_by_id
    series = (station_series(ctx.store, ctx.stations.stations, start_s, end_s, tz) if is_station
              else outlet_series(ctx.store, ctx.outlet_by_mn, start_s, end_s, tz))
    if record.source not in series.sources:
        raise HTTPException(404, f"no data of {record.source} around this finding")
    row = series.sources.index(record.source)
    pollutant = _pollutant(series, record)
    times = [datetime.fromtimestamp(int(s), ctx.tz) for s in series.times.astype(np.int64)]
    local = (record.start.astimezone(ctx.tz), record.end.astimezone(ctx.tz))
    flagged = ~np.isin(series.flag(pollutant)[row], [b"N", b"T"])
    def say(text: str) -> str:
        return ZH.get(text, text) if lang == "zh" else text

    if lang == "zh":
        shown_name = pollutant_names([record.pollutant]) + (
            "" if record.pollutant == pollutant else f"（显示{pollutant_names([pollutant])}）")
    else:
        shown_name = (record.pollutant if record.pollutant == pollutant
                      else f"{record.pollutant} ({pollutant} shown)")
    title = _title(ctx, record, shown_name, local, lang)
    if is_station:
        comparison: dict[str, np.ndarray] = {}
        rows = neighbour_rows(series, row)
        if rows.size:
            values = series.values[pollutant][rows]
            comparison[say("neighbours' median")] = nan_median(values, axis=0)
            for index in rows[:6]:
                neighbour = series.sources[index]
                name = (source_name(neighbour, ctx.station_by_id, ctx.outlet_by_mn)
                        if lang == "zh" else neighbour)
                comparison[name] = series.values[pollutant][index]
        return EvidenceChart(title, STATION_UNITS.get(pollutant, "µg/m³"), times,
                             series.values[pollutant][row], local, flagged, comparison,
                             label="本站" if lang == "zh" else "this source", lang=lang)
    converted = series.converted(pollutant)[row]
    shown = np.where(np.isnan(converted), series.values[pollutant][row], converted)
    limit = series.limit(pollutant)[row]
    process = {say(PROCESS_UNITS[name]): series.values[name][row]
               for name in PROCESS_OF.get(record.type, ()) if name in series.values}
    return EvidenceChart(title, say("mg/m³ at reference O2"), times, shown, local, flagged,
                         comparison={say("as measured"): series.values[pollutant][row]},
                         limit=None if np.isnan(limit) else float(limit), process=process,
                         note=say("flagged hours are shown as measured (not converted)"),
                         label=say("at reference O2"), lang=lang)


@router.get("/findings/{finding_id}/chart.png", summary="A finding's evidence as a PNG chart",
            response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def finding_chart(finding_id: RowId, ctx: Context, who: SignedIn,
                  pad_hours: Annotated[int, Query(ge=0, le=24 * 14)] = 48,
                  lang: Annotated[Lang, Query(description="the chart's language")] = "en",
                  ) -> Response:
    record = ctx.cases.get_finding(finding_id)
    if record is None or not can_see_source(who, ctx.outlets, record.source):
        raise HTTPException(404, f"finding {finding_id} does not exist")
    png = render_png(_chart(ctx, record, pad_hours, lang))
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "no-store",
                             "Content-Disposition": f'inline; filename="finding-{finding_id}.png"'})

