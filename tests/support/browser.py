"""The system's headless Chromium for the dashboard tests: found (or installed with
scripts/install_system_deps.sh), started through Selenium, and screenshots kept as artefacts.

Debian's `chromium` and `chromium-driver` come from the same source package, so the driver
always matches the browser; Selenium's own driver download is never used (no internet).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "scripts" / "install_system_deps.sh"
WINDOW = (1400, 900)  # CSS pixels: a duty officer's laptop screen
T = TypeVar("T")


@dataclass(frozen=True)
class BrowserPaths:
    chromium: str
    chromedriver: str


@dataclass(frozen=True)
class Dashboard:
    """A running stack: the dashboard's address, the demo admin's token, the run folder."""

    base: str
    token: str
    run_dir: Path

    def api(self, path: str) -> Any:
        """GET an API path as the demo admin; the JSON body."""
        response = httpx.get(self.base + path, headers=self._auth(), timeout=10)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(self.base + path, json=body, headers=self._auth(), timeout=10)
        response.raise_for_status()
        return response.json()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def logs(self) -> str:
        """The tail of every service log, for failure messages."""
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
                         for log in sorted((self.run_dir / "logs").glob("*.log")))


def find_browser() -> BrowserPaths | None:
    """Debian's chromium and chromedriver, or None when either is missing."""
    chromium = shutil.which("chromium") or _executable("/usr/bin/chromium")
    driver = shutil.which("chromedriver") or _executable("/usr/bin/chromedriver")
    return BrowserPaths(chromium, driver) if chromium and driver else None


def _executable(path: str) -> str | None:
    return path if os.access(path, os.X_OK) else None


def install_browser() -> tuple[BrowserPaths | None, str]:
    """Run the project's installer (root, or sudo without a password prompt: CI=1 makes it
    `sudo -n`, so a test never waits for a password); the browser and what the installer said."""
    try:
        done = subprocess.run(["bash", str(INSTALLER), sys.executable], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=900,
                              env={**os.environ, "CI": "1"}, check=False)
        said = (done.stdout + done.stderr).strip()[-2000:]
    except (OSError, subprocess.TimeoutExpired) as exc:
        said = str(exc)
    return find_browser(), said


def start_chromium(paths: BrowserPaths, accept_language: str = "zh-CN,zh") -> WebDriver:
    """Headless Chromium at WINDOW with the given Accept-Language (navigator.language), and
    the page's console kept (driver.get_log("browser")) for failure reports."""
    options = webdriver.ChromeOptions()
    options.binary_location = paths.chromium
    # --no-sandbox: root and containers have no user namespaces for Chromium's sandbox; the
    # browser only ever opens the test's own local dashboard.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                     f"--lang={accept_language.split(',')[0]}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": accept_language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(paths.chromedriver))


def artifacts_dir() -> Path:
    """Where screenshots go: $LANTIAN_ARTIFACTS_DIR/screenshots, else test-artifacts/screenshots
    in the repository (git-ignored)."""
    root = os.environ.get("LANTIAN_ARTIFACTS_DIR")
    folder = Path(root) / "screenshots" if root else REPO / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(driver: WebDriver, name: str) -> Path:
    """A PNG of the browser window as `name`.png in the artefacts folder."""
    path = artifacts_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def save_failure(driver: WebDriver, name: str) -> None:
    """Screenshot, the page's DOM and its console, for a failed test."""
    folder = artifacts_dir()
    save_screenshot(driver, f"FAILED-{name}")
    (folder / f"FAILED-{name}.html").write_text(driver.page_source, encoding="utf-8")
    console = "\n".join(f"{e.get('level')} {e.get('message')}" for e in driver.get_log("browser"))
    (folder / f"FAILED-{name}.console.log").write_text(console, encoding="utf-8")


def eventually(probe: Callable[[], T | None], timeout_s: float,
               describe: Callable[[], str] | str = "", interval_s: float = 0.2) -> T:
    """Call `probe` until it returns something truthy and return that; on timeout fail with
    `describe` (called then, so it can show the last values seen). Exceptions of a probe that
    looks at a page while it re-renders (stale elements, missing nodes) count as not yet."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # the page is re-rendering; try again until the deadline
            last_error = exc
        if time.monotonic() >= deadline:
            try:
                said = describe() if callable(describe) else describe
            except Exception as exc:  # describing must not hide the timeout itself
                said = f"(could not describe: {exc!r})"
            raise AssertionError(f"not within {timeout_s:g} s: {said}"
                                 + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval_s)
