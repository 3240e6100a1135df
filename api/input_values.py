"""Request values the ledger, InfluxDB and spreadsheets can hold: row ids and plain text.

Checked at the edge so that a value the databases would refuse (an id beyond PostgreSQL's
INTEGER, a NUL byte in text) or that would break every later XLSX export (control
characters) is a 422 naming the value, never a 500 or a poisoned ledger.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

# The ledger's primary keys are SQLAlchemy Integer: INTEGER (32-bit) on PostgreSQL.
MAX_ROW_ID = 2**31 - 1
# C0 controls but tab, LF and CR; DEL; lone UTF-16 surrogates (not encodable as UTF-8).
_NOT_PLAIN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def plain_text(value: str) -> str:
    """`value` unchanged; ValueError when it holds characters text fields cannot store."""
    bad = _NOT_PLAIN.search(value)
    if bad:
        raise ValueError(f"control character U+{ord(bad.group()):04X} at position "
                         f"{bad.start()} is not allowed in text")
    return value


def optional_plain_text(value: str | None) -> str | None:
    return None if value is None else plain_text(value)


RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a ledger id (1 … 2³¹−1)")]
# Rows to skip in a listing; no table holds more rows than it has ids.
Offset = Annotated[int, Query(ge=0, le=MAX_ROW_ID)]
# Free text in request bodies (titles, notes, names): what the ledger stores as given.
PlainText = Annotated[str, AfterValidator(plain_text)]
# An optional filter matched against stored text (source, enterprise, district, topic …).
TextFilter = Annotated[str | None, Query(max_length=200), AfterValidator(optional_plain_text)]
