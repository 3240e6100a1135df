"""Simulated CEMS minute series → HJ 212-2017 uploads (CN 2011 / 2051 / 2061 / 2031, ST 31).

Periods are aggregated vectorized; packets are then written with ingest.hj212_codec, the one
owner of the wire format. Choices the standard leaves open:
* a period's value is the mean of its N minutes when the period is N (≥ 75 % of its minutes
  N), else of all its minutes with a value; its flag is N, else the commonest abnormal flag of
  its minutes, else D (minutes missing); -Min/-Max are the extremes of the minute means
  (of the instant values for minute data);
* -ZsAvg = Avg × (21 − O2_ref) / (21 − O2 Avg) and -Cou = Avg × a00000-Cou × 10⁻⁶ kg are
  computed from the rounded values sent, so a receiver recomputes them exactly;
  a00000-Cou = flow Avg × period seconds (m³); no -ZsAvg when O2 ≥ 20 % (ambient air);
* only whole periods inside the run are sent (real-time samples always);
* a data segment that would pass `max_data_length` is split into several independent,
  complete packets with the same DataTime (no PNUM/PNO): each is acknowledged on its own
  and a receiver that does not reassemble still stores every value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np

from ingest.hj212_codec import FLAG_ACK, Hj212Codec, make_packet
from ingest.hj212_codes import FIELD_CODES
from simulators.cems_model import CemsRun, OutletSeries
from simulators.cems_noise import local_seconds
from simulators.cems_profiles import POLLUTANTS

COMMANDS: dict[str, str] = {"rtd": "2011", "minute": "2051", "hourly": "2061", "daily": "2031"}
ST_AIR_SOURCE = "31"
DEFAULT_PASSWORD = "123456"
DEFAULT_FLAG = 5  # HJ 212-2017 (version 1 in bits V5–V0) with A: CN 9014 requested
# Order in the data area and decimals sent (Table B.2 formats; particulate gets 2 because
# ultra-low levels of a few mg/m³ need them).
ORDER: tuple[str, ...] = (
    "flow", "particulate", "so2", "nox", "o2", "velocity", "temperature", "pressure", "moisture",
)
DECIMALS: dict[str, int] = {
    "flow": 1, "particulate": 2, "so2": 2, "nox": 1, "o2": 1, "velocity": 2,
    "temperature": 1, "pressure": 3, "moisture": 1,
}
COU_DECIMALS = 4  # kg
ZS_MAX_O2_PCT = 20.0
_ABNORMAL = np.array(list("FMCDTSB"))
_QN_DIGITS = 17


@dataclass(frozen=True, slots=True)
class CemsPacket:
    """One encoded upload: `raw` is ``##…\\r\\n``; `sent_at` (UTC) is when a unit sends it.

    `data_time` is the DataTime (period start, local); `flag` the header Flag.
    """

    mn: str
    cn: str
    qn: str
    sent_at: datetime
    data_time: datetime
    flag: int
    raw: bytes

    @property
    def wants_ack(self) -> bool:
        """Flag bit A: the platform must answer with CN 9014 echoing the QN."""
        return bool(self.flag & FLAG_ACK)


@dataclass(frozen=True, slots=True)
class _Draft:
    sent_s: int
    rank: tuple[int, int, int]
    mn: str
    cn: str
    pw: str
    data_time_s: int  # UTC seconds of the DataTime
    items: tuple[tuple[tuple[str, str], ...], ...]


def build_packets(
    run: CemsRun,
    *,
    commands: Sequence[str] = ("rtd", "minute", "hourly"),
    tz: tzinfo | None = None,
    flag: int = DEFAULT_FLAG,
    max_data_length: int = 1024,
) -> list[CemsPacket]:
    """Every upload of every stack of `run` for `commands` (keys of COMMANDS), in send order.

    DataTime is the period start (real-time: the sampling instant) on the local clock `tz`
    (default the run's, Asia/Shanghai), as are hour and day boundaries. QN is the local send
    time with a millisecond counter that makes it unique per MN. PW is the outlet's password
    or 123456. Ties in send time keep register order, then rtd, minute, hourly, daily.
    """
    unknown = set(commands) - set(COMMANDS)
    if unknown:
        raise ValueError(f"unknown commands {sorted(unknown)}; choose from {', '.join(COMMANDS)}")
    zone = tz or run.tz
    utc_s = run.utc_seconds()
    local_s = local_seconds(utc_s, zone)
    drafts: list[_Draft] = []
    for rank, series in enumerate(run.series.values()):
        for order, command in enumerate(COMMANDS):
            if command not in commands:
                continue
            if command == "rtd":
                made = _rtd_drafts(series, utc_s)
            else:
                period_s = {"minute": 60 * series.outlet.minute_interval_min,
                            "hourly": 3600, "daily": 86400}[command]
                made = _period_drafts(series, utc_s, local_s, period_s, command == "minute")
            header = _header_length(series, COMMANDS[command], flag)
            for sent_s, data_time_s, items in made:
                for part, chunk in enumerate(_split(items, header, max_data_length)):
                    drafts.append(_Draft(sent_s, (rank, order, part), series.outlet.mn,
                                         COMMANDS[command], _password(series), data_time_s,
                                         chunk))
    drafts.sort(key=lambda d: (d.sent_s, d.rank))
    return _encode(drafts, zone, flag)


def _password(series: OutletSeries) -> str:
    return series.outlet.password or DEFAULT_PASSWORD


def _header_length(series: OutletSeries, cn: str, flag: int) -> int:
    head = (f"QN={'0' * _QN_DIGITS};ST={ST_AIR_SOURCE};CN={cn};PW={_password(series)};"
            f"MN={series.outlet.mn};Flag={flag};CP=&&DataTime=YYYYMMDDhhmmss&&")
    return len(head.encode("utf-8"))


def _split(items: list[tuple[tuple[str, str], ...]], header: int, limit: int
           ) -> list[tuple[tuple[tuple[str, str], ...], ...]]:
    """Items packed greedily into data segments of at most `limit` bytes."""
    chunks: list[list[tuple[tuple[str, str], ...]]] = [[]]
    used = header
    for item in items:
        size = 1 + len(",".join(f"{k}={v}" for k, v in item).encode("utf-8"))  # with ';'
        if header + size > limit:
            raise ValueError(f"item {item[0][0]} alone does not fit a {limit}-byte data segment")
        if used + size > limit:
            chunks.append([])
            used = header
        chunks[-1].append(item)
        used += size
    return [tuple(c) for c in chunks if c]


def _fmt(value: float, decimals: int) -> str:
    return f"{value + 0.0:.{decimals}f}"  # + 0.0 turns -0.0 into 0.0


def _rtd_drafts(series: OutletSeries, utc_s: np.ndarray
                ) -> list[tuple[int, int, list[tuple[tuple[str, str], ...]]]]:
    """Real-time samples every rtd_interval_s, interpolated between minute means."""
    n = len(utc_s)
    t = np.arange(0, n * 60, series.outlet.rtd_interval_s, dtype=np.int64)
    m = t // 60
    centre = m * 60 + 30
    j = np.clip(np.where(t < centre, m - 1, m + 1), 0, n - 1)
    weight = np.abs(t - centre) / 60.0
    columns = []
    for p in ORDER:
        v, f = series.values[p], series.flags[p]
        blend = (j != m) & (f[j] == f[m]) & ~np.isnan(v[j])
        rtd = np.where(blend, v[m] * (1 - weight) + v[j] * weight, v[m])
        columns.append((FIELD_CODES[p], np.round(rtd, DECIMALS[p]), f[m], DECIMALS[p]))
    drafts = []
    for k in range(len(t)):
        items = [((f"{code}-Rtd", _fmt(vals[k], d)), (f"{code}-Flag", str(flags[k])))
                 for code, vals, flags, d in columns if not np.isnan(vals[k])]
        if items:
            sent = int(utc_s[0] + t[k])
            drafts.append((sent, sent, items))
    return drafts


@dataclass(frozen=True, slots=True)
class _Aggregate:
    avg: np.ndarray
    low: np.ndarray
    high: np.ndarray
    flag: np.ndarray


def _aggregate(v: np.ndarray, spread: np.ndarray | None, flags: np.ndarray, starts: np.ndarray,
               lengths: np.ndarray) -> _Aggregate:
    """Per-period value, extremes and flag (module docstring rules); NaN = nothing to send."""
    present = ~np.isnan(v)
    n_normal = np.add.reduceat((present & (flags == "N")).astype(np.int64), starts)
    normal = n_normal >= 0.75 * lengths
    counts = np.stack([np.add.reduceat((present & (flags == f)).astype(np.int64), starts)
                       for f in _ABNORMAL])
    flag = np.where(normal, "N", np.where(counts.max(0) > 0, _ABNORMAL[counts.argmax(0)], "D"))
    use = present & (~np.repeat(normal, lengths) | (flags == "N"))
    count = np.add.reduceat(use.astype(np.int64), starts)
    total = np.add.reduceat(np.where(use, v, 0.0), starts)
    half = spread if spread is not None else 0.0
    low = np.minimum.reduceat(np.where(use, v - half, np.inf), starts)
    high = np.maximum.reduceat(np.where(use, v + half, -np.inf), starts)
    none = count == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(none, np.nan, total / np.maximum(count, 1))
    return _Aggregate(avg, np.where(none, np.nan, low), np.where(none, np.nan, high), flag)


def _period_drafts(series: OutletSeries, utc_s: np.ndarray, local_s: np.ndarray, period_s: int,
                   with_spread: bool) -> list[tuple[int, int, list[tuple[tuple[str, str], ...]]]]:
    period = local_s // period_s
    starts = np.flatnonzero(np.concatenate(([True], np.diff(period) != 0)))
    ends = np.append(starts[1:], len(utc_s))
    lengths = ends - starts
    whole = (local_s[starts] % period_s == 0) & ((local_s[ends - 1] + 60) % period_s == 0)
    aggregates = {
        p: _aggregate(series.values[p], series.spread[p] if with_spread else None,
                      series.flags[p], starts, lengths)
        for p in ORDER
    }
    reference = series.outlet.reference_o2
    drafts = []
    for g in np.flatnonzero(whole):
        # Derived fields use the numbers as sent, so a receiver recomputes them exactly.
        sent = {p: _fmt(a.avg[g], DECIMALS[p]) for p, a in aggregates.items()
                if not np.isnan(a.avg[g])}
        volume = float(sent["flow"]) * int(lengths[g]) * 60 if "flow" in sent else None
        o2 = float(sent["o2"]) if "o2" in sent else None
        items = []
        for p in ORDER:
            if p not in sent:
                continue
            a, d, code = aggregates[p], DECIMALS[p], FIELD_CODES[p]
            avg = float(sent[p])
            pairs = []
            if p == "flow" and volume is not None:
                pairs.append((f"{code}-Cou", _fmt(volume, 1)))
            elif p in POLLUTANTS and volume is not None:
                pairs.append((f"{code}-Cou", _fmt(avg * volume * 1e-6, COU_DECIMALS)))
            pairs += [(f"{code}-Min", _fmt(a.low[g], d)), (f"{code}-Avg", sent[p]),
                      (f"{code}-Max", _fmt(a.high[g], d))]
            if (p in POLLUTANTS and reference is not None and o2 is not None
                    and o2 < ZS_MAX_O2_PCT):
                pairs.append((f"{code}-ZsAvg", _fmt(avg * (21 - reference) / (21 - o2), d)))
            pairs.append((f"{code}-Flag", str(a.flag[g])))
            items.append(tuple(pairs))
        if items:
            drafts.append((int(utc_s[ends[g] - 1]) + 60, int(utc_s[starts[g]]), items))
    return drafts


def _local_stamps(utc: np.ndarray, tz: tzinfo) -> list[str]:
    """YYYYMMDDhhmmss of each UTC second on the local clock, vectorized."""
    text = np.datetime_as_string(local_seconds(utc, tz).astype("datetime64[s]"), unit="s")
    return [s.replace("-", "").replace("T", "").replace(":", "") for s in text]


def _encode(drafts: list[_Draft], tz: tzinfo, flag: int) -> list[CemsPacket]:
    codec = Hj212Codec()
    sent = np.array([d.sent_s for d in drafts], dtype=np.int64)
    data = np.array([d.data_time_s for d in drafts], dtype=np.int64)
    sent_text, data_text = _local_stamps(sent, tz), _local_stamps(data, tz)
    counter: defaultdict[tuple[str, int], int] = defaultdict(int)
    packets = []
    for draft, sent_stamp, data_stamp in zip(drafts, sent_text, data_text, strict=True):
        ms = counter[(draft.mn, draft.sent_s)]
        if ms > 999:
            raise ValueError(f"more than 1000 packets for {draft.mn} in one second")
        counter[(draft.mn, draft.sent_s)] = ms + 1
        qn = f"{sent_stamp}{ms:03d}"
        packet = make_packet(st=ST_AIR_SOURCE, cn=draft.cn, mn=draft.mn, qn=qn, pw=draft.pw,
                             flag=flag, cp=[(("DataTime", data_stamp),), *draft.items])
        packets.append(CemsPacket(
            draft.mn, draft.cn, qn, datetime.fromtimestamp(draft.sent_s, UTC),
            datetime.fromtimestamp(draft.data_time_s, tz), flag, codec.encode(packet)))
    return packets
