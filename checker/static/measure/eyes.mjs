// One video frame's numbers from MediaPipe's face mesh landmarks (pixel coordinates) and the
// frame's brightness. The same arithmetic as checker/measure/eyes.py (which says why the lids are
// found in the brightness); tests/measure/fixtures.json holds both to the same results. "Right"
// and "left" are the person's own: in an unmirrored image their right eye is on the image's left.

// Each eye: the upper and lower lid points above and below the pupil, and the iris's centre.
export const EYES = { right: [[159, 145], 468], left: [[386, 374], 473] };
export const OUTER_CORNERS = [33, 263];
export const MOUTH_CORNERS = [61, 291];
export const NOSE_TIP = 1;
export const FACE_SIDES = [234, 454];
export const MARGIN_LEVEL = 0.7; // where a lid is: this share of the way from the eye's darkest point to the skin
export const REACH = 1.0; // how far beyond each lid landmark to look for the skin, in lid gaps
export const STEPS = 40; // brightness samples a lid gap

const distance = (points, a, b) => Math.hypot(points[a][0] - points[b][0], points[a][1] - points[b][1]);
const degrees = (radians) => (radians * 180) / Math.PI;

/** The brightness along the line through `eye`'s pupil across its lids: [step in pixels, samples]. */
export function profile(points, eye, brightness) {
  const [[upper, lower], iris] = EYES[eye];
  const [x1, y1] = points[OUTER_CORNERS[0]];
  const [x2, y2] = points[OUTER_CORNERS[1]];
  const width = distance(points, ...OUTER_CORNERS);
  const across = [(x2 - x1) / width, (y2 - y1) / width];
  const down = [-across[1], across[0]];
  const [top, bottom, pupil] = [points[upper], points[lower], points[iris]];
  const middle = [(top[0] + bottom[0]) / 2, (top[1] + bottom[1]) / 2];
  const along = (pupil[0] - middle[0]) * across[0] + (pupil[1] - middle[1]) * across[1];
  const centre = [middle[0] + along * across[0], middle[1] + along * across[1]];
  const gap = Math.abs((bottom[0] - top[0]) * down[0] + (bottom[1] - top[1]) * down[1]);
  const step = gap / STEPS;
  const reach = Math.round(STEPS * (0.5 + REACH));
  const samples = [];
  for (let i = -reach; i <= reach; i++) samples.push(brightness(centre[0] + i * step * down[0], centre[1] + i * step * down[1]));
  return [step, samples];
}

const first = (values, best) => values.indexOf(best(...values));

/** The distance between the lid margins on a profile, in pixels (0 when it shows no eye). */
export function lidGap(step, samples) {
  const middle = Math.floor(samples.length / 2);
  const half = Math.floor(STEPS / 2);
  const darkest = middle - half + first(samples.slice(middle - half, middle + half + 1), Math.min);
  const above = first(samples.slice(0, darkest), Math.max);
  const below = darkest + first(samples.slice(darkest), Math.max);
  if (samples[above] <= samples[darkest] || samples[below] <= samples[darkest]) return 0;
  // Coming in from the skin towards the darkest point (below the level, so the walk stops before it).
  const margin = (start, way) => {
    const level = samples[darkest] + MARGIN_LEVEL * (samples[start] - samples[darkest]);
    let i = start;
    while (samples[i + way] >= level) i += way;
    const [here, there] = [samples[i], samples[i + way]];
    return i + (way * (here - level)) / (here - there);
  };
  return (margin(below, -1) - margin(above, 1)) * step;
}

/** How open `eye` is: the gap between its lid margins through the pupil over the distance between
 * the outer eye corners (as checker/measure/eyes.py says why). */
export function opening(points, eye, brightness) {
  const [step, samples] = profile(points, eye, brightness);
  return lidGap(step, samples) / distance(points, ...OUTER_CORNERS);
}

/** The mouth's corner-to-corner width over the distance between the outer eye corners. */
export function mouthWidth(points) {
  return distance(points, ...MOUTH_CORNERS) / distance(points, ...OUTER_CORNERS);
}

/** Approximate yaw and roll in degrees; [0, 0] faces the camera. */
export function headTurn(points) {
  const toRight = distance(points, NOSE_TIP, FACE_SIDES[0]);
  const toLeft = distance(points, NOSE_TIP, FACE_SIDES[1]);
  const share = (toRight - toLeft) / (toRight + toLeft);
  const yaw = degrees(Math.asin(Math.max(-1, Math.min(1, share))));
  const [x1, y1] = points[OUTER_CORNERS[0]];
  const [x2, y2] = points[OUTER_CORNERS[1]];
  return [yaw, degrees(Math.atan2(y2 - y1, x2 - x1))];
}

/** All of one frame's numbers: [right, left, mouth, yaw, roll]. */
export function frameOf(points, brightness) {
  return [opening(points, "right", brightness), opening(points, "left", brightness), mouthWidth(points), ...headTurn(points)];
}

/** A picture's brightness between its pixels, from `values` row by row (each pixel's value at its
 * centre; beyond the outermost centres, the nearest edge's). At least 2 x 2 pixels. */
export function bilinear(values, width, height) {
  return (px, py) => {
    const x = Math.min(Math.max(px - 0.5, 0), width - 1);
    const y = Math.min(Math.max(py - 0.5, 0), height - 1);
    const left = Math.min(Math.trunc(x), width - 2);
    const top = Math.min(Math.trunc(y), height - 2);
    const [dx, dy] = [x - left, y - top];
    const [row, below] = [top * width + left, (top + 1) * width + left];
    const upper = values[row] * (1 - dx) + values[row + 1] * dx;
    const lower = values[below] * (1 - dx) + values[below + 1] * dx;
    return upper * (1 - dy) + lower * dy;
  };
}

/** A canvas's pixels (ImageData) as brightness from 0 to 1, for `bilinear`. */
export function luminance({ data, width, height }) {
  const values = new Float64Array(width * height);
  for (let i = 0; i < values.length; i++) values[i] = (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255;
  return values;
}
