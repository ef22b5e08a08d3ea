// kavan serve: send a dropped or picked file to /api/predict and show the overlay, the 17 bars and the quadrant.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;      // /api/info: emotions, quadrant colours, limits, model record
let latest = 0;       // number of the latest upload; answers to older ones are ignored

function megabytes(n) {
  return (n / 1e6).toFixed(1) + " MB";
}

function showError(message) {
  $("status").textContent = "";
  $("result").hidden = true;
  $("error").textContent = message;
  $("error").hidden = false;
}

function bar(name, value) {
  const row = document.createElement("div");
  row.className = "bar";
  row.dataset.emotion = name;
  row.dataset.value = String(value);
  const label = document.createElement("span");
  label.className = "name";
  label.textContent = name;
  const track = document.createElement("div");
  track.className = "track";
  const fill = document.createElement("div");
  fill.className = "fill";
  fill.style.width = (100 * value).toFixed(1) + "%";
  fill.style.background = info.quadrant_colours[info.emotion_quadrant[name]];
  track.appendChild(fill);
  const number = document.createElement("span");
  number.className = "value";
  number.textContent = value.toFixed(3);
  row.append(label, track, number);
  return row;
}

function showResult(name, answer) {
  const prediction = answer.prediction;
  $("error").hidden = true;
  $("status").textContent = "";
  const overlay = $("overlay");
  if (answer.overlay) {
    overlay.src = answer.overlay;
    overlay.hidden = false;
  } else {
    overlay.removeAttribute("src");
    overlay.hidden = true;
  }
  const quadrant = prediction.quadrant;
  $("quadrant").textContent = quadrant.label;
  $("quadrant").style.color = info.quadrant_colours[quadrant.label];
  $("quadrant-p").textContent = quadrant.probabilities ? "(p = " + quadrant.probabilities[quadrant.label].toFixed(2) + ")" : "";
  $("top").textContent = prediction.top.map(([emotion, score]) => emotion + " " + score.toFixed(2)).join(", ");
  const bars = $("bars");
  bars.replaceChildren(...info.emotions.map((emotion) => bar(emotion, prediction.emotions[emotion])));
  $("result").dataset.file = name;
  $("result").hidden = false;
}

async function upload(file) {
  const number = ++latest;
  $("error").hidden = true;
  if (file.size > info.max_upload_bytes) {
    showError(file.name + ": " + megabytes(file.size) + " is over the upload limit of " + megabytes(info.max_upload_bytes));
    return;
  }
  if (file.size === 0) {
    showError(file.name + ": empty file");
    return;
  }
  $("status").textContent = "Predicting " + file.name + " …";
  let answer;
  let ok = false;
  try {
    const response = await fetch("/api/predict", {
      method: "POST",
      headers: {"Content-Type": "application/octet-stream", "X-Filename": encodeURIComponent(file.name)},
      body: file,
    });
    ok = response.ok;
    answer = await response.json();
  } catch (err) {
    answer = {error: file.name + ": the server did not answer (" + err.message + ")"};
  }
  if (number !== latest) {
    return;
  }
  if (ok) {
    showResult(file.name, answer);
  } else {
    showError(answer.error || file.name + ": the upload failed");
  }
}

function describeModel(model) {
  const dataset = (model.trained_on && model.trained_on.dataset) || {};
  return "Model: " + model.checkpoint + " · trained on " + (dataset.name || "an unrecorded dataset") +
    " · config " + model.config_hash.slice(0, 12);
}

async function start() {
  info = await (await fetch("/api/info")).json();
  $("limits").textContent = info.accepted + ", up to " + megabytes(info.max_upload_bytes);
  $("model").textContent = describeModel(info.model);
  if (info.notice) {
    $("notice").textContent = "Note: " + info.notice + ".";
    $("notice").hidden = false;
  }
  $("legend").replaceChildren(...info.quadrants.map((quadrant) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.style.background = info.quadrant_colours[quadrant];
    item.append(swatch, quadrant);
    return item;
  }));
  const input = $("file");
  input.addEventListener("change", () => {
    if (input.files.length) {
      upload(input.files[0]);
    }
    input.value = "";
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) {
      upload(event.dataTransfer.files[0]);
    }
  });
  document.body.dataset.ready = "true";
}

start().catch((err) => showError("Cannot reach the kavan server: " + err.message));
