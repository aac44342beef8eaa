// Whether a frame can be kept for a pose: pure, so node's test runner checks it (tests/measure).
// A frame is [right, left, mouth, yaw, roll] (see eyes.mjs).

import { NOSE_TIP, OUTER_CORNERS } from "./eyes.mjs";

export const HOLD_MS = 2000; // each pose held about two seconds
export const MIN_FRAMES = 5; // as checker/measure/narrowing.py asks
export const MAX_FRAMES = 90;
export const LIMITS = {
  turn: 12, // degrees of yaw or roll
  moving: 0.06, // of the distance between the outer eye corners, from one frame to the next
  near: 0.1, // that distance, as a share of the picture's width, at the least
  smile: 1.06, // the mouth at least this much wider than at rest
  pucker: 0.94, // and at most this much as wide
  steady: 0.1, // while a pose is held, the mouth's width stays this close to its first frame's
};

const spanOf = (points) =>
  Math.hypot(points[OUTER_CORNERS[0]][0] - points[OUTER_CORNERS[1]][0], points[OUTER_CORNERS[0]][1] - points[OUTER_CORNERS[1]][1]);

/** Why a frame cannot be used ("no_face", "far", "turned", "moving"), or null when it can. */
export function fault(points, frame, previous, width) {
  if (!points) return "no_face";
  const span = spanOf(points);
  if (span < LIMITS.near * width) return "far";
  if (Math.abs(frame[3]) > LIMITS.turn || Math.abs(frame[4]) > LIMITS.turn) return "turned";
  if (previous) {
    const moved = Math.hypot(points[NOSE_TIP][0] - previous[NOSE_TIP][0], points[NOSE_TIP][1] - previous[NOSE_TIP][1]);
    if (moved > LIMITS.moving * span) return "moving";
  }
  return null;
}

/** Whether `frame` shows `pose`, judged by the mouth's width against its median at rest. */
export function posed(pose, frame, restMouth) {
  if (pose === "smile") return frame[2] >= restMouth * LIMITS.smile;
  if (pose === "pucker") return frame[2] <= restMouth * LIMITS.pucker;
  return true;
}

/** Whether `frame` keeps the expression of the hold so far (`held`, its frames): a face that
 * changes expression mid-hold (a smile coming or going) starts the hold again. */
export function steady(frame, held) {
  return !held.length || Math.abs(frame[2] / held[0][2] - 1) <= LIMITS.steady;
}

/** At most MAX_FRAMES of `frames`, spread evenly over the hold. */
export function thinned(frames) {
  if (frames.length <= MAX_FRAMES) return frames;
  return Array.from({ length: MAX_FRAMES }, (_, i) => frames[Math.floor((i * frames.length) / MAX_FRAMES)]);
}

/** A frame's numbers as sent: four decimals (a tenth of a degree for the turns). */
export function rounded(frame) {
  return frame.map((value, i) => (i < 3 ? Math.round(value * 1e4) / 1e4 : Math.round(value * 10) / 10));
}
