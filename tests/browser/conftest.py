"""Fixtures of the dashboard's browser tests: the whole stack (`lantian run`, real Beijing data,
simulated CEMS units) once per module, and a fresh headless Chromium per test whose screen is
saved when the test fails.

A missing browser is installed with scripts/install_system_deps.sh; where that is impossible
the tests skip, except under CI, where they fail (like the PostgreSQL rule in tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from support.browser import (
    BrowserPaths,
    Dashboard,
    eventually,
    find_browser,
    install_browser,
    save_failure,
    start_chromium,
)

from lantian.local_services import free_port

# Data hours the replay sends per second: one new hour every 4 s, so a station's AQI colour
# holds still long enough to compare the page with the API, and live updates still come often.
HOURS_PER_SECOND = 0.25
LIVE_INTERVAL_S = 1  # api.live_interval_s: how often /api/live looks for a changed overview
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.fixture(scope="session")
def browser_paths() -> BrowserPaths:
    """Chromium and its driver, installed when missing; skip (fail under CI) if impossible."""
    paths = find_browser()
    if paths is not None:
        return paths
    paths, said = install_browser()
    if paths is not None:
        return paths
    message = ("the dashboard's browser tests need Debian's chromium and chromium-driver, and "
               "installing them failed (run scripts/install_system_deps.sh as root, or with "
               f"sudo): {said}")
    if os.environ.get("CI"):
        pytest.fail(f"CI requires a browser: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, beijing_data: Path
              ) -> Iterator[Dashboard]:
    """`lantian run` on free ports with its own run folder, up when all stations have an AQI."""
    folder = tmp_path_factory.mktemp("dashboard")
    run_dir = folder / "run"
    env = {**os.environ, "LANTIAN_ANALYTICS__INTERVAL_S": "1",
           "LANTIAN_API__LIVE_INTERVAL_S": str(LIVE_INTERVAL_S)}
    output = folder / "lantian-run.log"
    with output.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lantian", "run", "--run-dir", str(run_dir),
             "--api-port", str(free_port()), "--hours-per-second", str(HOURS_PER_SECOND)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        link = eventually(
            lambda: proc.poll() is None and re.search(r"Dashboard\s+(\S+)/\?token=(\S+)",
                                                      output.read_text(errors="replace")),
            90, lambda: f"`lantian run` printed no dashboard link:\n{output.read_text()}")
        stack = Dashboard(base=link.group(1), token=link.group(2), run_dir=run_dir)
        eventually(lambda: all(s["aqi"] for s in stack.api("/api/stations")["data"]), 60,
                   lambda: f"stations without AQI\n{stack.logs()}")
        yield stack
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    """Keep each phase's report on the test, so the browser fixture knows it failed."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def browser(request: pytest.FixtureRequest, browser_paths: BrowserPaths) -> Iterator[WebDriver]:
    """A fresh headless Chromium (empty profile: no token, no language kept) per test."""
    driver = start_chromium(browser_paths)
    try:
        yield driver
    finally:
        reports = request.node.stash.get(REPORTS, {})
        if any(r.failed for r in reports.values()):
            save_failure(driver, request.node.name)
        driver.quit()
