"""Take screenshots of every page of the self-check at phone and desktop widths.

Usage: python scripts/screenshots.py BASE_URL OUT_DIR
Walks the journey in headless Chromium (Debian's), answering as the worked case
'nine-months-established', and saves full-page PNGs of each page it passes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ANSWERS = {
    "rf_stroke_signs": "no",
    "rf_eye": "no",
    "rf_ear_rash": "no",
    "rf_both_sides": "no",
    "rf_progressive": "yes",
    "cause": "ramsay_hunt",
    "time_since_onset": "6m_12m",
    "initial_severity": "complete",
    "recovery": "mostly",
    "saq_eye_smile": "4",
    "saq_eye_speak": "3",
    "saq_eye_pucker": "4",
    "saq_neck_smile": "2",
    "saq_face_tight_eyes": "1",
    "saq_mouth_eyes": "3",
    "saq_neck_eyes": "1",
    "saq_tears_eating": "1",
    "saq_chin_dimple": "1",
    "twitching": "never",
    "asymmetry": "slight",
    "tightness_rest": "sometimes",
    "pattern": "consistent",
    "daily_impact": "moderate",
    "treatments": "none",
}


def shoot(page: Page, out: Path, name: str, width: int) -> None:
    page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)


def journey(page: Page, base: str, out: Path, width: int) -> None:
    page.goto(base + "/")
    shoot(page, out, "01-landing", width)
    page.goto(base + "/questions/safety")
    page.click("button[type=submit]")  # empty submit: the error summary
    shoot(page, out, "02-safety-errors", width)
    step = 3
    while "/questions/" in page.url:
        name = page.url.rsplit("/", 1)[1].split("?")[0]
        for field in page.locator("input[type=radio], input[type=checkbox]").all():
            qid, value = field.get_attribute("name"), field.get_attribute("value")
            if qid in ANSWERS and ANSWERS[qid] == value:
                field.check()
        if name == "notes":
            page.fill("#notes", "The tightness is worst in the mornings.")
        shoot(page, out, f"{step:02d}-{name}", width)
        step += 1
        page.click("button[type=submit]")
    shoot(page, out, f"{step:02d}-check-answers", width)
    page.click("text=See my result")
    shoot(page, out, f"{step + 1:02d}-result", width)
    page.goto(base + "/how-this-works")
    shoot(page, out, "20-how", width)
    page.goto(base + "/emergency")
    shoot(page, out, "21-emergency", width)
    page.goto(base + "/missing-page")
    shoot(page, out, "22-not-found", width)


def main() -> None:
    base, out = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        for width in (375, 1280):
            context = browser.new_context(viewport={"width": width, "height": 800})
            journey(context.new_page(), base, out, width)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
