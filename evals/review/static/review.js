// The review walk: one case at a time, labels saved through POST /api/v1/review/labels.
//
// Everything that comes from the store (prompts, answers, evidence, documents) is untrusted and
// goes onto the page as text nodes (textContent), never as markup. The page's CSP forbids
// inline script as a second line of defence.
"use strict";

(() => {
  const app = document.getElementById("app");
  if (!app) return;

  const REVIEWER_KEY = "tracesieve.review.reviewer";
  const $ = (id) => document.getElementById(id);
  const state = {
    batch: null,
    index: 0,
    verdict: null,
    categories: [],
    selected: new Set(),
    dirty: false,
    leaveArmed: false,
    saving: false,
  };

  // -- small DOM helpers ---------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setText(id, value) {
    $(id).textContent = value === undefined || value === null ? "" : String(value);
  }

  function pretty(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    return JSON.stringify(value, null, 2);
  }

  function status(message, kind) {
    const node = $("save-status");
    node.textContent = message;
    node.className = "status" + (kind ? " " + kind : "");
  }

  function isTyping(target) {
    return target instanceof HTMLElement && target.matches("input, textarea, select");
  }

  // -- reviewer ------------------------------------------------------------------------------

  function reviewer() {
    return (localStorage.getItem(REVIEWER_KEY) || "").trim();
  }

  function askReviewer() {
    $("reviewer-input").value = reviewer();
    $("reviewer-dialog").hidden = false;
    $("reviewer-input").focus();
  }

  $("reviewer-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("reviewer-input").value.trim();
    if (!name) return;
    localStorage.setItem(REVIEWER_KEY, name);
    setText("reviewer-name", name);
    $("reviewer-dialog").hidden = true;
    $("reviewer-input").blur();
  });
  $("change-reviewer").addEventListener("click", askReviewer);

  // -- loading -------------------------------------------------------------------------------

  async function load() {
    const response = await fetch(app.dataset.api, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401) {
      location.href = "/review/login?next=" + encodeURIComponent(location.pathname);
      return;
    }
    const payload = await response.json();
    if (!response.ok) {
      $("load-error").hidden = false;
      setText("load-error", payload.error || "could not load the batch");
      return;
    }
    state.batch = payload;
    state.categories = payload.categories.slice();
    for (const c of payload.cases) {
      for (const name of c.label ? c.label.categories : []) addKnownCategory(name);
    }
    updateProgress();
    show(payload.resume_at);
  }

  // -- showing a case ------------------------------------------------------------------------

  function currentCase() {
    return state.batch.cases[state.index];
  }

  function show(index) {
    state.index = index;
    state.leaveArmed = false;
    const c = currentCase();
    const total = state.batch.cases.length;
    setText("position", `Case ${index + 1} of ${total}`);
    $("prev").disabled = index === 0;
    $("next").disabled = index === total - 1;

    setText("case-category", c.category || "—");
    setText("flag-score", c.flag_score.toFixed(2));
    setText("service-model", [c.service_name, c.model].filter(Boolean).join(" · ") || "—");
    setText("session", `${c.session_id || "—"} · turn ${c.turn_index}`);
    setText("trace", `${c.trace_id} · ${c.span_id}`);
    setText("timestamp", c.timestamp);

    renderContext(c.session_context);
    setText("user-message", c.user_message);
    setText("answer", c.output_text);
    setText("input-messages", pretty(c.input_messages));
    renderSignals(c.signals);
    renderDocuments(c.retrieved_documents);
    renderCluster(c);
    fillForm(c);
    // A new case starts with no field focused, so the next key is a shortcut, not text.
    if (isTyping(document.activeElement)) document.activeElement.blur();
    window.scrollTo(0, 0);
  }

  function renderContext(turns) {
    const list = $("context");
    list.replaceChildren();
    for (const turn of turns) {
      const item = el("li", "earlier");
      if (turn && typeof turn === "object") {
        const user = el("div", "turn user");
        user.append(el("h3", "", "User"), el("div", "text", turn.user));
        const assistant = el("div", "turn assistant");
        assistant.append(el("h3", "", "Assistant"), el("div", "text", turn.assistant));
        item.append(user, assistant);
      } else {
        item.append(el("div", "text", pretty(turn)));
      }
      list.append(item);
    }
  }

  function renderSignals(signals) {
    const body = $("signals");
    body.replaceChildren();
    for (const s of signals) {
      const row = el("tr");
      const evidence = el("td");
      evidence.append(el("pre", "evidence", pretty(s.evidence)));
      row.append(
        el("td", "signal", s.signal),
        el("td", "", s.category || "—"),
        el("td", "score", s.score === null ? "—" : s.score.toFixed(2)),
        evidence,
      );
      body.append(row);
    }
  }

  function renderDocuments(documents) {
    const list = $("documents");
    list.replaceChildren();
    $("no-documents").hidden = documents.length > 0;
    for (const doc of documents) {
      const item = el("li", "document");
      if (doc && typeof doc === "object") {
        const head = el("div", "doc-head");
        head.append(el("span", "doc-id", doc.id === undefined ? "" : doc.id));
        if (typeof doc.score === "number") head.append(el("span", "doc-score", `score ${doc.score.toFixed(3)}`));
        item.append(head, el("div", "text", pretty(doc.content)));
      } else {
        item.append(el("div", "text", pretty(doc)));
      }
      list.append(item);
    }
  }

  function renderCluster(c) {
    const examples = $("cluster-examples");
    examples.replaceChildren();
    $("cluster").hidden = c.cluster_size <= 1;
    setText("cluster-size", `This case stands for ${c.cluster_size} similar questions, for example:`);
    for (const example of c.cluster_examples) {
      const text = example && typeof example === "object" ? example.user || example.text || pretty(example) : example;
      examples.append(el("li", "", text));
    }
  }

  // -- the label form ------------------------------------------------------------------------

  function addKnownCategory(name) {
    if (name && !state.categories.includes(name)) state.categories.push(name);
  }

  function renderCategories() {
    const list = $("category-list");
    list.replaceChildren();
    state.categories.forEach((name, i) => {
      const label = el("label", "category");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = name;
      box.checked = state.selected.has(name);
      box.addEventListener("change", () => {
        if (box.checked) state.selected.add(name);
        else state.selected.delete(name);
        markDirty();
      });
      label.append(box);
      if (i < 9) label.append(el("kbd", "", String(i + 1)));
      label.append(document.createTextNode(" " + name));
      list.append(label);
    });
  }

  function setVerdict(verdict) {
    state.verdict = verdict;
    for (const button of [$("verdict-bad"), $("verdict-fine")]) {
      button.setAttribute("aria-pressed", String(button.dataset.verdict === verdict));
    }
  }

  function fillForm(c) {
    const label = c.label;
    setVerdict(label ? label.verdict : null);
    state.selected = new Set(label ? label.categories : c.category ? [c.category] : []);
    addKnownCategory(c.category);
    renderCategories();
    $("expected").value = label ? label.expected : "";
    $("criteria").value = label ? label.criteria : "";
    $("notes").value = label ? label.notes : "";
    $("severity").value = label ? label.severity : "";
    $("new-category").value = "";
    state.dirty = false;
    showCaseState(c);
    if (label) {
      const when = new Date(label.labelled_at).toLocaleString();
      status(`Saved: ${label.verdict} · by ${label.reviewer} · ${when}`, "saved");
    } else {
      status("Not labelled yet.", "");
    }
  }

  function showCaseState(c) {
    const node = $("case-state");
    node.textContent = c.label ? `labelled ${c.label.verdict}` : "unlabelled";
    node.className = "case-state " + (c.label ? c.label.verdict : "open");
  }

  function markDirty() {
    state.dirty = true;
    state.leaveArmed = false;
  }

  function toggleCategory(i) {
    const name = state.categories[i];
    if (name === undefined) return;
    if (state.selected.has(name)) state.selected.delete(name);
    else state.selected.add(name);
    renderCategories();
    markDirty();
  }

  function addCategory() {
    const input = $("new-category");
    const name = input.value.trim().toLowerCase().replace(/[\s/]+/g, "_");
    if (!name) return;
    if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(name)) {
      status(`"${input.value}": use letters, digits, _ - or .`, "error");
      return;
    }
    addKnownCategory(name);
    state.selected.add(name);
    input.value = "";
    renderCategories();
    markDirty();
    input.blur();
  }

  function cycleSeverity() {
    const select = $("severity");
    select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
    markDirty();
  }

  function updateProgress() {
    const b = state.batch;
    const labelled = b.cases.filter((c) => c.label).length;
    setText("progress", `${labelled} / ${b.cases.length} labelled`);
    $("progress-bar").max = b.cases.length;
    $("progress-bar").value = labelled;
    $("done").hidden = labelled < b.cases.length;
  }

  async function save() {
    if (state.saving) return false;
    const name = reviewer();
    if (!name) {
      askReviewer();
      return false;
    }
    if (!state.verdict) {
      status("Choose bad (b) or fine (f) first.", "error");
      return false;
    }
    const c = currentCase();
    const body = {
      case_id: c.case_id,
      batch_id: state.batch.batch_id,
      verdict: state.verdict,
      categories: state.categories.filter((n) => state.selected.has(n)),
      expected: $("expected").value,
      criteria: $("criteria").value,
      notes: $("notes").value,
      severity: $("severity").value,
      reviewer: name,
    };
    state.saving = true;
    status("Saving…", "");
    try {
      const response = await fetch("/api/v1/review/labels", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      const payload = await response.json();
      if (!response.ok) {
        status(payload.error || `not saved (${response.status})`, "error");
        return false;
      }
      c.label = payload.label;
      state.dirty = false;
      updateProgress();
      showCaseState(c);
      let message = `Saved: ${c.label.verdict}`;
      if (payload.promotion && !payload.promotion.ok) {
        message += ` (not yet in the regression set: ${payload.promotion.error})`;
      }
      status(message, "saved");
      return true;
    } catch (err) {
      status(`not saved: ${err}`, "error");
      return false;
    } finally {
      state.saving = false;
    }
  }

  function nextUnlabelled(from) {
    const cases = state.batch.cases;
    for (let step = 1; step <= cases.length; step++) {
      const i = (from + step) % cases.length;
      if (!cases[i].label) return i;
    }
    return -1;
  }

  async function saveAndNext() {
    if (!(await save())) return;
    const i = nextUnlabelled(state.index);
    if (i >= 0) {
      const message = $("save-status").textContent;
      show(i);
      status(`Previous case — ${message}`, "saved");
    }
  }

  function go(step) {
    const target = state.index + step;
    if (!state.batch || target < 0 || target >= state.batch.cases.length) return;
    if (state.dirty && !state.leaveArmed) {
      state.leaveArmed = true;
      status("Unsaved changes: s saves them; press again to leave without saving.", "warn");
      return;
    }
    show(target);
  }

  // -- wiring --------------------------------------------------------------------------------

  $("verdict-bad").addEventListener("click", () => chooseBad());
  $("verdict-fine").addEventListener("click", () => {
    setVerdict("fine");
    markDirty();
    saveAndNext();
  });
  $("prev").addEventListener("click", () => go(-1));
  $("next").addEventListener("click", () => go(1));
  $("label-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    saveAndNext();
  });
  for (const id of ["expected", "criteria", "notes", "severity"]) {
    $(id).addEventListener("input", markDirty);
  }
  $("new-category").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      addCategory();
    }
  });
  $("help-button").addEventListener("click", () => toggleHelp());
  $("help-close").addEventListener("click", () => toggleHelp(false));

  function chooseBad() {
    setVerdict("bad");
    if (!$("severity").value) $("severity").value = "medium";
    markDirty();
    status("Bad: write what a correct answer says, then Ctrl+Enter (or s) saves.", "warn");
    $("expected").focus();
  }

  function toggleHelp(open) {
    const help = $("help");
    help.hidden = open === undefined ? !help.hidden : !open;
  }

  const FOCUS = { e: "expected", c: "criteria", n: "notes", a: "new-category" };

  document.addEventListener("keydown", (ev) => {
    if (!state.batch || !$("reviewer-dialog").hidden) return;
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      saveAndNext();
      return;
    }
    if (ev.key === "Escape") {
      if (!$("help").hidden) toggleHelp(false);
      else if (isTyping(ev.target)) ev.target.blur();
      return;
    }
    if (isTyping(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    let handled = true;
    if (ev.key === "b") chooseBad();
    else if (ev.key === "f") {
      setVerdict("fine");
      markDirty();
      saveAndNext();
    } else if (ev.key === "s") saveAndNext();
    else if (ev.key === "j" || ev.key === "ArrowRight") go(1);
    else if (ev.key === "k" || ev.key === "ArrowLeft") go(-1);
    else if (ev.key === "v") cycleSeverity();
    else if (ev.key === "?") toggleHelp();
    else if (FOCUS[ev.key]) $(FOCUS[ev.key]).focus();
    else if (/^[1-9]$/.test(ev.key)) toggleCategory(Number(ev.key) - 1);
    else handled = false;
    if (handled) ev.preventDefault();
  });

  const name = reviewer();
  setText("reviewer-name", name || "?");
  load().then(() => {
    if (!name) askReviewer();
  });
})();
