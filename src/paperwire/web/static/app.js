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
  button.disabled = true;
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
    button.setAttribute("aria-label", (body.voted ? "Remove upvote" : "Upvote") + " (" + body.upvotes + " votes)");
    button.querySelector(".count").textContent = body.upvotes;
  } finally {
    button.disabled = false;
  }
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

document.addEventListener("submit", submitVote);
document.addEventListener("click", copyBibtex);
document.addEventListener("DOMContentLoaded", renderMath);
