// paperwire: progressive enhancement only — every feature works without this file.
"use strict";

function renderMath() {
  if (typeof window.renderMathInElement !== "function") return;
  document.querySelectorAll("[data-math]").forEach((el) => {
    window.renderMathInElement(el, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "\\[", right: "\\]", display: true },
        { left: "$", right: "$", display: false },
        { left: "\\(", right: "\\)", display: false },
      ],
      ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "button"],
      throwOnError: false,
      trust: false,
    });
  });
}

async function submitVote(event) {
  const form = event.target.closest("form[data-vote]");
  if (!form) return;
  event.preventDefault();
  const button = form.querySelector("button");
  if (!setBusy(button, true)) return;
  try {
    const response = await fetch(form.getAttribute("action"), {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401) {
      const body = await response.json();
      window.location.href = body.login;
      return;
    }
    if (!response.ok) { form.submit(); return; }
    const body = await response.json();
    const action = form.querySelector("input[name=action]");
    action.value = body.voted ? "down" : "up";
    button.classList.toggle("voted", body.voted);
    button.setAttribute("aria-pressed", body.voted ? "true" : "false");
    button.querySelector(".count").textContent = body.upvotes;
  } finally {
    setBusy(button, false);
  }
}

// Mark `button` busy while its request runs (false when it already was). Not `disabled`:
// a browser takes keyboard focus away from a button that is disabled, and the reader's
// next Enter or Space then went nowhere.
function setBusy(button, busy) {
  if (busy && button.getAttribute("aria-disabled") === "true") return false;
  if (busy) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
  return true;
}

// Say `text` to screen readers through the page's status region.
function announce(text) {
  const region = document.getElementById("announce");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

function copyBibtex(event) {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent;
  const done = () => { button.textContent = "Copied!"; setTimeout(() => { button.textContent = "Copy BibTeX"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectText(button.dataset.copy));
  } else {
    selectText(button.dataset.copy);
    try { document.execCommand("copy"); done(); } catch (e) { /* text stays selected */ }
  }
}

function selectText(id) {
  const range = document.createRange();
  range.selectNodeContents(document.getElementById(id));
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// The reader's library: save / thumbs buttons (form[data-library]) and author follow
// buttons (form[data-follow]) post with fetch and update in place; a thumbs-down on a list
// removes the paper's card. Without JavaScript the same forms post and redirect back.
function submitNatively(form, submitter) {
  // what the button would have sent, then a plain post: the server's page explains errors
  if (submitter && submitter.name) {
    const field = document.createElement("input");
    field.type = "hidden";
    field.name = submitter.name;
    field.value = submitter.value;
    form.append(field);
  }
  form.submit();
}

async function postForm(form, data, submitter) {
  const response = await fetch(form.getAttribute("action"), {
    method: "POST",
    body: data,
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  if (response.status === 401) {
    window.location.href = (await response.json()).login;
    return null;
  }
  if (!response.ok) { submitNatively(form, submitter); return null; }
  return response.json();
}

function setPressed(button, pressed, value, text) {
  button.setAttribute("aria-pressed", pressed ? "true" : "false");
  button.value = value;
  if (text !== undefined) button.textContent = text;
}

// Post a library form of `selector` with fetch (the pressed button's value included), then
// `apply(form, submitter, body)` its JSON answer; the button is marked busy meanwhile.
async function submitWith(event, selector, apply) {
  const form = event.target.closest(selector);
  if (!form || !event.submitter) return;
  event.preventDefault();
  const submitter = event.submitter;
  const data = new FormData(form, submitter);
  if (!setBusy(submitter, true)) return;
  try {
    const body = await postForm(form, data, submitter);
    if (body) apply(form, submitter, body);
  } finally {
    setBusy(submitter, false);
  }
}

function showLibrary(form, submitter, body) {
  if (form.hasAttribute("data-in-list") && body.rating === -1) {
    const card = form.closest("[data-paper]");
    if (card) { hideCard(card); return; }
  }
  document.querySelectorAll("form.lib").forEach((bar) => {
    if (bar.querySelector("input[name=arxiv_id]").value !== body.arxiv_id) return;
    setPressed(bar.querySelector(".save"), body.saved, body.saved ? "unsave" : "save", body.saved ? "★ Saved" : "☆ Save");
    setPressed(bar.querySelector(".like"), body.rating === 1, body.rating === 1 ? "unlike" : "like");
    setPressed(bar.querySelector(".dismiss"), body.rating === -1, body.rating === -1 ? "undismiss" : "dismiss");
  });
  if (body.collection) {
    let status = form.parentElement.querySelector(".lib-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "lib-status muted small";
      status.setAttribute("role", "status");
      form.after(status);
    }
    status.textContent = "Saved to ";
    const link = document.createElement("a");
    link.href = body.collection.url;
    link.textContent = body.collection.name;
    status.append(link);
    markSavedIn(form, body.collection);
  }
}

// The "Save to" menu shows the collection just saved to, ticked and chosen (a new one is
// added to it), and the new-collection field is emptied: a second Save does not make or
// name it again.
function markSavedIn(form, collection) {
  const menu = form.querySelector("select[name=collection_id]");
  if (!menu) return;
  let option = [...menu.options].find((o) => o.value === String(collection.id));
  if (!option) {
    option = new Option(collection.name, String(collection.id));
    menu.add(option);
  }
  if (!option.textContent.endsWith(" ✓")) option.textContent += " ✓";
  menu.value = String(collection.id);
  const fresh = form.querySelector("input[name=new_collection]");
  if (fresh) fresh.value = "";
}

function showFollow(form, submitter, body) {
  document.querySelectorAll("button.follow").forEach((button) => {
    if (button.value !== submitter.value) return;
    button.name = body.following ? "unfollow" : "follow";
    setPressed(button, body.following, button.value, body.following ? "✓" : "+");
    button.setAttribute("aria-label", (body.following ? "Unfollow " : "Follow ") + button.value);
  });
}

document.addEventListener("submit", submitVote);
document.addEventListener("submit", (event) => submitWith(event, "form[data-library]", showLibrary));
document.addEventListener("submit", (event) => submitWith(event, "form[data-follow]", showFollow));
document.addEventListener("click", copyBibtex);
document.addEventListener("DOMContentLoaded", renderMath);

// Take a card the reader is not interested in off the list: focus moves to the next card's
// title (or the previous one's), and the status region says which paper was hidden.
function hideCard(card) {
  const title = card.querySelector(".title");
  const next = card.nextElementSibling || card.previousElementSibling;
  card.remove();
  announce(`Hidden: ${title ? title.textContent.trim() : "the paper"}`);
  const target = next && next.querySelector(".title a, a, button");
  if (target) target.focus();
}
