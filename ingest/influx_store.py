"""The reading store: InfluxDB via its 1.x HTTP API (line protocol on /write, InfluxQL on /query).

InfluxDB 1.x serves this API natively and 2.x/3.x serve it as their v1-compatibility API, so this
one adapter works against all three. It is the only module that knows InfluxDB; httpx errors are
translated here into StoreUnavailable / StoreRejected. Queries ask for CSV, which parses far
faster than JSON, and aggregate in the database.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Sequence

import httpx
import numpy as np
import pandas as pd

from analytics.series_window import SeriesWindow
from config.settings import InfluxSettings
from ingest.errors import StoreRejected, StoreUnauthorized, StoreUnavailable

HOUR_S = 3600


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(text: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_tags(text: object) -> dict[str, str]:
    if not isinstance(text, str) or not text:
        return {}
    tags: dict[str, str] = {}
    for pair in text.split(","):
        key, _, value = pair.partition("=")
        tags[key] = value.replace("\\ ", " ")
    return tags


class InfluxStore:
    """Write and read Lantian's measurements. Thread-safe (one keep-alive httpx client)."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        headers = {}
        params: dict[str, str] = {"db": settings.database}
        if settings.token is not None:
            headers["Authorization"] = f"Token {settings.token.get_secret_value()}"
        if settings.username:
            params["u"] = settings.username
            params["p"] = settings.password.get_secret_value() if settings.password else ""
        self._params = params
        self._client = httpx.Client(
            base_url=settings.url.rstrip("/"), headers=headers, timeout=settings.timeout_s,
            limits=httpx.Limits(max_keepalive_connections=8, max_connections=16),
        )

    def close(self) -> None:
        self._client.close()

    # -- plumbing ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"InfluxDB at {self.settings.url} unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise StoreUnauthorized(
                f"InfluxDB at {self.settings.url} refused the credentials "
                f"({response.status_code}: {response.text[:200].strip()}); check "
                "LANTIAN_INFLUX__TOKEN (2.x/3.x) or LANTIAN_INFLUX__USERNAME/__PASSWORD (1.x)")
        if response.status_code >= 500 or response.status_code == 404:
            # 404 is "database not found" (dropped, or no DBRP mapping on 2.x): a fault of the
            # installation, not of the data, so the caller keeps the data and retries.
            raise StoreUnavailable(f"InfluxDB {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            raise StoreRejected(f"InfluxDB {response.status_code}: {response.text[:300]}")
        return response

    def ping(self) -> str:
        """The server's version; StoreUnavailable when it does not answer."""
        response = self._request("GET", "/ping")
        return response.headers.get("X-Influxdb-Version", "unknown")

    def ensure_database(self) -> None:
        """CREATE DATABASE (idempotent) unless configured not to (2.x/3.x manage buckets)."""
        if self.settings.create_database:
            self.execute(f"CREATE DATABASE {quote_ident(self.settings.database)}")

    def execute(self, statement: str) -> None:
        """Run a statement that changes state (POST /query); raise on an error in the result."""
        response = self._request("POST", "/query", params={**self._params, "q": statement})
        for result in response.json().get("results", []):
            if "error" in result:
                raise StoreRejected(f"InfluxQL error for {statement!r}: {result['error']}")

    # -- writing ----------------------------------------------------------------------------
    def write_lines(self, lines: Sequence[str]) -> None:
        """POST line protocol (precision s) in one request, gzip-compressed when configured."""
        if not lines:
            return
        body = ("\n".join(lines) + "\n").encode("utf-8")
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.settings.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        params = {**self._params, "precision": "s"}
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        self._request("POST", "/write", params=params, content=body, headers=headers)

    # -- reading ----------------------------------------------------------------------------
    def query_frame(self, query: str) -> pd.DataFrame:
        """Run one InfluxQL SELECT, return its CSV result (columns name, tags, time ns, …)."""
        response = self._request(
            "GET", "/query", params={**self._params, "q": query, "epoch": "ns"},
            headers={"Accept": "application/csv"},
        )
        text = response.text
        if not text.strip():
            return pd.DataFrame(columns=["name", "tags", "time"])
        if text.lstrip().startswith("{"):
            raise StoreRejected(f"InfluxQL error for {query!r}: {text[:300]}")
        return pd.read_csv(io.StringIO(text), keep_default_na=True)

    def latest_time_s(self, measurement: str) -> int | None:
        """Unix seconds of the newest point in `measurement`, None when it is empty."""
        frame = self.query_frame(
            f"SELECT * FROM {quote_ident(measurement)} ORDER BY time DESC LIMIT 1"
        )
        return None if frame.empty else int(frame["time"].iloc[0]) // 1_000_000_000

    def count(self, measurement: str, field: str, where: str = "") -> int:
        """Number of points with `field` set (exact count, used by tests and health)."""
        clause = f" WHERE {where}" if where else ""
        frame = self.query_frame(
            f"SELECT count({quote_ident(field)}) FROM {quote_ident(measurement)}{clause}"
        )
        return 0 if frame.empty else int(frame["count"].iloc[0])

    def latest_by_tag(self, measurement: str, tag: str, fields: Sequence[str] | None = None
                      ) -> dict[str, dict[str, object]]:
        """The newest point of each series, keyed by the value of `tag`: {time_s, fields…}.

        With `fields`, only those are read (the newest point holding any of them), which
        costs InfluxDB less than `SELECT *`; missing (null) fields are left out of a record.
        """
        select = ", ".join(quote_ident(f) for f in fields) if fields else "*"
        frame = self.query_frame(
            f"SELECT {select} FROM {quote_ident(measurement)} GROUP BY {quote_ident(tag)} "
            "ORDER BY time DESC LIMIT 1"
        )
        if frame.empty or "tags" not in frame:
            return {}
        # Grouped by one tag, each row's tags text is "<tag>=<value>".
        tags = frame["tags"].astype(str)
        prefix = f"{tag}="
        keys = tags.str.slice(len(prefix)).str.replace("\\ ", " ", regex=False)
        keep = tags.str.startswith(prefix).to_numpy()
        field_columns = [c for c in frame.columns if c not in ("name", "tags", "time")]
        columns = [keys[keep].tolist(),
                   (frame["time"].to_numpy()[keep] // 1_000_000_000).tolist(),
                   *(frame[c].to_numpy()[keep].tolist() for c in field_columns)]
        names = ("time_s", *field_columns)
        # v == v is False only for NaN: a null field, left out of the record.
        return {row[0]: {k: v for k, v in zip(names, row[1:], strict=True) if v == v}
                for row in zip(*columns, strict=True)}

    def read_series(self, measurement: str, tag: str, tag_value: str, fields: Iterable[str],
                    start_s: int, end_s: int, every_s: int | None = None,
                    limit: int = 100_000) -> pd.DataFrame:
        """One series over [start_s, end_s): raw points, or means per `every_s` bucket.

        Returns a frame with a `time_s` column and one column per field (NaN = missing).
        """
        fields = list(fields)
        where = (f"{quote_ident(tag)} = {quote_literal(tag_value)} "
                 f"AND time >= {start_s}s AND time < {end_s}s")
        if every_s:
            select = ", ".join(f"mean({quote_ident(f)}) AS {quote_ident(f)}" for f in fields)
            query = (f"SELECT {select} FROM {quote_ident(measurement)} WHERE {where} "
                     f"GROUP BY time({every_s}s) fill(none) LIMIT {limit}")
        else:
            select = ", ".join(quote_ident(f) for f in fields)
            query = f"SELECT {select} FROM {quote_ident(measurement)} WHERE {where} LIMIT {limit}"
        frame = self.query_frame(query)
        out = pd.DataFrame({"time_s": (frame["time"] // 1_000_000_000).astype("int64")
                            if not frame.empty else pd.Series([], dtype="int64")})
        for field in fields:
            out[field] = frame[field].to_numpy() if field in frame else np.nan
        return out

    def read_hourly_window(self, measurement: str, tag: str, fields: Sequence[str],
                           sources: Sequence[str], start_s: int, end_s: int,
                           valid_flags: str | None = None, with_counts: bool = False
                           ) -> SeriesWindow:
        """Hourly means of `fields` for every source over [start_s, end_s) as a SeriesWindow.

        The database does the averaging (GROUP BY time(1h)); `start_s`/`end_s` must be whole
        hours. With `valid_flags` (e.g. "NST") only values whose `<field>_flag` is one of those
        letters are averaged (one query per field, since each field has its own flag).
        With `with_counts`, the window also holds `<field>_count`: how many values each mean
        was taken over (for the hourly validity rule).
        Sources found in the data but not in `sources` are appended (sorted).
        """
        if start_s % HOUR_S or end_s % HOUR_S or end_s <= start_s:
            raise ValueError("window bounds must be whole hours with end > start")
        where = f"time >= {start_s}s AND time < {end_s}s"
        if valid_flags:
            frames = []
            for field in fields:
                allowed = " OR ".join(f"{quote_ident(field + '_flag')} = {quote_literal(letter)}"
                                      for letter in valid_flags)
                frames.append(self._hourly_means(measurement, tag, [field],
                                                 f"{where} AND ({allowed})", with_counts))
        else:
            frames = [self._hourly_means(measurement, tag, fields, where, with_counts)]
        frames = [f for f in frames if not f.empty]
        found = {name for frame in frames for name in frame["source"]}
        names = (*sources, *sorted(found - set(sources)))
        index_of = {name: i for i, name in enumerate(names)}
        n_times = (end_s - start_s) // HOUR_S
        columns = [*fields, *(f"{f}_count" for f in fields if with_counts)]
        values = {column: np.full((len(names), n_times), np.nan) for column in columns}
        for frame in frames:
            rows = frame["source"].map(index_of).to_numpy()
            cols = ((frame["time"].to_numpy() // 1_000_000_000) - start_s) // HOUR_S
            for column in columns:
                if column in frame:
                    values[column][rows, cols] = frame[column].to_numpy(dtype="float64")
        times = np.arange(start_s, end_s, HOUR_S, dtype="int64").astype("datetime64[s]")
        return SeriesWindow(names, times, values)

    def _hourly_means(self, measurement: str, tag: str, fields: Sequence[str], where: str,
                      with_counts: bool = False) -> pd.DataFrame:
        aggregates = [f"mean({quote_ident(f)}) AS {quote_ident(f)}" for f in fields]
        if with_counts:
            aggregates += [f"count({quote_ident(f)}) AS {quote_ident(f + '_count')}"
                           for f in fields]
        select = ", ".join(aggregates)
        frame = self.query_frame(
            f"SELECT {select} FROM {quote_ident(measurement)} WHERE {where} "
            f"GROUP BY time(1h), {quote_ident(tag)} fill(none)"
        )
        if frame.empty:
            return frame
        frame["source"] = frame["tags"].map(lambda t: parse_tags(t).get(tag, ""))
        return frame[frame["source"] != ""]
