"""The HTML report in a real browser: headless Chromium renders it, draws its charts,
and the page asks the network for nothing. Skipped when Chromium is not installed
(Debian: `apt-get install chromium`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("render_report_screenshot",
                                               REPO / "scripts" / "render_report_screenshot.py")
screenshots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(screenshots)

CHROMIUM = screenshots.find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


def _inked_share(png: Path, box: tuple[int, int, int, int] | None = None) -> float:
    """The share of pixels that are not (near) white."""
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        if box is not None:
            grey = grey.crop(box)
        histogram = grey.histogram()
    return 1 - sum(histogram[245:]) / sum(histogram)


def test_report_renders_with_no_network_request(tmp_path):
    png = tmp_path / "report.png"
    requests = screenshots.render(screenshots.SAMPLE, png, CHROMIUM)
    assert requests == []
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == (1200, 2000)
    assert _inked_share(png) > 0.03                           # text, tables and charts drawn
    assert _inked_share(png, (40, 900, 1000, 1250)) > 0.02    # the sweep chart's lines and axes


def test_a_page_that_fetches_is_caught(tmp_path):
    """The network check sees a page's own request (and not the browser's background ones)."""
    page, png, netlog = tmp_path / "fetch.html", tmp_path / "fetch.png", tmp_path / "netlog.json"
    page.write_text('<!DOCTYPE html><p>x</p><img src="http://127.0.0.1:9/pixel.png">', encoding="utf-8")
    screenshots.screenshot(CHROMIUM, page, png, size=(300, 200), netlog=netlog)
    assert screenshots.page_requests(netlog) == ["http://127.0.0.1:9/pixel.png"]
