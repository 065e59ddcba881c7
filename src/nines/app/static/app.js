// nines web app: small vanilla JS, no build step.
// Rule: story text (prompts, completions, notes, usernames) only ever reaches the page through
// textContent or text nodes, never innerHTML, so it is shown as text and can run nothing.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  function csrf() {
    const meta = $('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function api(method, url, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(url, opts);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new Error(data && data.detail ? String(data.detail) : `HTTP ${resp.status}`);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  // el("td", {class: "x"}, "text", otherNode): strings become text nodes.
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function toast(message, bad = false) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = message;
    t.className = bad ? "show bad" : "show";
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.className = ""; }, 3000);
  }

  // An idempotency key per submission: a retry or double click resends the same key.
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const fmt = (x, digits = 4) => (typeof x === "number" ? x.toFixed(digits) : "–");
  const typing = (e) => e.target && ["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName);
  const plainKey = (e) => !(e.ctrlKey || e.metaKey || e.altKey);

  function formRoles(form) {
    return $$('input[name="roles"]:checked', form).map((i) => i.value);
  }

  function parseJsonl(text) {
    return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l, i) => {
      try { return JSON.parse(l); } catch (e) { throw new Error(`line ${i + 1} is not JSON`); }
    });
  }

  // ---------------------------------------------------------------- login, invite, logout

  function initLogin() {
    const form = $("#login-form");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      $("#login-error").textContent = "";
      try {
        await api("POST", "/api/auth/login", { username: form.username.value, password: form.password.value });
        window.location.assign(form.dataset.next || "/");
      } catch (err) {
        $("#login-error").textContent = err.message;
      }
    });
  }

  function initInvite() {
    const form = $("#invite-form");
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/api/auth/invite",
          { token: form.dataset.token, username: form.username.value, password: form.password.value });
        window.location.assign("/");
      } catch (err) {
        $("#invite-error").textContent = err.message;
      }
    });
  }

  function initLogout() {
    const btn = $("#logout");
    if (!btn) return;
    btn.addEventListener("click", async () => {
      try { await api("POST", "/api/auth/logout"); } finally { window.location.assign("/login"); }
    });
  }

  // ---------------------------------------------------------------- labelling

  function initLabel() {
    const state = { queue: null, item: null, choice: null, key: null, busy: false, done: 0 };
    const select = $("#queue");

    function show(item) {
      state.item = item;
      state.choice = null;
      state.key = newKey();
      $("#note").value = "";
      $$(".choice").forEach((b) => b.classList.remove("selected"));
      $("#submit").disabled = true;
      $("#item").hidden = !item;
      $("#empty").hidden = !!item;
      if (item) {
        $("#prompt").textContent = item.prompt;
        $("#completion").textContent = item.completion;
      } else {
        $("#empty").textContent = "Nothing left to label in this queue. Thank you!";
      }
      $("#progress").textContent = `${state.done} labelled this session`;
    }

    async function loadNext() {
      if (!state.queue) return;
      try {
        show((await api("GET", `/api/queues/${state.queue}/next`)).item);
      } catch (err) { toast(err.message, true); }
    }

    // The buttons carry the task's names (data-name) and the values labels are stored as (data-label).
    function keyLabels() {
      return Object.fromEntries($$(".choice").map((b) => [b.dataset.key, b.dataset.label]));
    }
    function nameOf(value) {
      const b = $$(".choice").find((x) => x.dataset.label === value);
      return b ? b.dataset.name : value;
    }

    function choose(label) {
      if (!state.item) return;
      state.choice = label;
      $$(".choice").forEach((b) => b.classList.toggle("selected", b.dataset.label === label));
      $("#submit").disabled = false;
    }

    async function submit() {
      if (!state.item || !state.choice || state.busy) return;
      state.busy = true;
      const body = { snippet_id: state.item.snippet_id, label: state.choice,
        note: $("#note").value.trim() || null, key: state.key };
      try {
        const res = await api("POST", `/api/queues/${state.queue}/labels`, body);
        if (!res.duplicate) state.done += 1;
        toast(`Saved: ${nameOf(res.label)}`);
        await loadNext();
      } catch (err) {
        toast(err.message, true);
        if (err.status === 409 || err.status === 404) await loadNext();
      } finally { state.busy = false; }
    }

    async function undo() {
      if (!state.queue || state.busy) return;
      state.busy = true;
      try {
        const res = await api("POST", `/api/queues/${state.queue}/undo`);
        state.done = Math.max(0, state.done - 1);
        show(res.item);
        toast(`Undid your "${nameOf(res.label)}" label`);
      } catch (err) { toast(err.message, true); } finally { state.busy = false; }
    }

    $$(".choice").forEach((b) => b.addEventListener("click", () => choose(b.dataset.label)));
    $("#submit").addEventListener("click", submit);
    $("#undo").addEventListener("click", undo);
    $("#note").addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); submit(); }
    });
    document.addEventListener("keydown", (e) => {
      if (typing(e) || !plainKey(e)) return;
      const labels = keyLabels();
      if (labels[e.key]) { e.preventDefault(); choose(labels[e.key]); }
      else if (e.key === "Enter") { e.preventDefault(); submit(); }
      else if (e.key === "u" || e.key === "U") { e.preventDefault(); undo(); }
    });
    select.addEventListener("change", () => {
      state.queue = select.value;
      localStorage.setItem("nines.queue", state.queue);
      loadNext();
    });

    api("GET", "/api/queues").then((queues) => {
      if (!queues.length) {
        $("#empty").hidden = false;
        $("#empty").textContent = "No open labelling queue. Ask an admin to create one.";
        return;
      }
      for (const q of queues) select.append(el("option", { value: String(q.id) }, `${q.name} (${q.size} items)`));
      const wanted = new URLSearchParams(location.search).get("queue") || localStorage.getItem("nines.queue");
      if (wanted && queues.some((q) => String(q.id) === wanted)) select.value = wanted;
      state.queue = select.value;
      loadNext();
    }).catch((err) => toast(err.message, true));
  }

  // ---------------------------------------------------------------- pairwise

  function initCompare() {
    const state = { pair: null, key: null, busy: false };

    async function loadNext() {
      try {
        const pair = (await api("GET", "/api/pairs/next")).pair;
        state.pair = pair;
        state.key = newKey();
        $("#pair").hidden = !pair;
        $("#empty").hidden = !!pair;
        if (!pair) { $("#empty").textContent = "No pairs left to compare. Thank you!"; return; }
        $("#question").textContent = pair.question;
        $("#prompt").textContent = pair.prompt;
        $("#left").textContent = pair.left;
        $("#right").textContent = pair.right;
      } catch (err) { toast(err.message, true); }
    }

    async function answer(choice) {
      if (!state.pair || state.busy) return;
      state.busy = true;
      try {
        await api("POST", `/api/pairs/${state.pair.assignment_id}/answer`, { choice, key: state.key });
        toast("Saved");
        await loadNext();
      } catch (err) {
        toast(err.message, true);
        if (err.status === 409) await loadNext();
      } finally { state.busy = false; }
    }

    $$(".answer").forEach((b) => b.addEventListener("click", () => answer(b.dataset.choice)));
    document.addEventListener("keydown", (e) => {
      if (typing(e) || !plainKey(e)) return;
      const keys = { 1: "left", ArrowLeft: "left", 2: "tie", t: "tie", 3: "right", ArrowRight: "right" };
      if (keys[e.key]) { e.preventDefault(); answer(keys[e.key]); }
    });
    loadNext();
  }

  window.nines = { $, $$, api, el, toast, newKey, fmt, formRoles, parseJsonl };
  const pages = { login: initLogin, invite: initInvite, label: initLabel, compare: initCompare };

  document.addEventListener("DOMContentLoaded", () => {
    initLogout();
    const init = pages[document.body.dataset.page];
    if (init) init();
    const more = window.ninesPages && window.ninesPages[document.body.dataset.page];
    if (more) more();
  });
})();
