"""Back-test of the built-in statistical AQI forecast against persistence and climatology.

`python -m lantian.forecast_backtest [--out docs/forecast_backtest.md] [--start --end]` rebuilds
the Beijing city day by day from the real hourly data, issues a forecast each day at 16:00 local
as the emergency service would, scores it against the observed natural-day AQI, and writes the
Markdown report. `backtest` is the pure scoring step (arrays over days, no loop over time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from numpy.lib.stride_tricks import sliding_window_view

from alerts.emergency_rules import scheme_from_config
from analytics.alert_levels import AlertScheme, alert_levels
from analytics.aqi import daily_aqi
from analytics.aqi_forecast import damped_forecast, fit_damped_persistence
from analytics.city_aqi import city_means
from analytics.daily_means import closed_days, daily_means
from analytics.ozone_daily import o3_daily_max_1h, o3_daily_max_8h
from analytics.rolling_daily_aqi import rolling_24h_aqi
from config.emergency import load_emergency
from config.settings import CONFIG_DIR
from simulators.beijing_replay import DATA_TIMEZONE, load_beijing

METHODS = ("model", "persistence", "climatology")
HEAVY_AQI = 200.0  # "heavy pollution" (重度污染): daily AQI above 200, the alert threshold
ISSUE_HOUR = 16  # local hour the forecast is issued; the anchor is the 24 h ending then
FIT_DAYS = 60
SEVERE_LEVEL = 3  # national-2018 orange; "warned" means a forecast of at least yellow (2)
WARNED_LEVEL = 2
DEFAULT_REPORT = Path(__file__).resolve().parents[1] / "docs" / "forecast_backtest.md"


@dataclass(frozen=True)
class LeadScores:
    """Scores of one method at one lead (days ahead of the issue day) on the common sample.

    Errors are forecast − observed daily AQI; the event is daily AQI > `HEAVY_AQI`. POD, FAR
    and CSI are NaN when their denominator is 0. An onset is a target day above the threshold
    whose previous day was not; `onset_hits` are those the method forecast above it.
    """

    lead: int
    n: int
    mae: float
    bias: float
    rmse: float
    hits: int
    misses: int
    false_alarms: int
    pod: float
    far: float
    csi: float
    onsets: int
    onset_hits: int


@dataclass(frozen=True)
class AlertScores:
    """Alert level from the method's forecast of days D … D+horizon−1 vs from the observed ones.

    `confusion[i, j]` counts issue days with observed level i and forecast level j (0 = none);
    `severe_warned` of the `observed_severe` orange-or-worse days were forecast ≥ yellow.
    """

    n: int
    same_level: float
    observed_severe: int
    severe_warned: int
    confusion: np.ndarray


@dataclass(frozen=True)
class BacktestResult:
    """Per method (METHODS) the scores of each lead 0 … horizon−1 and of the alert level."""

    horizon: int
    leads: dict[str, tuple[LeadScores, ...]]
    alerts: dict[str, AlertScores]
    level_names: tuple[str, ...]


@dataclass(frozen=True)
class CityDays:
    """One city's daily series for the back-test: `days` datetime64[D] (D,) local dates;
    `daily_aqi` observed natural-day AQI; `anchor` the 24-h AQI at 16:00 (NaN on days that are
    not issue days); `mu`, `phi` the model of each day; `first`, `last` the issue period."""

    days: np.ndarray
    daily_aqi: np.ndarray
    anchor: np.ndarray
    mu: np.ndarray
    phi: np.ndarray
    first: date
    last: date


def load_scheme(path: Path = CONFIG_DIR / "emergency.yaml", city: str = "beijing",
                name: str = "national-2018") -> AlertScheme:
    """The named alert scheme of `city` from the emergency register, whatever its date."""
    jurisdiction = load_emergency(path).for_city(city)
    schemes = [s for s in (jurisdiction.schemes if jurisdiction else []) if s.name == name]
    if not schemes:
        raise ValueError(f"no scheme {name!r} for {city!r} in {path}")
    return scheme_from_config(schemes[0])


def _ahead(values: np.ndarray, horizon: int, shift: int = 0) -> np.ndarray:
    """(D, horizon): row d holds values[d + shift], …, values[d + shift + horizon − 1] (NaN
    outside the series)."""
    pad_before, pad_after = max(-shift, 0), max(shift, 0) + horizon - 1
    padded = np.pad(values.astype(np.float64), (pad_before, pad_after), constant_values=np.nan)
    start = pad_before + shift
    return sliding_window_view(padded, horizon)[start:start + len(values)]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _lead_scores(forecast: np.ndarray, observed: np.ndarray, previous: np.ndarray,
                 sample: np.ndarray) -> tuple[LeadScores, ...]:
    """Scores of a (D, H) forecast over the (D, H) `sample`, all leads at once."""
    n = sample.sum(axis=0)
    error = np.where(sample, forecast - observed, 0.0)
    fc_event = sample & (forecast > HEAVY_AQI)
    ob_event = sample & (observed > HEAVY_AQI)
    hits = (fc_event & ob_event).sum(axis=0)
    misses = (~fc_event & ob_event).sum(axis=0)
    false_alarms = (fc_event & ~ob_event).sum(axis=0)
    onset = ob_event & (previous <= HEAVY_AQI)  # NaN previous day: not an onset
    columns = {
        "n": n, "mae": _ratio(np.abs(error).sum(axis=0), n), "bias": _ratio(error.sum(axis=0), n),
        "rmse": np.sqrt(_ratio((error**2).sum(axis=0), n)), "hits": hits, "misses": misses,
        "false_alarms": false_alarms, "pod": _ratio(hits, hits + misses),
        "far": _ratio(false_alarms, hits + false_alarms),
        "csi": _ratio(hits, hits + misses + false_alarms),
        "onsets": onset.sum(axis=0), "onset_hits": (onset & fc_event).sum(axis=0),
    }
    return tuple(LeadScores(lead=k, **{key: value[k].item() for key, value in columns.items()})
                 for k in range(forecast.shape[1]))


def _alert_scores(forecast: np.ndarray, observed: np.ndarray, rows: np.ndarray,
                  scheme: AlertScheme) -> AlertScores:
    size = len(scheme.levels) + 1
    observed_level = alert_levels(observed[rows], scheme)
    forecast_level = alert_levels(forecast[rows], scheme)
    confusion = np.bincount(observed_level * size + forecast_level,
                            minlength=size * size).reshape(size, size)
    severe = observed_level >= SEVERE_LEVEL
    return AlertScores(n=int(rows.sum()),
                       same_level=_ratio(np.trace(confusion), confusion.sum()).item(),
                       observed_severe=int(severe.sum()),
                       severe_warned=int((severe & (forecast_level >= WARNED_LEVEL)).sum()),
                       confusion=confusion)


def backtest(daily_aqi: np.ndarray, anchor: np.ndarray, mu: np.ndarray, phi: np.ndarray,
             horizon: int = 3, *, scheme: AlertScheme | None = None) -> BacktestResult:
    """Score the model, persistence and climatology forecasts issued on each day.

    All inputs are (D,) over consecutive local days: the observed daily AQI (NaN = no valid
    day), the anchor AQI at issue time (NaN = no forecast issued that day) and the model
    (μ, φ) of each day. Lead k of day d is scored against daily_aqi[d + k]. Every method is
    scored on the same sample per lead: days where the model, hence all three, has a forecast
    and the target day is observed. Persistence forecasts the anchor at every lead,
    climatology exp(μ). Alert levels by `scheme` (default: national-2018 of the shipped
    config) use the days whose `horizon` target days are all observed.
    """
    scheme = scheme if scheme is not None else load_scheme()
    observed = _ahead(np.asarray(daily_aqi), horizon)
    previous = _ahead(np.asarray(daily_aqi), horizon, shift=-1)
    anchor, mu = np.asarray(anchor, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    forecasts = {
        "model": damped_forecast(anchor, mu, phi, horizon),
        "persistence": np.repeat(anchor[:, None], horizon, axis=1),
        "climatology": np.repeat(np.exp(mu)[:, None], horizon, axis=1),
    }
    sample = ~np.isnan(forecasts["model"]) & ~np.isnan(observed)
    rows = sample.all(axis=1)
    return BacktestResult(
        horizon=horizon,
        leads={m: _lead_scores(f, observed, previous, sample) for m, f in forecasts.items()},
        alerts={m: _alert_scores(f, observed, rows, scheme) for m, f in forecasts.items()},
        level_names=("none", *(level.name for level in scheme.levels)),
    )


def load_city_days(path: Path | None = None, *, start: date | None = None,
                   end: date | None = None, horizon: int = 3,
                   fit_days: int = FIT_DAYS) -> CityDays:
    """The Beijing city (hourly mean of all stations) as daily series for `backtest`.

    Issue days run from `start` to `end` inclusive (default: the whole data set); the data are
    read from `fit_days` + 1 days earlier, so the model of the first issue day is fitted as in
    operation, and `horizon` − 1 days later, so the last issue day's leads are observed.
    Daily AQI: GB 3095 daily means (≥ 20 valid hours) of the city's hourly means, HJ 633.
    """
    window = load_beijing(
        path,
        start=start - timedelta(days=fit_days + 1) if start else None,
        end=end + timedelta(days=horizon) if end else None,
    )
    city, _ = city_means(window, dict.fromkeys(window.sources, "beijing"))
    daily = daily_means(city, DATA_TIMEZONE)
    result = daily_aqi(daily, o3_daily_max_8h(city, daily), o3_daily_max_1h(city, daily))
    observed = np.where(closed_days(daily, None), result.aqi[0], np.nan)
    # The column of the hour ISSUE_HOUR−1 … ISSUE_HOUR holds the 24 h ending at ISSUE_HOUR.
    hour = (city.times - daily.day_start_utc[daily.day_of_time]).astype(np.int64) // 3600
    at_issue = hour == ISSUE_HOUR - 1
    anchor = np.full(len(daily.days), np.nan)
    anchor[daily.day_of_time[at_issue]] = rolling_24h_aqi(city, DATA_TIMEZONE).aqi[0, at_issue]
    mu, phi = fit_damped_persistence(observed[None, :], fit_days=fit_days)
    first = start or daily.days[0].item()
    last = end or daily.days[-1].item()
    issued = (daily.days >= np.datetime64(first)) & (daily.days <= np.datetime64(last))
    return CityDays(days=daily.days, daily_aqi=observed, anchor=np.where(issued, anchor, np.nan),
                    mu=mu[0], phi=phi[0], first=first, last=last)


def _fmt(value: float, digits: int = 1) -> str:
    return "–" if np.isnan(value) else f"{value:.{digits}f}"


def render_summary(result: BacktestResult, city: CityDays) -> str:
    """A few plain lines for stdout: MAE per lead and method, POD/FAR of AQI > 200."""
    lines = [f"Beijing, issue days {city.first} … {city.last}, forecast at {ISSUE_HOUR}:00"]
    for method in METHODS:
        scores = result.leads[method]
        mae = "  ".join(f"lead {s.lead}: {_fmt(s.mae)}" for s in scores)
        event = "  ".join(f"{_fmt(s.pod, 2)}/{_fmt(s.far, 2)}" for s in scores)
        alert = result.alerts[method]
        lines.append(f"{method:12s} MAE {mae} | POD/FAR >200 {event} | same level "
                     f"{_fmt(100 * alert.same_level)} %, orange/red warned "
                     f"{alert.severe_warned}/{alert.observed_severe}")
    return "\n".join(lines)


def _error_table(result: BacktestResult) -> list[str]:
    lines = ["| lead | method | n | MAE | bias | RMSE |", "|---:|---|---:|---:|---:|---:|"]
    for lead in range(result.horizon):
        for method in METHODS:
            s = result.leads[method][lead]
            lines.append(f"| {lead} | {method} | {s.n} | {_fmt(s.mae)} | {_fmt(s.bias):>5} "
                         f"| {_fmt(s.rmse)} |")
    return lines


def _event_table(result: BacktestResult) -> list[str]:
    lines = ["| lead | method | hits | misses | false alarms | POD | FAR | CSI | onsets caught |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lead in range(result.horizon):
        for method in METHODS:
            s = result.leads[method][lead]
            lines.append(f"| {lead} | {method} | {s.hits} | {s.misses} | {s.false_alarms} "
                         f"| {_fmt(s.pod, 2)} | {_fmt(s.far, 2)} | {_fmt(s.csi, 2)} "
                         f"| {s.onset_hits} of {s.onsets} |")
    return lines


def _alert_tables(result: BacktestResult) -> list[str]:
    lines = ["| method | issue days | same level | observed orange or red (issue days) "
             "| of them forecast ≥ yellow |", "|---|---:|---:|---:|---:|"]
    for method in METHODS:
        a = result.alerts[method]
        lines.append(f"| {method} | {a.n} | {_fmt(100 * a.same_level)} % | {a.observed_severe} "
                     f"| {a.severe_warned} |")
    names = result.level_names
    lines += ["", "Model: observed level (rows) against forecast level (columns), issue days:", "",
              "| observed \\ model | " + " | ".join(names) + " |",
              "|---|" + "---:|" * len(names)]
    for name, row in zip(names, result.alerts["model"].confusion, strict=True):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return lines


def _lower(a: float, b: float) -> str:
    return "lower than" if a < b else "higher than" if a > b else "equal to"


def _conclusions(result: BacktestResult, city: CityDays) -> list[str]:
    model, pers, clim = (result.leads[m] for m in METHODS)
    last = result.horizon - 1
    # Anchor above which the model's lead-1 forecast exceeds the heavy threshold.
    needed = np.exp(city.mu + (np.log(HEAVY_AQI) - city.mu) / city.phi)
    needed = needed[~np.isnan(city.anchor) & np.isfinite(needed)]
    need_text = f"{np.median(needed):.0f}" if needed.size else "–"
    a_model, a_pers, a_clim = (result.alerts[m] for m in METHODS)
    none_share = _ratio(a_model.confusion[0].sum(), a_model.confusion.sum()).item()
    return [
        f"- **Typical error.** At lead 1 the model's MAE ({_fmt(model[1].mae)}) is "
        f"{_lower(model[1].mae, pers[1].mae)} persistence's ({_fmt(pers[1].mae)}) and "
        f"{_lower(model[1].mae, clim[1].mae)} climatology's ({_fmt(clim[1].mae)}); at lead "
        f"{last} it is {_fmt(model[last].mae)}, {_lower(model[last].mae, pers[last].mae)} "
        f"persistence's ({_fmt(pers[last].mae)}) and {_lower(model[last].mae, clim[last].mae)} "
        f"climatology's ({_fmt(clim[last].mae)}): the damping is worth most where persistence "
        f"decays, and by lead {last} the model is little more than its own μ. Lead 0 is the "
        f"anchor itself for model and persistence, so their lead-0 scores are identical by "
        f"construction; the day is already two-thirds observed at {ISSUE_HOUR}:00.",
        f"- **It forecasts too low.** The model's bias is {_fmt(model[1].bias)} at lead 1 and "
        f"{_fmt(model[last].bias)} at lead {last}, climatology's {_fmt(clim[1].bias)}: both "
        f"return to exp(μ), the geometric mean of the last {FIT_DAYS} days, which lies below "
        f"the arithmetic mean of a skewed AQI series. Persistence is nearly unbiased "
        f"({_fmt(pers[1].bias)}).",
        f"- **It rarely forecasts heavy pollution beyond today.** For AQI > {HEAVY_AQI:.0f} the "
        f"model's POD is {_fmt(model[1].pod, 2)} at lead 1 (persistence "
        f"{_fmt(pers[1].pod, 2)}, FAR {_fmt(pers[1].far, 2)}). Damping pulls every anchor "
        f"toward μ: with the fitted μ and φ, a lead-1 forecast above {HEAVY_AQI:.0f} needs an "
        f"anchor above about {need_text} (median over the issue days).",
        f"- **It lags episode onsets.** Of {model[1].onsets} days on which AQI rose above "
        f"{HEAVY_AQI:.0f} from a day at or below it, the model caught {model[1].onset_hits} a "
        f"day ahead and persistence {pers[1].onset_hits}: neither method sees an episode "
        f"coming; both only follow the anchor. The model's few false alarms "
        f"({model[1].false_alarms} against persistence's {pers[1].false_alarms} at lead 1) "
        f"come from its rarely forecasting above {HEAVY_AQI:.0f} at all, not from foreseeing "
        f"the end of episodes.",
        f"- **Alert levels.** The model gives the observed national-2018 level on "
        f"{_fmt(100 * a_model.same_level)} % of issue days (persistence "
        f"{_fmt(100 * a_pers.same_level)} %, climatology {_fmt(100 * a_clim.same_level)} %), "
        f"but {_fmt(100 * none_share)} % of the days have no observed alert, which a forecast "
        f"that never alerts would match too: the share mostly measures quiet days. Of "
        f"{a_model.observed_severe} issue days whose observed 3 days reach orange or red "
        f"(overlapping periods, not distinct episodes), the model forecast at least yellow "
        f"for {a_model.severe_warned}, persistence for {a_pers.severe_warned}.",
        "- **Use.** The model keeps the alert logic running when no official forecast arrives; "
        "it must not replace the forecast centre's numerical forecast. Used alone it "
        "under-warns: an alert decided from it rests almost entirely on today's anchor, so a "
        f"high anchor deserves attention even when leads 1 and 2 stay below {HEAVY_AQI:.0f}.",
    ]


def render_report(result: BacktestResult, city: CityDays) -> str:
    """The Markdown report: model, data and protocol, the tables, conclusions."""
    issued = int(np.isfinite(city.anchor + city.mu + city.phi).sum())
    observed = city.daily_aqi[(city.days >= np.datetime64(city.first))
                              & (city.days <= np.datetime64(city.last))]
    heavy = int((observed > HEAVY_AQI).sum())
    lines = [
        "# Back-test of the statistical AQI forecast (Beijing)", "",
        "Generated by `python -m lantian.forecast_backtest` (lantian/forecast_backtest.py); "
        "rerun it rather than edit this file.", "",
        "## The model", "",
        "`analytics/aqi_forecast.py` is Lantian's built-in statistical forecast, a **fallback "
        "used only when no official forecast is present** (the forecast centre's numerical "
        "forecast, received on `lantian/v1/forecast/{city}`, always wins). It is damped "
        "persistence in log space: forecast(lead k) = exp(μ + φ^k · (log anchor − μ)), where "
        "the anchor is the daily AQI of the last 24 h, μ the mean log daily AQI and φ the "
        f"lag-1 slope of log daily AQI, both fitted on the {FIT_DAYS} days before the issue "
        "day (no look-ahead) and available once 14 pairs of consecutive valid days exist.", "",
        "## Data and protocol", "",
        "- Data: hourly PM2.5, PM10, SO2, NO2, CO, O3 of 12 Beijing national-control stations, "
        "Beijing Multi-Site Air-Quality data set (UCI; Zhang et al. 2017, Proc. R. Soc. A 473, "
        "CC BY 4.0).",
        "- City: per hour, the mean of the stations reporting. Observed: daily AQI of each local "
        "(Asia/Shanghai) natural day, HJ 633 daily columns on GB 3095 daily means (≥ 20 valid "
        "hours), O3 by its daily max 8-h (and, in the 2012 edition, 1-h) value.",
        f"- Forecast issued each day D at {ISSUE_HOUR}:00 local: anchor = AQI of the 24 h ending "
        f"at {ISSUE_HOUR}:00, model (μ, φ) of day D; leads 0, 1, 2 are days D, D+1, D+2.",
        "- Baselines: persistence (every lead = anchor) and climatology (every lead = exp(μ), "
        f"the geometric mean of the {FIT_DAYS} days before, i.e. a seasonal level, not a "
        "multi-year table). "
        "All three are scored on the same days per lead.",
        "- Alert levels by the national-2018 scheme (config/emergency.yaml), applied to "
        "2013–2017 although it took effect in 2018, from the 3-day forecast and from the "
        "3 observed days. Red needs 4 days above 200 or AQI ≥ 500, so over 3 days it is only "
        "reachable by the latter.",
        f"- Period: issue days {city.first} to {city.last}; {issued} days with a forecast; "
        f"{heavy} observed days above {HEAVY_AQI:.0f}.", "",
        "## Daily AQI errors (forecast − observed)", "", *_error_table(result), "",
        f"## Heavy pollution: daily AQI > {HEAVY_AQI:.0f}", "",
        "POD = hits / (hits + misses), FAR = false alarms / (hits + false alarms), CSI = hits / "
        "(hits + misses + false alarms). An onset is a day above the threshold after a day at "
        "or below it.", "", *_event_table(result), "",
        "## Alert level over the 3 forecast days", "", *_alert_tables(result), "",
        "## Conclusions", "", *_conclusions(result, city), "",
    ]
    return "\n".join(lines)


def main(
    out: Annotated[Path, typer.Option(help="Markdown report to write")] = DEFAULT_REPORT,
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                   help="first issue day (local)")] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                 help="last issue day (local)")] = None,
    data: Annotated[Path | None, typer.Option(help="Beijing CSV (default shared/data)")] = None,
) -> None:
    """Back-test the statistical AQI forecast on the Beijing data; write the report."""
    city = load_city_days(data, start=start.date() if start else None,
                          end=end.date() if end else None)
    result = backtest(city.daily_aqi, city.anchor, city.mu, city.phi)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(result, city), encoding="utf-8")
    typer.echo(render_summary(result, city))
    typer.echo(f"report written to {out}")


if __name__ == "__main__":
    typer.run(main)
