"""The daily city bulletin (日报): a printable HTML page and the same as PDF, for one local day.
Both need the bearer token (the dashboard downloads them with fetch and opens a blob URL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import HTMLResponse

from alerts.accounts import Principal
from api.auth import SignedIn
from api.bulletin_html import render_html
from api.bulletin_pdf import render_pdf
from api.daily_bulletin import DailyBulletin, build_bulletin
from api.deps import AppContext, Context

router = APIRouter(prefix="/reports", tags=["reports"])
Day = Annotated[date | None, Query(
    ge=date(1970, 1, 2),  # time-series data starts at the Unix epoch
    description="the local natural day, YYYY-MM-DD; default yesterday (the last whole day)")]
LangQuery = Annotated[Literal["zh", "en"], Query(description="zh (default) or en")]


def _bulletin(ctx: AppContext, city: str, day: date | None, who: Principal) -> DailyBulletin:
    cities = sorted({s.city for s in ctx.stations.stations})
    if city not in cities:
        raise HTTPException(404, f"city {city!r} has no registered stations; known: {cities}")
    today = datetime.now(UTC).astimezone(ctx.tz).date()
    day = day or today - timedelta(days=1)
    if day > today:
        raise HTTPException(422, f"date {day.isoformat()} is in the future (today is "
                                 f"{today.isoformat()} in {ctx.settings.timezone})")
    return build_bulletin(ctx, city, day, who)


def _disposition(city: str, day: date, extension: str) -> dict[str, str]:
    return {"Content-Disposition":
            f'inline; filename="lantian-daily-{city}-{day.isoformat()}.{extension}"'}


# Declared before the HTML route: "{city}" alone would also match "beijing.pdf".
@router.get("/daily/{city}.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}},
            summary="A city's daily bulletin as PDF")
def daily_pdf(city: str, ctx: Context, who: SignedIn, date: Day = None,
              lang: LangQuery = "zh") -> Response:
    bulletin = _bulletin(ctx, city, date, who)
    return Response(render_pdf(bulletin, lang), media_type="application/pdf",
                    headers=_disposition(city, bulletin.day, "pdf"))


@router.get("/daily/{city}", response_class=HTMLResponse,
            summary="A city's daily bulletin: station and city daily AQI, exceedances, cases "
                    "opened and closed, alert level; a printable page")
def daily_html(city: str, ctx: Context, who: SignedIn, date: Day = None,
               lang: LangQuery = "zh") -> HTMLResponse:
    bulletin = _bulletin(ctx, city, date, who)
    return HTMLResponse(render_html(bulletin, lang),
                        headers=_disposition(city, bulletin.day, "html"))
