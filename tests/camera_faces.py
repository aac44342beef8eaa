"""Faces with a known eye narrowing, for checking the camera measure from end to end.

A real photograph shipped inside scikit-image (``data.astronaut()``: Eileen Collins, a NASA
portrait in the public domain) with one eye squeezed vertically by a known factor, the whole
image turned and its brightness shifted. The squeeze scales the lids' distance from the eye's
centre exactly inside a box round the eye and fades to nothing outside it, so the eye's
opening becomes ``factor`` times what it was and nothing else in the face moves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import data, transform

# The eyes' centres in the 512 x 512 photograph, from the face mesh's corners and lids
# (the person's right eye is on the image's left).
EYES = {"right": (204.0, 101.5), "left": (246.5, 104.0)}
MOUTH = (223.5, 144.0)
FACE = (225.0, 130.0)  # the middle of the face: pictures turn about it
CLOSE_UP = (slice(40, 300), slice(95, 355))  # the face and some background, 260 pixels square
CORE = (13.0, 8.0)  # half width and half height of the box scaled exactly
FADE = 9.0  # then back to no change over this many pixels


def photograph() -> np.ndarray:
    """The portrait as floats from 0 to 1, height x width x 3."""
    return np.asarray(data.astronaut(), dtype=float) / 255


def _weight(offset: np.ndarray, core: float) -> np.ndarray:
    """1 inside ``core``, falling smoothly to 0 at ``core + FADE``."""
    t = np.clip((np.abs(offset) - core) / FADE, 0, 1)
    return 1 - t * t * (3 - 2 * t)


def squeeze(
    image: np.ndarray, centre: tuple[float, float], factor: float, axis: int, core: tuple[float, float] = CORE
) -> np.ndarray:
    """``image`` with the box round ``centre`` scaled by ``factor`` along ``axis`` (0: up and down,
    1: across) about its centre."""
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(float)
    cx, cy = centre
    weight = _weight(cols - cx, core[0]) * _weight(rows - cy, core[1])
    if axis == 0:
        rows = rows + (rows - cy) * (1 / factor - 1) * weight
    else:
        cols = cols + (cols - cx) * (1 / factor - 1) * weight
    return np.stack(
        [ndimage.map_coordinates(image[..., c], [rows, cols], order=3, mode="nearest") for c in range(3)], axis=-1
    ).clip(0, 1)


def narrowed(eye: str, factor: float, image: np.ndarray | None = None) -> np.ndarray:
    """The portrait with ``eye`` ("right" or "left") opened only ``factor`` as wide."""
    return squeeze(photograph() if image is None else image, EYES[eye], factor, axis=0)


def smiling(image: np.ndarray, widen: float = 1.25) -> np.ndarray:
    """The mouth widened, as in a smile (the camera check waits for the mouth to move)."""
    return squeeze(image, MOUTH, widen, axis=1, core=(30.0, 12.0))


def puckered(image: np.ndarray, narrow: float = 0.75) -> np.ndarray:
    """The mouth narrowed, as in a pucker."""
    return squeeze(image, MOUTH, narrow, axis=1, core=(30.0, 12.0))


def turned(image: np.ndarray, degrees: float = 0.0, brightness: float = 0.0) -> np.ndarray:
    """``image`` rotated about the face's middle and made lighter (or darker) by ``brightness`` (0 to 1)."""
    rotated = transform.rotate(image, degrees, mode="edge", order=3, center=FACE) if degrees else image
    return np.clip(rotated + brightness, 0, 1)


def close_up(image: np.ndarray, size: int = 640) -> np.ndarray:
    """The face, enlarged to ``size`` pixels square: about as a phone held at arm's length sees one
    (the portrait's face is only about 100 pixels wide)."""
    return np.clip(transform.resize(image[CLOSE_UP], (size, size), order=3), 0, 1)


def held(image: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` frames of a face held still before a camera: each shifted a pixel or two, with
    the sensor's noise."""
    frames = []
    for _ in range(count):
        dy, dx = rng.integers(-2, 3, 2)
        noisy = np.roll(image, (int(dy), int(dx)), (0, 1)) + rng.normal(0, 0.01, image.shape)
        frames.append(np.clip(noisy, 0, 1))
    return frames


# A person whose left eye closes to 65% of its opening at rest on a smile and on a pucker (their
# right eye to 90% on the smile, as eyes without synkinesis do), for the fake camera.
WEAK = "left"
CLOSED_TO = {"smile": {"left": 0.65, "right": 0.9}, "pucker": {"left": 0.65, "right": 1.0}}
# The video's parts. Chromium's fake camera plays it from the start each time the page opens the
# camera, and again and again: rest lasts long enough for a slow machine to find the face first.
SECONDS = {"rest": 12, "smile": 6, "pucker": 6}


def posed_face(pose: str, size: int = 480) -> np.ndarray:
    """The close-up at ``pose`` ("rest", "smile" or "pucker") with the narrowing of ``CLOSED_TO``."""
    image = photograph()
    if pose != "rest":
        for eye, factor in CLOSED_TO[pose].items():
            if factor != 1.0:
                image = narrowed(eye, factor, image)
        image = smiling(image) if pose == "smile" else puckered(image)
    return close_up(image, size=size)


def fake_camera_video(path: Path, fps: int = 4) -> Path:
    """A video for Chromium's fake camera: rest, then the smile, then the pucker, each held."""
    rng = np.random.default_rng(29)
    frames = [frame for pose, seconds in SECONDS.items() for frame in held(posed_face(pose), seconds * fps, rng)]
    write_y4m(path, frames, fps=fps)
    return path


def to_bytes(image: np.ndarray) -> np.ndarray:
    return np.asarray(np.round(image * 255), dtype=np.uint8)


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> None:
    """Frames (floats, RGB) as an uncompressed 4:2:0 YUV4MPEG2 file, which Chromium's fake camera
    plays (and plays again from the start when it reaches the end)."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            r, g, b = (frame[..., c] * 255 for c in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
            half = (slice(None, None, 2), slice(None, None, 2))
            planes = [y, _quarter(u)[half[0], half[1]], _quarter(v)[half[0], half[1]]]
            out.write(b"FRAME\n")
            for plane in planes:
                out.write(np.clip(np.round(plane), 0, 255).astype(np.uint8).tobytes())


def _quarter(plane: np.ndarray) -> np.ndarray:
    """Each 2 x 2 block's mean, at its top left corner (chroma for 4:2:0)."""
    return (plane + np.roll(plane, -1, 0) + np.roll(plane, -1, 1) + np.roll(np.roll(plane, -1, 0), -1, 1)) / 4
