// kavan label: ask /api/next for a question, show the two GIFs, send the answer to /api/vote, undo with /api/undo.
// The DOM is built with textContent and attributes only: ids and file names are never read as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
const TICKET_KEY = "kavan-label-ticket";   // per tab (sessionStorage): a reloaded tab keeps its question
const NAME_KEY = "kavan-label-annotator";  // per browser (localStorage): asked once
const ANSWERED_KEY = "kavan-label-answered";  // per tab: tickets of this tab's votes, newest last (what undo takes)
const ANSWERED_KEPT = 50;
let annotator = null;
let question = null;
let sending = false;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function withToken(url) {
  return token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
}

async function call(method, url, body) {
  const headers = {"Content-Type": "application/json"};
  if (token) {
    headers["X-Kavan-Token"] = token;
  }
  const response = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  let answer = {};
  try {
    answer = await response.json();
  } catch (err) {
    answer = {error: "the server sent no JSON (" + response.status + ")"};
  }
  return {ok: response.ok, status: response.status, answer};
}

function showStatus(status) {
  $("votes").textContent = String(status.votes);
  $("mine").textContent = String(status.annotator_votes);
  $("uncertainty").textContent = status.uncertainty.toFixed(3);
  $("dataset").textContent = status.dataset + ": " + status.gifs + " GIFs, " + status.emotions.length +
    " emotion(s), " + status.pairing + " pairing";
  document.body.dataset.votes = String(status.votes);
}

function media(url, id) {
  const isVideo = /\.(mp4|webm)$/i.test(url);
  const element = document.createElement(isVideo ? "video" : "img");
  element.src = withToken(url);
  if (isVideo) {
    element.autoplay = true;
    element.loop = true;
    element.muted = true;
    element.playsInline = true;
  } else {
    element.alt = "GIF " + id;
  }
  return element;
}

function showQuestion(next) {
  question = next;
  sessionStorage.setItem(TICKET_KEY, next.ticket);
  $("emotion").textContent = next.emotion;
  for (const [side, id, url] of [["left", next.gif_a, next.media_a], ["right", next.gif_b, next.media_b]]) {
    const figure = $(side);
    figure.querySelector(".frame").replaceChildren(media(url, id));
    figure.querySelector("figcaption").textContent = id;
  }
  const pair = $("pair");
  pair.dataset.ticket = next.ticket;
  pair.dataset.gifA = next.gif_a;
  pair.dataset.gifB = next.gif_b;
  pair.dataset.emotion = next.emotion;
  $("error").hidden = true;
}

function answered() {
  try {
    const list = JSON.parse(sessionStorage.getItem(ANSWERED_KEY) || "[]");
    return Array.isArray(list) ? list : [];
  } catch (err) {
    return [];
  }
}

function keepAnswered(list) {
  sessionStorage.setItem(ANSWERED_KEY, JSON.stringify(list.slice(-ANSWERED_KEPT)));
}

async function loadNext() {
  const ticket = sessionStorage.getItem(TICKET_KEY) || "";
  const url = "/api/next?annotator=" + encodeURIComponent(annotator) + "&ticket=" + encodeURIComponent(ticket);
  const {ok, answer} = await call("GET", url);
  if (!ok) {
    showError(answer.error || "no question could be loaded");
    return;
  }
  showQuestion(answer);
  showStatus(answer.status);
}

async function vote(winner) {
  if (sending || !question) {
    return;
  }
  sending = true;
  try {
    const {ok, status, answer} = await call("POST", "/api/vote", {
      gif_a: question.gif_a, gif_b: question.gif_b, emotion: question.emotion, winner, annotator,
      ticket: question.ticket,
    });
    if (ok) {
      keepAnswered([...answered(), question.ticket]);
      showStatus(answer.status);
    } else if (status !== 409) {
      showError(answer.error || "the vote was not recorded");
      return;
    }
    sessionStorage.removeItem(TICKET_KEY);
    await loadNext();
  } catch (err) {
    showError("The vote may not have been recorded (" + err.message + "); try again.");
  } finally {
    sending = false;
  }
}

async function undo() {
  if (sending) {
    return;
  }
  sending = true;
  try {
    const mine = answered();
    if (mine.length === 0) {
      showError("This tab has no vote to undo.");
      return;
    }
    const {ok, status, answer} = await call("POST", "/api/undo", {
      annotator, ticket: mine[mine.length - 1], current: question ? question.ticket : null,
    });
    if (!ok) {
      if (status === 409) {
        keepAnswered(mine.slice(0, -1));  // that vote cannot be undone from here any more
      }
      showError(answer.error || "nothing was undone");
      return;
    }
    keepAnswered(mine.slice(0, -1));
    showQuestion(answer.next);
    showStatus(answer.status);
  } catch (err) {
    showError("Undo failed (" + err.message + ")");
  } finally {
    sending = false;
  }
}

function onKey(event) {
  if (event.target instanceof HTMLInputElement || event.altKey || event.metaKey || $("main").hidden) {
    return;
  }
  const winners = {ArrowLeft: "a", "1": "a", ArrowRight: "b", "2": "b", ArrowDown: "neither", "3": "neither"};
  if (event.key in winners && !event.ctrlKey) {
    event.preventDefault();
    vote(winners[event.key]);
  } else if (event.key === "u" || event.key === "U" || (event.ctrlKey && event.key === "z")) {
    event.preventDefault();
    undo();
  }
}

async function begin(name) {
  annotator = name;
  $("annotator").textContent = name;
  $("name-form").hidden = true;
  $("main").hidden = false;
  await loadNext();
  document.body.dataset.ready = "true";
}

async function start() {
  const {ok, answer} = await call("GET", "/api/status");
  if (!ok) {
    showError(answer.error || "cannot reach the kavan label server");
    return;
  }
  showStatus(answer);
  for (const button of document.querySelectorAll("button[data-winner]")) {
    button.addEventListener("click", () => vote(button.dataset.winner));
  }
  $("undo").addEventListener("click", undo);
  document.addEventListener("keydown", onKey);
  const name = answer.annotator || localStorage.getItem(NAME_KEY);
  if (name) {
    await begin(name);
    return;
  }
  $("name-form").hidden = false;
  $("name").focus();
  $("name-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = $("name").value.trim();
    if (typed) {
      localStorage.setItem(NAME_KEY, typed);
      begin(typed);
    }
  });
}

start().catch((err) => showError("Cannot reach the kavan label server: " + err.message));
