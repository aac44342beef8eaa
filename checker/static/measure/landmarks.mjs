// The face landmark model, from this site only: MediaPipe Face Mesh's files are served by the app
// (installed from npm by scripts/setup) and nothing is fetched from anywhere else.

import { bilinear, frameOf, luminance } from "./eyes.mjs";

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

/**
 * Load the model from `base` (a folder on this site, ending in "/"). Its `detect(source, width,
 * height)` finds one face in a video, canvas or image and gives its landmarks in pixels, or null.
 */
export async function loadFaceMesh(base, refine = true) {
  if (!window.FaceMesh) await loadScript(`${base}face_mesh.js`);
  const mesh = new window.FaceMesh({ locateFile: (file) => `${base}${file}` });
  mesh.setOptions({
    maxNumFaces: 1,
    refineLandmarks: refine, // the eyes' outline refined: the lids are what is measured
    minDetectionConfidence: 0.5,
    minTrackingConfidence: 0.5,
    selfieMode: false,
  });
  let latest = null;
  mesh.onResults((results) => {
    latest = results;
  });
  await mesh.initialize();
  return {
    async detect(source, width, height) {
      latest = null;
      await mesh.send({ image: source });
      const face = latest && latest.multiFaceLandmarks && latest.multiFaceLandmarks[0];
      return face ? face.map((point) => [point.x * width, point.y * height]) : null;
    },
    reset: () => mesh.reset(),
    close: () => mesh.close(),
  };
}

/**
 * One frame of `source` (a video or image, `width` x `height`), copied onto `canvas` so that the
 * model and the lids' brightness see the same picture: its landmarks and numbers, or nulls when no
 * face is found. The picture stays in this page.
 */
export async function lookAt(model, source, width, height, canvas) {
  if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, 0, 0, width, height);
  const points = await model.detect(canvas, width, height);
  if (!points) return { points: null, frame: null };
  const brightness = bilinear(luminance(context.getImageData(0, 0, width, height)), width, height);
  return { points, frame: frameOf(points, brightness) };
}
