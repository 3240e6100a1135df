"""`log_format: json`: every log record is one JSON object a line that a log collector parses."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from lantian.cli import JsonLogFormatter, setup_logging


def lines_logged(emit: object) -> list[dict[str, object]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("lantian.test_json_logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)  # type: ignore[operator]
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_parsable_line_with_utc_time() -> None:
    before = datetime.now(UTC)
    [entry] = lines_logged(lambda log: log.warning("站点 %s: %d readings\nsecond line",
                                                   "Dongsi", 3))
    assert set(entry) == {"time", "level", "logger", "message"}
    assert entry["level"] == "WARNING" and entry["logger"] == "lantian.test_json_logs"
    assert entry["message"] == "站点 Dongsi: 3 readings\nsecond line"
    assert isinstance(entry["time"], str) and entry["time"].endswith("Z")
    logged = datetime.fromisoformat(entry["time"])
    assert logged.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs((logged - before).total_seconds()) < 5


def test_an_exception_travels_as_text_in_the_same_line() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            log.exception("flush failed")

    [entry] = lines_logged(emit)
    assert entry["level"] == "ERROR" and entry["message"] == "flush failed"
    assert "Traceback" in entry["exc_info"] and "ZeroDivisionError" in entry["exc_info"]


@pytest.fixture
def bare_root_logger() -> Iterator[None]:
    """Restores the root logger that a test empties (pytest's own capture handlers are added
    for the test's call, so the test clears them itself before setup_logging)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def configure_as_a_service_starts(log_format: str = "text") -> None:
    """setup_logging configures only an unconfigured root logger, as at a service's start."""
    logging.getLogger().handlers.clear()
    setup_logging(log_format=log_format)


def test_setup_logging_json_writes_json_lines_to_stderr(
        bare_root_logger: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_as_a_service_starts("json")
    logging.getLogger("ingest.test").info("collector started")
    logging.getLogger("ingest.test").debug("not shown at INFO")
    [line] = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["message"] == "collector started" and entry["logger"] == "ingest.test"
    assert entry["level"] == "INFO"


def test_setup_logging_text_stays_readable(bare_root_logger: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    configure_as_a_service_starts()
    logging.getLogger("ingest.test").info("collector started")
    assert capsys.readouterr().err.rstrip().endswith("INFO ingest.test: collector started")
