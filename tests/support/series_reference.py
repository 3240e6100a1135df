"""The per-point series formatting the API used before it was vectorised (api/routes/stations.py
`series_public` until issue 8), kept as the reference the vectorised code must equal."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import pandas as pd

from api.schemas import SeriesPublic


def reference_points(frame: pd.DataFrame, fields: list[str], tz: tzinfo
                     ) -> list[dict[str, object]]:
    """One dict and one isoformat() per point, as the old code built them."""
    points = []
    for row in frame.itertuples(index=False):
        point: dict[str, object] = {
            "time": datetime.fromtimestamp(int(row.time_s), UTC).astimezone(tz).isoformat()}
        for field in fields:
            value = getattr(row, field)
            if isinstance(value, str):
                point[field] = value
            else:
                point[field] = None if value != value else float(value)
        points.append(point)
    return points


def reference_series(source: str, frame: pd.DataFrame, fields: list[str], start_s: int,
                     end_s: int, every_s: int | None, tz: tzinfo) -> SeriesPublic:
    """The old SeriesPublic, validated point by point."""
    points = reference_points(frame, fields, tz)
    return SeriesPublic(
        source=source, start=datetime.fromtimestamp(start_s, UTC).astimezone(tz),
        end=datetime.fromtimestamp(end_s, UTC).astimezone(tz), every_s=every_s,
        fields=fields, points=points, count=len(points),
    )
