"""Refreshes docs/dashboard.png, the README's screenshot of the dashboard: runs the overview's
browser test (the whole stack with real Beijing data, headless Chromium) and keeps the screen
it saves, so the picture is always one a passing test has seen.

    .venv/bin/python scripts/screenshot.py            # the overview in Chinese (the default)
    .venv/bin/python scripts/screenshot.py --lang en  # the overview in English
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = "tests/browser/test_dashboard.py"
# which test saves which overview screenshot (support.browser.save_screenshot names)
SOURCES = {"zh": ("test_overview_shows_the_pipelines_live_data", "overview.png"),
           "en": ("test_language_toggle_switches_the_visible_text", "overview-en.png")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=sorted(SOURCES), default="zh")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.png")
    args = parser.parse_args()
    test, picture = SOURCES[args.lang]
    with tempfile.TemporaryDirectory(prefix="lantian-screenshot-") as folder:
        env = {**os.environ, "LANTIAN_ARTIFACTS_DIR": folder}
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                f"{TESTS}::{test}"], cwd=REPO, env=env)
        shot = Path(folder) / "screenshots" / picture
        if code != 0 or not shot.is_file():
            print(f"no screenshot: {test} did not pass (exit {code})", file=sys.stderr)
            return code or 1
        shutil.copyfile(shot, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
