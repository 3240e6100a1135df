"""Which edition of HJ 633 / GB 3095 governs a value, chosen by the value's local calendar date."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Both HJ 633-2026 and GB 3095-2026 came into force on this local date (domain.md §0).
EDITION_2026_FROM = np.datetime64("2026-03-01", "D")
# GB 3095-2026 transition limits apply until 2030-12-31; the final limits from this date.
GB3095_2026_FINAL_FROM = np.datetime64("2031-01-01", "D")

# Grade II 24-h limits, µg/m3: (GB 3095-2012, GB 3095-2026 transition, GB 3095-2026 final).
_GRADE2_DAILY_UGM3: dict[str, tuple[float, float, float]] = {
    "pm25": (75.0, 60.0, 50.0),
    "pm10": (150.0, 120.0, 100.0),
}
_GRADE2_LABELS: tuple[str, str, str] = (
    "GB 3095-2012 Grade II",
    "GB 3095-2026 Grade II (transition)",
    "GB 3095-2026 Grade II",
)


def local_dates(times: np.ndarray, tz: str) -> np.ndarray:
    """Local calendar date (``datetime64[D]``) of each UTC instant in `times`.

    `times` is any datetime64 array of UTC instants (naive); `tz` an IANA name such as
    "Asia/Shanghai". The standards switch at local midnight, so edition and day grouping
    must use this date, never the UTC date. Shape is preserved.
    """
    flat = np.asarray(times).astype("datetime64[s]").ravel()
    local = pd.DatetimeIndex(flat).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    return local.to_numpy().astype("datetime64[D]").reshape(np.shape(times))


def hj633_edition(dates: np.ndarray) -> np.ndarray:
    """HJ 633 edition (int16: 2012 or 2026) in force on each local date.

    `dates` is datetime64 (any unit, interpreted as local calendar dates); 2026 from
    2026-03-01 on, 2012 before. Shape is preserved.
    """
    days = np.asarray(dates).astype("datetime64[D]")
    return np.where(days >= EDITION_2026_FROM, 2026, 2012).astype(np.int16)


def gb3095_daily_limit(pollutant: str, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GB 3095 Grade II 24-h limit (µg/m3, float64) and its label for each local date.

    `pollutant` is "pm25" or "pm10"; `dates` datetime64 local dates. Phases: GB 3095-2012
    before 2026-03-01, GB 3095-2026 transition limits to 2030-12-31, final limits from
    2031-01-01. Returns (limits, labels) shaped like `dates`; labels is a str array such as
    "GB 3095-2026 Grade II (transition)". Raises ValueError for another pollutant.
    """
    if pollutant not in _GRADE2_DAILY_UGM3:
        raise ValueError(
            f"no GB 3095 daily limit table for {pollutant!r}; expected {sorted(_GRADE2_DAILY_UGM3)}"
        )
    days = np.asarray(dates).astype("datetime64[D]")
    phase = (days >= EDITION_2026_FROM).astype(np.intp) + (days >= GB3095_2026_FINAL_FROM)
    limits = np.array(_GRADE2_DAILY_UGM3[pollutant], dtype=np.float64)[phase]
    labels = np.array(_GRADE2_LABELS)[phase]
    return limits, labels
