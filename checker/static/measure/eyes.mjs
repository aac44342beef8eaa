// One video frame's numbers from MediaPipe's face mesh landmarks (pixel coordinates).
// The same arithmetic as checker/measure/eyes.py; tests/measure/fixtures.json holds both to the
// same results. "Right" and "left" are the person's own: in an unmirrored image their right eye
// is on the image's left.

// Each eye: its two corners, then upper and lower lid points facing each other.
export const EYES = {
  right: [[33, 133], [[160, 144], [159, 145], [158, 153]]],
  left: [[362, 263], [[385, 380], [386, 374], [387, 373]]],
};
export const OUTER_CORNERS = [33, 263];
export const MOUTH_CORNERS = [61, 291];
export const NOSE_TIP = 1;
export const FACE_SIDES = [234, 454];

const distance = (points, a, b) => Math.hypot(points[a][0] - points[b][0], points[a][1] - points[b][1]);
const degrees = (radians) => (radians * 180) / Math.PI;

/** How open `eye` is: the mean gap between facing lid points over the distance between the outer
 * eye corners (as checker/measure/eyes.py says why). */
export function opening(points, eye) {
  const lids = EYES[eye][1];
  const gap = lids.reduce((sum, [upper, lower]) => sum + distance(points, upper, lower), 0) / lids.length;
  return gap / distance(points, ...OUTER_CORNERS);
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
export function frameOf(points) {
  return [opening(points, "right"), opening(points, "left"), mouthWidth(points), ...headTurn(points)];
}
