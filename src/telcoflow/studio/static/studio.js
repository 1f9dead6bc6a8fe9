// The studio page: one journey file, four views (edit, simulate, paths, metrics).
// Plain JavaScript, no build step; the editor is the prebuilt CodeMirror bundle (editor.js).
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const api = async (url, body) => {
    const res = await fetch(url, body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
    const data = await res.json();
    if (!res.ok) throw new Error(data.error || res.statusText);
    return data;
  };
  const base = `/api/journey/${boot.index}`;
  const svgs = { edit: "", simulate: "", paths: "", metrics: "" };
  const notes = { edit: "", simulate: "", paths: "", metrics: "" };
  let view = "edit";
  let editor = null;
  let lastGood = null;
  let sim = null;
  let timer = null;
  let checking = 0;

  function status(text, kind) {
    const el = $("status");
    el.textContent = text || "";
    el.className = "status " + (kind || "");
  }

  let zoom = "auto";  // "auto" (fit when still readable), "fit" or a scale

  function applyZoom() {
    const box = $("diagram");
    const svg = box.querySelector("svg");
    if (!svg) return;
    const width = Number(svg.getAttribute("width"));
    const height = Number(svg.getAttribute("height"));
    const fit = Math.min(1, (box.clientWidth - 24) / width);
    const scale = zoom === "fit" ? fit : zoom === "auto" ? (fit >= 0.75 ? fit : 1) : zoom;
    svg.style.width = `${width * scale}px`;
    svg.style.height = `${height * scale}px`;
    $("zoom-level").textContent = `${Math.round(scale * 100)} %`;
    const focus = box.querySelector(".state.leaf.active") || box.querySelector("circle.start");
    if (focus && scale > fit) focus.scrollIntoView({ block: "center", inline: "center" });
  }

  function showDiagram() {
    $("diagram").innerHTML = svgs[view] || svgs.edit ||
      '<p class="muted">the drawing appears once the journey loads</p>';
    $("canvas-note").textContent = notes[view] || "";
    applyZoom();
  }

  function setView(name) {
    view = name;
    document.querySelectorAll(".tab").forEach((b) =>
      b.classList.toggle("active", b.dataset.view === name));
    document.querySelectorAll(".view").forEach((v) =>
      v.classList.toggle("hidden", v.id !== "view-" + name));
    if (name === "paths") loadPaths();
    showDiagram();
  }

  // ------------------------------------------------------------------ edit
  function showProblems(problems) {
    const box = $("problems");
    if (!problems.length) {
      box.innerHTML = '<div class="ok-line">no problems</div>';
    } else {
      box.innerHTML = problems.map((p, i) =>
        `<div class="problem ${esc(p.level)}" data-i="${i}" title="${esc(p.path || "")}">` +
        `<span class="where">${p.line}:${p.col}</span> <span class="level">${esc(p.level)}</span> ` +
        `${esc(p.message)} <span class="code">[${esc(p.code)}]</span></div>`).join("");
      box.querySelectorAll(".problem").forEach((el) => el.addEventListener("click", () => {
        const p = problems[Number(el.dataset.i)];
        editor.goTo(p.line, p.col);
      }));
    }
    editor.showProblems(problems);
  }

  async function check() {
    const text = editor.getText();
    const ticket = ++checking;
    try {
      const result = await api(`${base}/check`, { text });
      if (ticket !== checking) return;  // a newer check is on its way
      showProblems(result.problems);
      const errors = result.problems.filter((p) => p.level === "error").length;
      const pill = $("check-state");
      if (result.ok) {
        lastGood = text;
        svgs.edit = result.svg;
        if (!svgs.paths || view !== "paths") svgs.paths = result.svg;
        notes.edit = `${result.states} states, ${result.configurations} configurations`;
        pill.textContent = result.problems.length ? `${result.problems.length} warning(s)` : "valid";
        pill.className = "pill " + (result.problems.length ? "warn" : "good");
      } else {
        notes.edit = "showing the last valid version";
        pill.textContent = `${errors} error(s)`;
        pill.className = "pill bad";
      }
      $("canvas-title").textContent = result.title || boot.name;
      if (view === "edit") showDiagram();
    } catch (err) {
      status(err.message, "bad");
    }
  }

  async function save() {
    try {
      const result = await api(`${base}/save`, { text: editor.getText() });
      if (result.text !== editor.getText()) editor.setText(result.text);
      status(`saved ${result.saved}` + (result.ok ? "" : " (with problems)"), result.ok ? "good" : "warn");
    } catch (err) {
      status(err.message, "bad");
    }
  }

  // ------------------------------------------------------------------ simulate
  function renderSim(v) {
    sim = v;
    svgs.simulate = v.svg;
    notes.simulate = `active: ${v.active.join(", ")}`;
    const pill = $("sim-state");
    pill.textContent = v.outcome ? `final: ${v.state} (${v.outcome})` : `in ${v.state}`;
    pill.className = "pill " + (v.outcome === "completed" ? "good" : v.outcome ? "warn" : "");
    $("sim-events").innerHTML = v.enabled.length ? v.enabled.map((e) =>
      `<button class="event" data-trigger="${esc(e.trigger)}" title="to ${esc(e.targets.join(", "))}` +
      `${e.guards.length ? " if " + esc(e.guards.join(", ")) : ""}">${esc(e.trigger)}` +
      `${e.payload.length ? ` <span class="muted">(${esc(e.payload.join(", "))})</span>` : ""}</button>`
    ).join("") : `<span class="muted">${v.outcome ? "the instance is finished" : "no event enabled"}</span>`;
    $("sim-events").querySelectorAll(".event").forEach((b) => b.addEventListener("click", () => {
      $("sim-trigger").value = b.dataset.trigger;
      send(b.dataset.trigger);
    }));
    $("sim-clock").textContent = `t = ${v.clock} s`;
    $("sim-deadlines").textContent = v.deadlines.length ? "deadlines: " + v.deadlines.map(
      (d) => `${d.state} in ${d.in} s`).join(", ") : "no deadline pending";
    $("sim-steps").innerHTML = v.steps.map((s) =>
      `<tr class="${s.moved ? "" : "refused"}"><td>${s.n}</td><td>${s.at}</td>` +
      `<td>${esc(s.trigger)}${Object.keys(s.payload).length ? " " + esc(JSON.stringify(s.payload)) : ""}` +
      `${s.moved ? "" : ' <span class="muted">(no guard held)</span>'}</td>` +
      `<td>${esc(s.from)}</td><td>${esc(s.to)}</td></tr>`).join("");
    if (view === "simulate") showDiagram();
  }

  async function startSim() {
    try {
      renderSim(await api(`${base}/simulate`, {
        text: editor.getText(), channel: $("sim-channel").value.trim() }));
      $("sim-saved").textContent = "";
      status("instance started", "good");
    } catch (err) {
      status(err.message, "bad");
    }
  }

  async function send(trigger) {
    if (!sim) { status("start an instance first", "warn"); return; }
    let payload = {};
    const raw = $("sim-payload").value.trim();
    if (raw) {
      try { payload = JSON.parse(raw); } catch (err) {
        status(`the payload is not JSON: ${err.message}`, "bad"); return;
      }
    }
    try {
      renderSim(await api(`/api/simulation/${sim.id}/send`, {
        trigger, payload, channel: $("sim-channel").value.trim() }));
      status(`sent ${trigger}`, "good");
    } catch (err) {
      status(err.message, "bad");
    }
  }

  async function advance(seconds) {
    if (!sim) { status("start an instance first", "warn"); return; }
    try {
      renderSim(await api(`/api/simulation/${sim.id}/advance`, { seconds }));
      status(`clock advanced by ${seconds} s`, "good");
    } catch (err) {
      status(err.message, "bad");
    }
  }

  async function saveTest() {
    if (!sim) { status("start an instance first", "warn"); return; }
    try {
      const r = await api(`/api/simulation/${sim.id}/save-test`, { name: $("sim-test-name").value.trim() });
      $("sim-saved").innerHTML = `saved <code>${esc(r.file)}</code> (${r.steps} steps)`;
      status("path test saved", "good");
    } catch (err) {
      status(err.message, "bad");
    }
  }

  // ------------------------------------------------------------------ paths
  async function loadPaths() {
    try {
      const r = await api(`${base}/paths`, { text: lastGood });
      $("paths-list").innerHTML = r.generated.map((p) =>
        `<tr><td><span class="pill">${esc(p.kind)}</span></td><td>${esc(p.goal)}</td>` +
        `<td class="small">${esc(p.steps.join(" → ") || "(start)")}</td></tr>`).join("") +
        r.saved.map((f) => `<tr><td><span class="pill">saved</span></td><td colspan="2">${esc(f)}</td></tr>`).join("");
      $("paths-summary").textContent = `${r.generated.length} generated, ${r.saved.length} saved`;
      $("paths-summary").className = "pill";
    } catch (err) {
      status(err.message, "bad");
    }
  }

  async function runPaths() {
    let payloads;
    try { payloads = JSON.parse($("paths-payloads").value || "{}"); } catch (err) {
      status(`the payloads are not JSON: ${err.message}`, "bad"); return;
    }
    try {
      const r = await api(`${base}/paths/run`, { text: lastGood, payloads });
      $("paths-list").innerHTML = r.results.map((t) =>
        `<tr class="${t.passed ? "pass" : "fail"}"><td><span class="pill ${t.passed ? "good" : "bad"}">` +
        `${t.passed ? "pass" : "fail"}</span></td><td>${esc(t.id)}</td>` +
        `<td class="small">${esc(t.message)}</td></tr>`).join("");
      $("paths-summary").textContent = `${r.passed} passed, ${r.failed} failed`;
      $("paths-summary").className = "pill " + (r.failed ? "bad" : "good");
    } catch (err) {
      status(err.message, "bad");
    }
  }

  // ------------------------------------------------------------------ metrics
  async function loadMetrics() {
    try {
      const r = await api(`${base}/metrics`, { store: $("metrics-store").value.trim() });
      svgs.metrics = r.svg;
      notes.metrics = `${r.started} instances in ${r.store}`;
      $("metrics-charts").innerHTML = r.charts;
      if (view === "metrics") showDiagram();
      status("metrics loaded", "good");
    } catch (err) {
      status(err.message, "bad");
    }
  }

  // ------------------------------------------------------------------ wiring
  async function main() {
    const select = $("file-select");
    select.innerHTML = boot.files.map((f) =>
      `<option value="${f.index}" ${f.index === boot.index ? "selected" : ""}>${esc(f.name)}</option>`).join("");
    select.addEventListener("change", () => { window.location = `/journey/${select.value}`; });
    $("file-name").textContent = boot.file;
    $("metrics-store").value = boot.store;
    document.querySelectorAll(".tab").forEach((b) =>
      b.addEventListener("click", () => setView(b.dataset.view)));
    const { text } = await api(`${base}/source`);
    editor = TelcoflowEditor.createEditor($("editor"), text, () => {
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
    window.studioEditor = editor;  // for the browser tests and the console
    $("save").addEventListener("click", save);
    $("sim-start").addEventListener("click", startSim);
    $("sim-send").addEventListener("click", () => send($("sim-trigger").value.trim()));
    document.querySelectorAll(".advance").forEach((b) =>
      b.addEventListener("click", () => advance(Number(b.dataset.seconds))));
    $("sim-next-deadline").addEventListener("click", () => {
      if (sim && sim.deadlines.length) advance(Math.max(sim.deadlines[0].in, 0.001));
      else status("no deadline pending", "warn");
    });
    $("sim-save-test").addEventListener("click", saveTest);
    $("paths-run").addEventListener("click", runPaths);
    $("metrics-load").addEventListener("click", loadMetrics);
    $("zoom-fit").addEventListener("click", () => { zoom = "fit"; applyZoom(); });
    $("zoom-full").addEventListener("click", () => { zoom = 1; applyZoom(); });
    window.addEventListener("resize", applyZoom);
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(); }
    });
    await check();
    document.body.dataset.ready = "1";
  }
  main().catch((err) => status(err.message, "bad"));
})();
