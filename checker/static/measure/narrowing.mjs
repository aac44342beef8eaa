// From held frames to the figures kept: the same arithmetic as checker/measure/narrowing.py.
// A frame is [right, left, mouth, yaw, roll] (see eyes.mjs).

export const POSES = ["rest", "smile", "pucker"];

export function median(values) {
  const ordered = [...values].sort((a, b) => a - b);
  const middle = Math.floor(ordered.length / 2);
  return ordered.length % 2 ? ordered[middle] : (ordered[middle - 1] + ordered[middle]) / 2;
}

/** The median absolute deviation from the median. */
export function spread(values) {
  const centre = median(values);
  return median(values.map((value) => Math.abs(value - centre)));
}

/** One pose's frames summed up, in the order of Python's PoseSummary. */
export function summarise(frames) {
  const column = (i) => frames.map((frame) => frame[i]);
  return {
    right: median(column(0)),
    left: median(column(1)),
    right_spread: spread(column(0)),
    left_spread: spread(column(1)),
    mouth: median(column(2)),
    yaw: Math.max(...column(3).map(Math.abs)),
    roll: Math.max(...column(4).map(Math.abs)),
    frames: frames.length,
  };
}

/** How much an eye closed from rest: 0.25 is a quarter; negative means it opened wider. */
export function narrowing(rest, pose) {
  return 1 - pose / rest;
}
