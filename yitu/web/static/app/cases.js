// Cases on the dashboard: points and clusters, the heat map by BeiDou cell, the command panel
// (today's figures, trend, rankings, supervision) and a case's detail with its workflow actions
// (dispatch, close …). Everything comes from /api/v1/cases and /api/v1/map/cases*; a role
// without case access sees the panel say so and no case layer.
import { ApiError, api, escapeHtml as h } from "./api.js";
import { actionName, enumName, lang, stateName, t } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);
let map;
let showDetail;
let points = { type: "FeatureCollection", features: [] };
let departments = null;
const charts = [];

function cellLevel(zoom) {
  return zoom >= 15 ? 6 : zoom >= 12 ? 5 : 4;
}

async function refreshLayers() {
  points = await api("/api/v1/map/cases");
  map.getSource("cases").setData(points);
  await refreshHeat();
}

async function refreshHeat() {
  const level = cellLevel(map.getZoom());
  const cells = await api(`/api/v1/map/cases/cells?level=${level}&days=30`);
  map.getSource("case-cells").setData(cells);
}

// --- the command panel ----------------------------------------------------------------------

function kpi(label, value, cls = "") {
  return `<div class="kpi ${cls}"><b>${h(value)}</b>${h(label)}</div>`;
}

function pct(v) {
  return v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`;
}

function ranking(rows, id) {
  const sorted = [...rows].filter((r) => r.counts.reported || r.counts.due)
    .sort((a, b) => (b.rates.on_time_handling_rate ?? -1) - (a.rates.on_time_handling_rate ?? -1));
  const body = sorted.slice(0, 8).map((r, i) =>
    `<tr><td>${i + 1}</td><td>${h(r.name || r.code || "—")}</td><td>${r.counts.reported}</td>
     <td>${r.counts.closed}</td><td>${pct(r.rates.on_time_handling_rate)}</td></tr>`).join("");
  return `<table id="${id}"><tr><th>#</th><th></th><th>${t("new_cases")}</th><th>${t("closed")}</th>
    <th>${t("on_time_rate")}</th></tr>${body}</table>`;
}

async function renderPanel() {
  const panel = $("#panel-body");
  let summary;
  try {
    summary = await api("/api/v1/map/cases/summary");
  } catch (err) {
    panel.innerHTML = `<p class="muted">${err.status === 403 ? t("forbidden") : t("cases_unavailable")}</p>`;
    return false;
  }
  const [township, department, supervision] = await Promise.all([
    api("/api/v1/cases/kpi?by=township").catch(() => null),
    api("/api/v1/cases/kpi?by=department").catch(() => null),
    api("/api/v1/cases/supervisions?limit=20").catch(() => []),
  ]);
  const rate = township?.total?.rates?.on_time_handling_rate;
  panel.innerHTML = `
    <div class="kpis" id="kpis">
      ${kpi(t("today_new"), summary.new_today)}${kpi(t("open"), summary.open)}
      ${kpi(t("overdue"), summary.overdue, "red")}${kpi(t("closed_today"), summary.closed_today, "green")}
    </div>
    <div class="kpis">${kpi(t("on_time_rate"), pct(rate), "green")}
      ${kpi(t("red_warning"), summary.red, "red")}${kpi(t("yellow_warning"), summary.yellow)}</div>
    <h2>${t("trend")}</h2><div id="chart-trend" class="chart"></div>
    <h2>${t("by_township")}</h2>${township ? ranking(township.rows, "rank-township") : "—"}
    <h2>${t("by_department")}</h2>${department ? ranking(department.rows, "rank-department") : "—"}
    <h2>${t("supervision")}</h2>
    <table id="supervision">${supervision.map((s) =>
      `<tr><td><a href="#" data-case="${s.case_id}">${h(s.case_number)}</a></td><td>${h(s.stage)}</td>
       <td>${h(s.reason)}</td></tr>`).join("") || `<tr><td class="muted">—</td></tr>`}</table>`;
  for (const c of charts.splice(0)) c.dispose();
  const chart = echarts.init($("#chart-trend"), "dark", { renderer: "canvas" });
  chart.setOption({
    backgroundColor: "transparent",
    grid: { left: 30, right: 10, top: 24, bottom: 20 },
    legend: { data: [t("new_cases"), t("closed")], textStyle: { color: "#cbd5e1" }, top: 0 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: summary.trend.days.map((d) => d.slice(5)) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: t("new_cases"), type: "line", smooth: true, data: summary.trend.new },
      { name: t("closed"), type: "bar", data: summary.trend.closed },
    ],
  });
  charts.push(chart);
  panel.querySelector("#supervision").addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-case]");
    if (a) { ev.preventDefault(); showCase(Number(a.dataset.case), showDetail); }
  });
  document.body.dataset.panelReady = "1";
  return true;
}

// A long BeiDou code on one line: cut with an ellipsis, whole in the title, a copy button.
export function codeLine(code, id = "") {
  if (!code) return "—";
  return `<span class="code-line"><span class="code" ${id ? `id="${id}"` : ""} title="${h(code)}">${
    h(code)}</span><button type="button" class="copy" data-copy="${h(code)}">${t("copy")}</button></span>`;
}

// --- one case -------------------------------------------------------------------------------

async function photoUrls(c) {
  // photos need the bearer token: fetched as blobs, shown through object URLs
  const out = [];
  for (const e of c.evidence) {
    const res = await fetch(`/api/v1/cases/${c.id}/evidence/${e.id}`, {
      headers: { Authorization: `Bearer ${sessionStorage.getItem("yitu.token")}` },
    });
    if (res.ok) out.push(URL.createObjectURL(await res.blob()));
  }
  return out;
}

// Workflow actions that carry data (cases.services.transition's `data`): each gets a small form
// of its own; the rest are plain buttons. Required fields are checked here first so the user
// gets the field's name at once; the server checks everything again (422 naming the field).
const SATISFACTION = ["satisfied", "basically_satisfied", "unsatisfied"];
const TIME_UNITS = ["working_hours", "working_days", "natural_hours"];
const ACTION_FIELDS = {
  dispatch: [{ key: "department", label: "department", kind: "department" }],
  merge: [{ key: "into", label: "merge_into", kind: "text", required: true }],
  request_extension: [
    { key: "value", label: "extension_value", kind: "number", required: true },
    { key: "unit", label: "extension_unit", kind: "select", options: TIME_UNITS, required: true },
  ],
  visit: [{ key: "satisfaction", label: "satisfaction", kind: "select", options: SATISFACTION, required: true }],
  supervise: [{ key: "reason", label: "supervise_reason", kind: "text", maxlength: 40 }],
};

function fieldHtml(action, f, c) {
  const id = `${action}-${f.key}`.replace(/_/g, "-");
  let input;
  if (f.kind === "department") {
    input = `<select id="${id}"><option value="">${t("select_department")}</option>${
      departments.map((d) => `<option value="${h(d.code)}" ${d.code === c.department ? "selected" : ""}>${
        h(lang() === "zh" ? d.name_zh : d.name_en || d.name_zh)}</option>`).join("")}</select>`;
  } else if (f.kind === "select") {
    input = `<select id="${id}"><option value="">—</option>${f.options.map((o) =>
      `<option value="${o}">${h(enumName(o))}</option>`).join("")}</select>`;
  } else if (f.kind === "number") {
    input = `<input id="${id}" type="number" min="0.5" max="720" step="0.5">`;
  } else {
    input = `<input id="${id}" type="text" ${f.maxlength ? `maxlength="${f.maxlength}"` : ""}>`;
  }
  return `<label>${t(f.label)}${f.required ? " *" : ""}${input}</label>`;
}

async function actionsHtml(c) {
  if (!c.allowed_actions.length) return "";
  const button = (a) =>
    `<button type="submit" data-action="${h(a)}" id="action-${h(a)}">${h(actionName(a))}</button>`;
  const plain = c.allowed_actions.filter((a) => !ACTION_FIELDS[a]);
  const forms = c.allowed_actions.filter((a) => ACTION_FIELDS[a]).map((a) =>
    `<form class="action-form" data-action="${h(a)}">${ACTION_FIELDS[a].map((f) => fieldHtml(a, f, c)).join("")}${
      button(a)}</form>`).join("");
  return `<div class="actions"><textarea id="action-note" rows="2" placeholder="${t("comment")}"></textarea>
    ${plain.length ? `<form class="action-plain">${plain.map(button).join(" ")}</form>` : ""}
    ${forms}<p id="action-error" class="error"></p></div>`;
}

// The `data` of an action's form, or an error naming the first missing field.
function actionData(action) {
  const data = {};
  for (const f of ACTION_FIELDS[action] || []) {
    const el = document.getElementById(`${action}-${f.key}`.replace(/_/g, "-"));
    const raw = el.value.trim();
    if (!raw) {
      if (f.required) { el.focus(); return { error: `${t("required")}: ${t(f.label)}` }; }
      continue;
    }
    data[f.key] = f.kind === "number" ? Number(raw) : raw;
  }
  return { data };
}

export async function showCase(id, show) {
  show(`<p>…</p>`);
  let c;
  try {
    c = await api(`/api/v1/cases/${id}`);
  } catch (err) {
    show(`<p class="error">${h(err.status === 403 ? t("forbidden") : err.message)}</p>`);
    return;
  }
  const history = c.events.map((e) =>
    `<li>${h(new Date(e.at).toLocaleString())} · <b>${h(actionName(e.action))}</b>${
      e.to_state ? ` → ${h(stateName(e.to_state))}` : ""}${e.note ? `<br><span class="muted">${h(e.note)}</span>` : ""}</li>`).join("");
  const photos = (await photoUrls(c)).map((u) => `<img src="${u}" alt="">`).join("");
  // the cases API stores the level-10 BeiDou code as an integer: shown as the code's text
  const cell = await api(`/api/v1/map/cell?lon=${c.lon}&lat=${c.lat}&level=10`).catch(() => null);
  departments ??= await api("/api/v1/cases/departments").catch(() => []);
  const dept = departments.find((d) => d.code === c.department);
  const deptName = dept ? (lang() === "zh" ? dept.name_zh : dept.name_en || dept.name_zh) : c.department;
  show(`<h3>${t("case")} <span id="case-number">${h(c.number)}</span></h3>
    <dl><dt>${t("state")}</dt><dd id="case-state">${h(stateName(c.state))}</dd>
    <dt>${t("category")}</dt><dd>${h(c.category)} ${h(c.title)}</dd>
    <dt>${t("department")}</dt><dd id="case-department">${h(deptName ?? "—")}</dd>
    <dt>${t("grid_code")}</dt><dd>${codeLine(cell?.code ?? c.grid_code, "case-grid-code")}</dd>
    ${c.extension_pending && c.state === "handling" ? `<dt>${t("extension_pending")}</dt><dd id="case-extension">${
      h(c.extension_pending.value)} ${h(enumName(c.extension_pending.unit))}</dd>` : ""}
    ${c.satisfaction ? `<dt>${t("satisfaction")}</dt><dd id="case-satisfaction">${
      h(enumName(c.satisfaction))}</dd>` : ""}</dl>
    <p>${h(c.description ?? "")}</p>
    <div class="photos">${photos}</div>
    ${await actionsHtml(c)}
    <h4>${t("history")}</h4><ul class="history">${history}</ul>`);
  map?.flyTo({ center: [c.lon, c.lat], zoom: Math.max(map.getZoom(), 16) });
  const box = document.querySelector("#detail-body .actions");
  box?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const action = ev.submitter?.dataset.action;
    if (!action) return;
    const { data, error } = actionData(action);
    if (error) { $("#action-error").textContent = error; return; }
    const body = { action, note: $("#action-note").value || null, data };
    try {
      await api(`/api/v1/cases/${c.id}/transitions`, { method: "POST", body });
      await showCase(c.id, show);
      refreshLayers();
      renderPanel();
    } catch (err) {
      $("#action-error").textContent = err instanceof ApiError ? err.message : String(err);
    }
  });
}

// Cases whose point lies in a cell (from the points already on the map).
export async function casesInCellHtml(code) {
  if (!points.features.length) return "";
  let bbox;
  try {
    bbox = (await api("/api/v1/map/search", { method: "POST", body: { q: code } })).cell?.bbox;
  } catch { return ""; }
  if (!bbox) return "";
  const inside = points.features.filter(({ geometry: { coordinates: [x, y] } }) =>
    x >= bbox[0] && x < bbox[2] && y >= bbox[1] && y < bbox[3]);
  if (!inside.length) return "";
  return `<h4>${t("cases")} (${inside.length})</h4><ul>${inside.slice(0, 20).map((f) =>
    `<li>${h(f.properties.number)} · ${h(stateName(f.properties.state))}</li>`).join("")}</ul>`;
}

// A case number (yyyymmdd + serial) typed into the search box.
export async function searchCase(q) {
  if (!/^\d{13}$/.test(q)) return null;
  try {
    return await api(`/api/v1/cases/${q}`);
  } catch { return null; }
}

export async function attach(m, show) {
  map = m;
  showDetail = show;
  const ok = await renderPanel();
  if (!ok) {
    for (const id of ["cases-clusters", "cases-points", "cases-heat"]) map.setLayoutProperty(id, "visibility", "none");
    return;
  }
  await refreshLayers();
  map.on("zoomend", () => refreshHeat());
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
}
