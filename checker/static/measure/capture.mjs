// The camera check's page: guided capture of rest, smile and pucker, in the patient's browser.
// The video goes no further than this page; the form sends only each held frame's numbers.

import { POSES, summarise } from "./narrowing.mjs";
import { HOLD_MS, MIN_FRAMES, fault, posed, rounded, steady, thinned } from "./poses.mjs";
import { loadFaceMesh, lookAt } from "./landmarks.mjs";

const HINT_AFTER_MS = 6000; // a pose not seen this long: say how to do it
const GIVE_UP_AFTER_MS = 30000; // a pose not held this long: offer to try again or skip
const LOAD_WITHIN_MS = 60000; // the model not ready by then: the check cannot run here
const GRACE_MS = 600; // frames left out for longer than this start a hold again

const within = (promise, ms) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), ms))]);

const form = document.getElementById("camera-form");
if (form) setUp(form);

function setUp(form) {
  const $ = (id) => document.getElementById(id);
  const start = $("camera-start");
  const stop = $("camera-stop");
  const box = $("camera");
  const video = $("camera-video");
  const prompt = $("camera-prompt");
  const step = $("camera-step");
  const bar = $("camera-hold");
  const words = {};
  document.querySelectorAll("#camera-messages [data-key]").forEach((item) => {
    words[item.dataset.key] = item.textContent.trim();
  });
  const still = document.createElement("canvas"); // each frame, for the model and the lids; never shown or sent
  let model = null;
  let stream = null;
  let running = false;
  let said = "";

  const say = (key) => {
    if (said !== key) prompt.textContent = words[key];
    said = key;
  };
  const stopCamera = () => {
    running = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
  };
  const endWith = (key, again) => {
    stopCamera();
    say(key);
    stop.hidden = true;
    start.hidden = !again;
    start.textContent = words.again;
    bar.value = 0;
    step.textContent = "";
    prompt.focus();
  };
  const nextFrame = () =>
    new Promise((resolve) => {
      if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => resolve());
      else requestAnimationFrame(() => resolve());
    });

  async function hold(pose, restMouth, rejected) {
    const began = performance.now();
    let frames = [];
    let since = 0;
    let lastKept = 0;
    let previous = null;
    while (running) {
      await nextFrame();
      if (!running) return null;
      const now = performance.now();
      if (now - began > GIVE_UP_AFTER_MS) return null;
      const { points, frame } = await lookAt(model, video, video.videoWidth, video.videoHeight, still);
      let why = fault(points, frame, previous, video.videoWidth);
      if (!why && !posed(pose, frame, restMouth)) why = "unposed";
      if (!why && !steady(frame, frames)) why = "moving"; // the expression changed mid-hold
      previous = points;
      if (why) {
        if (why !== "unposed") rejected[why] = (rejected[why] || 0) + 1;
        // A frame left out now and then does not break the hold; a moment of them starts it again.
        if (now - lastKept > GRACE_MS || !frames.length) {
          frames = [];
          bar.value = 0;
          say(why !== "unposed" ? why : now - began > HINT_AFTER_MS ? `not_yet_${pose}` : pose);
        }
        continue;
      }
      if (!frames.length) since = now;
      lastKept = now;
      frames.push(rounded(frame));
      say("hold");
      bar.value = Math.min(1, (now - since) / HOLD_MS);
      if (now - since >= HOLD_MS && frames.length >= MIN_FRAMES) return thinned(frames);
    }
    return null;
  }

  async function run() {
    const side = form.querySelector("input[name='side']:checked");
    if (!side) {
      markSideMissing();
      return;
    }
    start.hidden = true;
    stop.hidden = false;
    box.hidden = false;
    box.scrollIntoView({ block: "start" }); // on a phone the picture and the prompt, not the instructions
    running = true;
    try {
      say("loading");
      model = model || (await within(loadFaceMesh(form.dataset.model), LOAD_WITHIN_MS));
    } catch (error) {
      endWith("failed", false);
      return;
    }
    try {
      say("allow");
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
      video.srcObject = stream;
      await video.play();
    } catch (error) {
      endWith("refused", false);
      return;
    }
    if (!running) return;
    const poses = {};
    const rejected = {};
    let restMouth = 0;
    for (const [number, pose] of POSES.entries()) {
      step.textContent = words[`step${number + 1}`];
      say(pose);
      const frames = await hold(pose, restMouth, rejected);
      if (!frames) {
        if (running) endWith("gave_up", true);
        return;
      }
      poses[pose] = frames;
      if (pose === "rest") restMouth = summarise(frames).mouth;
    }
    stopCamera();
    say("done");
    form.elements.measure.value = JSON.stringify({ poses, rejected });
    form.submit();
  }

  // The side of weakness is needed first: said at the question, as the server says its errors.
  function markSideMissing() {
    const first = form.querySelector("input[name='side']");
    const fieldset = first.closest("fieldset");
    if (!document.getElementById("side-error")) {
      const message = document.createElement("p");
      message.className = "error-message";
      message.id = "side-error";
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = `${words.error} `;
      message.append(hidden, words.side);
      fieldset.querySelector("legend").after(message);
      fieldset.setAttribute("aria-describedby", "side-error");
      fieldset.closest(".field").classList.add("field--error");
    }
    first.focus();
  }

  start.hidden = false;
  start.addEventListener("click", () =>
    run().catch(() => {
      if (running) endWith("failed", false);
    }),
  );
  stop.addEventListener("click", () => {
    stopCamera();
    stop.hidden = true;
    start.hidden = false;
    box.hidden = true;
    start.focus();
  });
  window.addEventListener("pagehide", stopCamera);
}
