// The camera check's arithmetic in the browser, held to the same results as Python's
// (tests/test_measure.py reads the same fixtures). Run: node --test tests/measure/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { STEPS, bilinear, frameOf, lidGap, luminance } from "../../checker/static/measure/eyes.mjs";
import { median, narrowing, spread, summarise } from "../../checker/static/measure/narrowing.mjs";
import { LIMITS, MAX_FRAMES, fault, posed, rounded, steady, thinned } from "../../checker/static/measure/poses.mjs";

const fixtures = JSON.parse(readFileSync(new URL("./fixtures.json", import.meta.url)));
const close = (actual, expected, what) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

test("a frame's numbers from landmarks and brightness are Python's", () => {
  for (const { name, landmarks, picture, frame } of fixtures.landmarks) {
    const points = [];
    for (const [index, point] of Object.entries(landmarks)) points[Number(index)] = point;
    const brightness = bilinear(picture.brightness, picture.width, picture.height);
    frameOf(points, brightness).forEach((value, i) => close(value, frame[i], `${name}[${i}]`));
  }
});

// A lid gap's profile: skin (1) above and below, an eye (dark) of `gap` samples between.
function eyeProfile(gap, skin = 1, eye = 0.1) {
  const reach = Math.round(STEPS * 1.5);
  return Array.from({ length: 2 * reach + 1 }, (_, i) => (Math.abs(i - reach) <= gap / 2 ? eye : skin));
}

test("the lid margins are where the brightness rises from the eye to the skin", () => {
  // Each margin is MARGIN_LEVEL (0.7) of a sample beyond the eye's outermost dark sample.
  assert.ok(Math.abs(lidGap(0.5, eyeProfile(STEPS)) - 0.5 * (STEPS + 1.4)) < 1e-9);
  assert.ok(Math.abs(lidGap(1, eyeProfile(24)) - 25.4) < 1e-9);
  const lit = eyeProfile(STEPS);
  lit[Math.floor(lit.length / 2) + 2] = 0.9; // a reflection in the pupil is inside the eye, not a lid
  assert.equal(lidGap(1, lit), lidGap(1, eyeProfile(STEPS)));
  assert.equal(lidGap(1, eyeProfile(STEPS, 0.5, 0.5)), 0); // no eye to be seen
});

test("brightness between pixels, and from a canvas's pixels", () => {
  const at = bilinear([0, 1, 2, 3], 2, 2);
  assert.equal(at(0.5, 0.5), 0);
  assert.equal(at(1, 1), 1.5);
  assert.equal(at(-5, 9), 2); // beyond the picture: the nearest edge
  const pixels = { data: new Uint8ClampedArray([255, 255, 255, 255, 0, 0, 0, 255]), width: 2, height: 1 };
  assert.deepEqual(Array.from(luminance(pixels)), [1, 0]);
});

test("each pose's summary and each eye's narrowing are Python's", () => {
  for (const [pose, frames] of Object.entries(fixtures.poses)) {
    const summary = summarise(frames);
    for (const [key, value] of Object.entries(fixtures.summaries[pose])) close(summary[key], value, `${pose}.${key}`);
  }
  for (const [pose, eyes] of Object.entries(fixtures.narrowing)) {
    for (const [eye, value] of Object.entries(eyes)) {
      close(narrowing(fixtures.summaries.rest[eye], fixtures.summaries[pose][eye]), value, `${pose}.${eye}`);
    }
  }
});

test("median and spread, odd and even", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(spread([1, 2, 3, 4, 100]), 1);
  const values = [5, 1, 4];
  median(values);
  assert.deepEqual(values, [5, 1, 4]);
});

function face(shift = 0, span = 200) {
  const points = [];
  points[33] = [100 + shift, 100];
  points[263] = [100 + span + shift, 100];
  points[1] = [100 + span / 2 + shift, 160];
  return points;
}

test("a frame is refused when no face, too far, turned or moving", () => {
  const still = [0.3, 0.3, 0.6, 0, 0];
  assert.equal(fault(null, null, null, 640), "no_face");
  assert.equal(fault(face(0, 40), still, null, 640), "far");
  assert.equal(fault(face(), [0.3, 0.3, 0.6, LIMITS.turn + 1, 0], null, 640), "turned");
  assert.equal(fault(face(), [0.3, 0.3, 0.6, 0, -LIMITS.turn - 1], null, 640), "turned");
  assert.equal(fault(face(20), still, face(), 640), "moving");
  assert.equal(fault(face(2), still, face(), 640), null);
});

test("a smile widens the mouth, a pucker narrows it", () => {
  assert.ok(posed("smile", [0, 0, 0.7, 0, 0], 0.6));
  assert.ok(!posed("smile", [0, 0, 0.61, 0, 0], 0.6));
  assert.ok(posed("pucker", [0, 0, 0.5, 0, 0], 0.6));
  assert.ok(!posed("pucker", [0, 0, 0.59, 0, 0], 0.6));
  assert.ok(posed("rest", [0, 0, 5, 0, 0], 0.6));
});

test("a long hold is thinned evenly; numbers are rounded as sent", () => {
  const frames = Array.from({ length: 200 }, (_, i) => [i]);
  const kept = thinned(frames);
  assert.equal(kept.length, MAX_FRAMES);
  assert.equal(kept[0][0], 0);
  assert.ok(kept[MAX_FRAMES - 1][0] >= 195);
  assert.equal(thinned(frames.slice(0, 10)).length, 10);
  assert.deepEqual(rounded([0.123456, 0.98765, 1.00004, 3.14159, -7.06]), [0.1235, 0.9877, 1, 3.1, -7.1]);
});

test("a hold starts again when the expression changes", () => {
  const held = [[0.3, 0.3, 0.6, 0, 0]];
  assert.ok(steady([0.3, 0.3, 0.65, 0, 0], held));
  assert.ok(!steady([0.3, 0.3, 0.67, 0, 0], held));
  assert.ok(!steady([0.3, 0.3, 0.53, 0, 0], held));
  assert.ok(steady([0.3, 0.3, 9, 0, 0], []));
});
