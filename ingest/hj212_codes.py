"""HJ 212 parameter codes (Table B.2, after HJ 524-2009) and the field names Lantian stores.

A code not listed here is stored under the code itself (e.g. ``a99999``): unknown parameters
are kept, never dropped.
"""

from __future__ import annotations

# code → (field name, unit as the unit sends it by default)
CODE_FIELDS: dict[str, tuple[str, str]] = {
    "a34013": ("particulate", "mg/m3"),
    "a21026": ("so2", "mg/m3"),
    "a21002": ("nox", "mg/m3"),
    "a21003": ("no", "mg/m3"),
    "a21004": ("no2", "mg/m3"),
    "a21005": ("co", "mg/m3"),
    "a05024": ("o3", "ug/m3"),
    "a19001": ("o2", "%"),
    "a00000": ("flow", "m3/s"),
    "a01011": ("velocity", "m/s"),
    "a01012": ("temperature", "°C"),
    "a01013": ("pressure", "kPa"),
    "a01014": ("moisture", "%"),
    "a01017": ("dynamic_pressure", "kPa"),
    "a01016": ("cross_section", "m2"),
    "a34004": ("pm25", "ug/m3"),
    "a34002": ("pm10", "ug/m3"),
    "a34001": ("tsp", "ug/m3"),
    "a34005": ("pm1", "ug/m3"),
    "a24088": ("nmhc", "mg/m3"),
    "a01001": ("ambient_temperature", "°C"),
    "a01002": ("ambient_humidity", "%"),
    "a01006": ("ambient_pressure", "kPa"),
    "a01007": ("wind_speed", "m/s"),
    "a01008": ("wind_direction", "degree"),
}
FIELD_CODES: dict[str, str] = {name: code for code, (name, _) in CODE_FIELDS.items()}

# Suffix → stored field-name ending for numeric values. The period value (-Rtd for real-time
# data, -Avg for minute/hour/day data) is stored under the bare name.
NUMERIC_SUFFIXES: dict[str, str] = {
    "Rtd": "", "Avg": "", "Min": "_min", "Max": "_max", "Cou": "_cou",
    "ZsRtd": "_zs", "ZsAvg": "_zs", "ZsMin": "_zsmin", "ZsMax": "_zsmax",
}
# Suffix → field ending for text values (kept as strings).
TEXT_SUFFIXES: dict[str, str] = {
    "Flag": "_flag", "EFlag": "_eflag", "SampleTime": "_sampletime", "SN": "_sn",
    "Info": "_info", "RS": "_rs", "RT": "_rt",
}

# Data-upload commands and the kind of period their values describe.
DATA_COMMANDS: dict[str, str] = {"2011": "rtd", "2051": "minute", "2061": "hourly",
                                 "2031": "daily"}
# Station (ST=22) packets from these MNs map onto station pollutants.
STATION_FIELDS = ("pm25", "pm10", "so2", "no2", "o3", "co")


def field_name(code: str) -> str:
    """Stored name of a parameter code: the Lantian name when known, else the code itself."""
    known = CODE_FIELDS.get(code)
    return known[0] if known else code
