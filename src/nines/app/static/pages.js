// nines web app: the red-team playground and the admin and token pages.
// Same rule as app.js: story text goes into the page with textContent / text nodes only.
"use strict";

(() => {
  const { $, $$, api, el, toast, newKey, fmt, formRoles, parseJsonl } = window.nines;

  // ---------------------------------------------------------------- red-team playground

  function saliencyColour(value, scale) {
    const a = Math.min(1, Math.abs(value) / (scale || 1));
    return value >= 0 ? `rgba(220, 38, 38, ${a * 0.75})` : `rgba(37, 99, 235, ${a * 0.75})`;
  }

  function initPlayground() {
    const prompt = $("#prompt");
    const completion = $("#completion");
    const state = { started: Date.now(), seq: 0, key: newKey() };

    setInterval(() => {
      $("#timer").textContent = `${Math.round((Date.now() - state.started) / 1000)} s`;
    }, 1000);

    function renderSegment(text, words, segment, scale) {
      const box = el("p", { class: "segment" }, el("span", { class: "seg-name", text: `${segment}: ` }));
      let pos = 0;
      for (const w of words.filter((x) => x.segment === segment)) {
        if (w.start > pos) box.append(document.createTextNode(text.slice(pos, w.start)));
        const span = el("button", { type: "button", class: "word", title: `${w.value.toFixed(3)}`,
          "data-segment": segment, "data-index": String(w.index) }, text.slice(w.start, w.end));
        span.style.backgroundColor = saliencyColour(w.value, scale);
        span.addEventListener("click", () => suggest(segment, w.index, text.slice(w.start, w.end)));
        box.append(span);
        pos = w.end;
      }
      if (pos < text.length) box.append(document.createTextNode(text.slice(pos)));
      return box;
    }

    async function rescore() {
      const seq = ++state.seq;
      const p = prompt.value, c = completion.value;
      if (!p.trim() || !c.trim()) { $("#verdict").textContent = ""; $("#saliency").replaceChildren(); return; }
      try {
        const v = await api("POST", "/api/redteam/score", { prompt: p, completion: c });
        if (seq !== state.seq) return; // a newer edit is on its way
        const verdict = $("#verdict");
        verdict.textContent = `score ${fmt(v.score)} (threshold ${fmt(v.threshold)}): ${v.accepted ? "ACCEPTED by the filter" : "rejected by the filter"}`;
        verdict.className = v.accepted ? "verdict accepted" : "verdict rejected";
        verdict.dataset.score = String(v.score);
        const s = await api("POST", "/api/redteam/saliency", { prompt: p, completion: c });
        if (seq !== state.seq) return;
        const scale = Math.max(1e-9, ...s.words.map((w) => Math.abs(w.value)));
        $("#saliency").replaceChildren(renderSegment(p, s.words, "prompt", scale),
          renderSegment(c, s.words, "completion", scale));
      } catch (err) { toast(err.message, true); }
    }

    let timer = null;
    const later = () => { clearTimeout(timer); timer = setTimeout(rescore, 250); };
    prompt.addEventListener("input", later);
    completion.addEventListener("input", later);

    async function suggest(segment, index, word) {
      try {
        const res = await api("POST", "/api/redteam/suggest",
          { prompt: prompt.value, completion: completion.value, segment, index, k: 8 });
        $("#suggestions-box").hidden = false;
        $("#suggestions-title").textContent = `Edits at "${word}" (${segment} word ${index}), lowest score first`;
        const list = $("#suggestions");
        list.replaceChildren();
        for (const s of res.suggestions) {
          const what = s.kind === "substitute" ? `${s.old} → ${s.new}` : s.kind === "insert" ? `insert "${s.new}"` : `delete "${s.old}"`;
          const item = el("li", { class: s.accepted ? "accepted" : "rejected" },
            el("button", { type: "button", class: "link apply" }, what),
            ` score ${fmt(s.score)} ${s.accepted ? "(accepted)" : "(rejected)"}`);
          item.querySelector("button").addEventListener("click", () => {
            prompt.value = s.prompt;
            completion.value = s.completion;
            rescore();
          });
          list.append(item);
        }
        if (!res.suggestions.length) list.append(el("li", { text: "No candidate edits here." }));
      } catch (err) { toast(err.message, true); }
    }

    let sampledPrompt = null;
    $("#random-prompt").addEventListener("click", async () => {
      try {
        const seed = Math.floor(Math.random() * 1e9);
        const sampled = await api("GET", `/api/redteam/prompt?seed=${seed}`);
        prompt.value = sampled.prompt;
        // The id names the prompt's scene; it is sent back only while the text is unedited.
        sampledPrompt = { text: sampled.prompt, id: sampled.prompt_id };
        rescore();
      } catch (err) { toast(err.message, true); }
    });

    $("#generate").addEventListener("click", async () => {
      const n = Math.max(1, Math.min(16, parseInt($("#n").value, 10) || 4));
      try {
        const body = { prompt: prompt.value, n, seed: Math.floor(Math.random() * 1e9) };
        if (sampledPrompt && sampledPrompt.text === prompt.value) body.prompt_id = sampledPrompt.id;
        const res = await api("POST", "/api/redteam/generate", body);
        const list = $("#completions");
        list.replaceChildren();
        for (const c of res.completions) {
          const verdict = c.score === undefined ? "" : ` score ${fmt(c.score)} ${c.accepted ? "(accepted)" : "(rejected)"}`;
          const edit = el("button", { type: "button", class: "link" }, "edit");
          edit.addEventListener("click", () => { completion.value = c.completion; rescore(); });
          list.append(el("li", { class: c.accepted ? "accepted" : "rejected" },
            el("span", { class: "text" }, c.completion), verdict, " ", edit));
        }
      } catch (err) { toast(err.message, true); }
    });

    $("#submit-find").addEventListener("click", async () => {
      const seconds = (Date.now() - state.started) / 1000;
      try {
        const f = await api("POST", "/api/redteam/finds", { prompt: prompt.value, completion: completion.value,
          note: $("#find-note").value.trim() || null, seconds, key: state.key });
        toast(`Find #${f.id} submitted for review (${Math.round(f.seconds)} s)`);
        state.started = Date.now();
        state.key = newKey();
        $("#find-note").value = "";
      } catch (err) { toast(err.message, true); }
    });
  }

  // ---------------------------------------------------------------- API tokens

  function initTokens() {
    async function load() {
      const rows = await api("GET", "/api/tokens");
      $("#tokens").replaceChildren(...rows.map((t) => {
        const revoke = el("button", { type: "button", class: "link" }, "revoke");
        revoke.addEventListener("click", async () => { await api("DELETE", `/api/tokens/${t.id}`); load(); });
        return el("tr", {}, el("td", { text: t.name }), el("td", { text: t.created_at }),
          el("td", { text: t.revoked ? "revoked" : "active" }), el("td", {}, t.revoked ? "" : revoke));
      }));
    }
    $("#token-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const t = await api("POST", "/api/tokens", { name: e.target.name.value });
        const box = $("#new-token");
        box.hidden = false;
        box.textContent = `Your new token (copy it now, it is not shown again): ${t.token}`;
        load();
      } catch (err) { toast(err.message, true); }
    });
    load().catch((err) => toast(err.message, true));
  }

  // ---------------------------------------------------------------- admin pages

  function initUsers() {
    async function load() {
      const users = await api("GET", "/api/admin/users");
      $("#users").replaceChildren(...users.map((u) => {
        const toggle = el("button", { type: "button", class: "link" }, u.active ? "deactivate" : "activate");
        toggle.addEventListener("click", async () => {
          try { await api("PATCH", `/api/admin/users/${u.id}`, { active: !u.active }); load(); }
          catch (err) { toast(err.message, true); }  // e.g. 409: the last active admin
        });
        const unlock = el("button", { type: "button", class: "link" }, "unlock");
        unlock.addEventListener("click", async () => {
          try {
            const res = await api("POST", `/api/admin/users/${u.id}/unlock`);
            toast(`${res.cleared} failed login(s) forgotten`);
          } catch (err) { toast(err.message, true); }
        });
        const tokens = el("button", { type: "button", class: "link" }, "tokens");
        const list = el("ul", {});
        tokens.addEventListener("click", () => showTokens(u.id, list).catch((err) => toast(err.message, true)));
        return el("tr", {}, el("td", { text: u.username }), el("td", { text: u.roles.join(", ") }),
          el("td", { text: u.active ? "yes" : "no" }), el("td", {}, toggle, " ", unlock, " ", tokens, list));
      }));
    }
    async function showTokens(userId, list) {
      const rows = await api("GET", `/api/admin/users/${userId}/tokens`);
      list.replaceChildren(...rows.map((t) => {
        const revoke = el("button", { type: "button", class: "link" }, "revoke");
        revoke.addEventListener("click", async () => {
          try { await api("DELETE", `/api/admin/users/${userId}/tokens/${t.id}`); await showTokens(userId, list); }
          catch (err) { toast(err.message, true); }
        });
        const used = t.last_used_at ? `last used ${t.last_used_at}` : "never used";
        return el("li", {}, el("span", { text: `${t.name}: ${t.revoked ? "revoked" : "active"}, ${used} ` }),
          t.revoked ? "" : revoke);
      }));
      if (!rows.length) list.replaceChildren(el("li", { text: "no API tokens" }));
    }
    $("#user-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = e.target;
      try {
        await api("POST", "/api/admin/users", { username: f.username.value, password: f.password.value, roles: formRoles(f) });
        f.reset();
        toast("Account created");
        load();
      } catch (err) { toast(err.message, true); }
    });
    $("#invite-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = e.target;
      try {
        const res = await api("POST", "/api/admin/invites", { roles: formRoles(f), hours: Number(f.hours.value) });
        const box = $("#invite-url");
        box.hidden = false;
        // A path unless the server has a --public-url: completed from this (the admin's) address.
        box.textContent = new URL(res.url, window.location.origin).href;
      } catch (err) { toast(err.message, true); }
    });
    load().catch((err) => toast(err.message, true));
  }

  function initReview() {
    async function load() {
      const finds = await api("GET", "/api/admin/finds?status=pending");
      const list = $("#review-list");
      list.replaceChildren();
      if (!finds.length) list.append(el("p", { text: "Nothing to review." }));
      for (const f of finds) {
        const note = el("input", { maxlength: "2000", placeholder: "review note (optional)" });
        const card = el("div", { class: "card" },
          el("p", { class: "muted" }, `#${f.id} by ${f.redteamer}, ${Math.round(f.seconds)} s, score ${fmt(f.score)} / ${fmt(f.threshold)}`),
          el("div", { class: "story" }, f.prompt), el("div", { class: "story completion" }, f.completion),
          el("p", { class: "muted" }, f.note ? `Note: ${f.note}` : ""), note);
        for (const decision of ["confirm", "reject"]) {
          const b = el("button", { type: "button", class: decision === "reject" ? "secondary" : "" }, decision);
          b.addEventListener("click", async () => {
            try {
              await api("POST", `/api/admin/finds/${f.id}/review`, { decision, note: note.value.trim() || null });
              toast(`Find #${f.id}: ${decision}ed`);
              load();
            } catch (err) { toast(err.message, true); }
          });
          card.append(b);
        }
        list.append(card);
      }
    }
    load().catch((err) => toast(err.message, true));
  }

  function initInstructions() {
    $("#instructions-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const res = await api("PUT", "/api/admin/instructions", { body: e.target.body.value });
        toast(`Saved as version ${res.version}`);
      } catch (err) { toast(err.message, true); }
    });
  }

  function initDashboard() {
    const submit = (id, fn) => $(id).addEventListener("submit", async (e) => {
      e.preventDefault();
      try { toast(await fn(e.target)); setTimeout(() => location.reload(), 800); } catch (err) { toast(err.message, true); }
    });
    submit("#queue-form", async (f) => {
      const q = await api("POST", "/api/admin/queues", { name: f.name.value, dataset: f.dataset.value,
        strategy: f.strategy.value, labels_per_item: Number(f.labels_per_item.value) });
      return `Queue created with ${q.size} items`;
    });
    submit("#snippets-form", async (f) => {
      const res = await api("POST", "/api/admin/snippets", { dataset: f.dataset.value, items: parseJsonl(f.jsonl.value) });
      return `Added ${res.ids.length} snippets`;
    });
    submit("#pairs-form", async (f) => {
      const res = await api("POST", "/api/admin/pairs", { items: parseJsonl(f.jsonl.value), wanted: Number(f.wanted.value) });
      return `Added ${res.ids.length} pairs`;
    });
    $$(".adjudicate").forEach((b) => b.addEventListener("click", async () => {
      try {
        await api("POST", `/api/admin/snippets/${b.dataset.snippet}/adjudication`, { label: b.dataset.label });
        toast(`Snippet #${b.dataset.snippet}: ${b.textContent}`);
        setTimeout(() => location.reload(), 800);
      } catch (err) { toast(err.message, true); }
    }));
    $$(".queue-toggle").forEach((b) => b.addEventListener("click", async () => {
      try {
        await api("PATCH", `/api/admin/queues/${b.dataset.queue}`, { active: b.dataset.active !== "true" });
        location.reload();
      } catch (err) { toast(err.message, true); }
    }));
  }

  window.ninesPages = { playground: initPlayground, tokens: initTokens, admin_users: initUsers,
    admin_review: initReview, admin_instructions: initInstructions, admin: initDashboard };
})();
