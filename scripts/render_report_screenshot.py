"""Render the HTML report of a sample simulation result in headless Chromium and
save a screenshot (docs/report.png, shown in the README).

    python scripts/render_report_screenshot.py [--result FILE] [--output PNG]

Needs Chromium (Debian: `apt-get install chromium`). The browser runs with
a network log; the script fails if the page asked for anything over the
network (Chromium's own background requests are told apart by their
initiator: the page's requests come from its `file:` origin).
tests/test_report_browser.py uses the same functions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "report_sample.json"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Quiet, reproducible, no sandbox (containers run as root), no GPU.
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-default-apps", "--force-device-scale-factor=1")
_BACKGROUND = "not an origin"   # the initiator of Chromium's own requests (updates, accounts)


def find_chromium() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def screenshot(chromium: str, html: Path, png: Path, size: tuple[int, int] = (1200, 2000),
               netlog: Path | None = None, timeout: float = 120) -> None:
    """Load `html` in headless Chromium and write a screenshot of the window to `png`."""
    command = [chromium, *_FLAGS, f"--window-size={size[0]},{size[1]}", f"--screenshot={png}"]
    if netlog is not None:
        command.append(f"--log-net-log={netlog}")
    with tempfile.TemporaryDirectory() as profile:
        command += [f"--user-data-dir={profile}", html.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not png.is_file():
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")


def page_requests(netlog: Path) -> list[str]:
    """The URLs the page itself asked the network for, from Chromium's network log."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event["type"] == start and "url" in event.get("params", {})
            and event["params"].get("initiator") != _BACKGROUND]


def render(result_file: Path, output: Path, chromium: str) -> list[str]:
    """Write the report's screenshot to `output`; return the page's network requests."""
    from leadscore.simulator.report_html import html_report

    result = json.loads(result_file.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as folder:
        html, netlog = Path(folder) / "report.html", Path(folder) / "netlog.json"
        html.write_text(html_report(result), encoding="utf-8")
        output.parent.mkdir(parents=True, exist_ok=True)
        screenshot(chromium, html, output, netlog=netlog)
        return page_requests(netlog)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--result", type=Path, default=SAMPLE, help="a simulation result (JSON)")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "report.png")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    requests = render(args.result, args.output, chromium)
    if requests:
        print("the page asked the network for: " + ", ".join(requests), file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
