"""Check the camera measure's chain on faces with a known narrowing, and print the table.

Usage: python bench/camera.py [--tolerance 0.05] [--size 640] [--seed 2026]

A real photograph (scikit-image's astronaut) has one eye squeezed to 0.9, 0.8, 0.7 and 0.6
of its opening, the image turned up to 10 degrees and its brightness shifted, then enlarged to
the size a phone's camera sees a face and held for a few frames (each shifted a pixel or two,
with noise). Each frame goes through what a patient's browser runs (the face mesh the app
serves, in headless Chromium, and the lids found in the frame's brightness by
checker/static/measure/eyes.mjs), and the server's arithmetic (checker.measure) takes each
pose's median and compares it with the untouched photograph's as "rest". Each row must
measure the squeezed eye within the tolerance of its factor, and the other eye within it of 1.
Exits 1 if a row misses. Other ``--size`` (the face's picture, in pixels square) and ``--seed``
(the frames' shifts and noise) check that the method was not fitted to one set of pictures.

What this validates: the measuring chain (model, landmarks, arithmetic) on a synthetic,
known narrowing. What it does not: agreement with clinicians on patients' own videos.
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from checker.measure import Frame, summarise  # noqa: E402
from checker.measure.narrowing import PoseSummary  # noqa: E402
from tests.camera_faces import close_up, held, narrowed, photograph, to_bytes, turned  # noqa: E402
from tests.model_page import ModelPage  # noqa: E402

FACTORS = (0.9, 0.8, 0.7, 0.6)
FRAMES = 5  # held frames a pose, as the camera check takes its median over
CONDITIONS = ((0.0, 0.0), (5.0, 0.08), (-10.0, -0.08), (10.0, 0.12))  # degrees turned, brightness


def data_url(image: object) -> str:
    buffer = io.BytesIO()
    Image.fromarray(to_bytes(image)).save(buffer, format="PNG")  # type: ignore[arg-type]
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--size", type=int, default=640, help="the face's picture, pixels square")
    parser.add_argument("--seed", type=int, default=2026, help="for the frames' shifts and noise")
    args = parser.parse_args()
    tolerance, rng = args.tolerance, np.random.default_rng(args.seed)
    with ModelPage() as model:

        def pose(image: np.ndarray) -> PoseSummary:
            frames = held(close_up(image, args.size), FRAMES, rng)
            return summarise([Frame(*model.look(data_url(frame))[1]) for frame in frames])

        rest = pose(photograph())
        print(f"rest: right eye opening {rest.right:.3f}, left {rest.left:.3f} (median of {FRAMES} frames)")
        print(
            f"{'eye':5} {'factor':>6} {'turn':>5} {'light':>6} {'measured':>8} {'miss':>6} {'other eye':>9} {'miss':>6}"
        )
        misses = 0
        for eye in ("right", "left"):
            other = "left" if eye == "right" else "right"
            for factor in FACTORS:
                for degrees, light in CONDITIONS:
                    frame = pose(turned(narrowed(eye, factor), degrees, light))
                    ratio = getattr(frame, eye) / getattr(rest, eye)
                    steady = getattr(frame, other) / getattr(rest, other)
                    miss, other_miss = abs(ratio - factor), abs(steady - 1)
                    bad = miss > tolerance or other_miss > tolerance
                    misses += bad
                    print(
                        f"{eye:5} {factor:6.2f} {degrees:5.0f} {light:+6.2f} {ratio:8.3f} {miss:6.3f} "
                        f"{steady:9.3f} {other_miss:6.3f}{'  MISS' if bad else ''}"
                    )
    rows = 2 * len(FACTORS) * len(CONDITIONS)
    print(f"{rows - misses} of {rows} rows within {tolerance}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
