// The command dashboard (一图指挥): login, the map and its layers, drill-down, search, and the
// case panel (cases.js). The page shows only what the API returns for this user.
import { api, escapeHtml as h, session } from "./api.js";
import { applyI18n, enumName, t, toggleLang } from "./i18n.js";
import { LAYER_GROUPS, boxPolygon, createMap, highlight, setGroupVisible } from "./map.js";
import * as cases from "./cases.js";
import { codeLine } from "./cases.js";

const $ = (sel) => document.querySelector(sel);
let map;

function showDetail(html) {
  $("#detail-body").innerHTML = html;
  $("#detail").hidden = false;
}

async function copyCode(ev) {
  const btn = ev.target.closest("button[data-copy]");
  if (!btn) return;
  ev.preventDefault();
  try {
    await navigator.clipboard.writeText(btn.dataset.copy);
  } catch {
    // no clipboard permission (e.g. plain http): select the text for Ctrl+C instead
    const range = document.createRange();
    range.selectNodeContents(btn.previousElementSibling);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  }
  btn.textContent = t("copied");
}

function hideDetail() {
  $("#detail").hidden = true;
  if (map) highlight(map, null);
}

function failure(err) {
  const msg = err.status === 403 ? t("forbidden") : `${t("error")}: ${err.message}`;
  return `<p class="error">${h(msg)}</p>`;
}

// --- login ---------------------------------------------------------------------------------

let loggingIn = false;

async function login(ev) {
  ev.preventDefault();
  // one login at a time: a second submit while the first is in flight would change the
  // one-time password twice, and the second change revokes the first one's session
  if (loggingIn) return;
  loggingIn = true;
  try {
    await loginOnce();
  } finally {
    loggingIn = false;
  }
}

async function loginOnce() {
  const username = $("#login-user").value.trim();
  const password = $("#login-pass").value;
  $("#login-error").textContent = "";
  try {
    let out = await api("/api/v1/auth/login", {
      method: "POST", body: { username, password }, auth: false,
    });
    session.set(out.token, { username: out.username, role: out.role });
    if (out.must_change_password) {
      // a one-time password: every endpoint but this one answers 403 until it is changed
      const fresh = $("#login-new-pass").value;
      if (!fresh) {
        $("#new-pass-row").hidden = false;
        $("#login-error").textContent = t("must_change_password");
        session.clear();
        return;
      }
      await api("/api/v1/auth/password", {
        method: "POST", body: { current_password: password, new_password: fresh },
      });
      session.clear();
      out = await api("/api/v1/auth/login", {
        method: "POST", body: { username, password: fresh }, auth: false,
      });
      session.set(out.token, { username: out.username, role: out.role });
      $("#login-new-pass").value = "";
      $("#new-pass-row").hidden = true;
    }
    $("#login-pass").value = "";
    await start();
  } catch (err) {
    $("#login-error").textContent = `${t("login_failed")}: ${err.message}`;
  }
}

async function logout() {
  try { await api("/api/v1/auth/logout", { method: "POST" }); } catch { /* already gone */ }
  session.clear();
  window.location.reload();
}

// --- drill-down ----------------------------------------------------------------------------

async function showBuilding(feature) {
  highlight(map, feature.geometry);
  showDetail(`<p>…</p>`);
  try {
    const d = await api(`/api/v1/registry/buildings/${feature.id}`);
    const b = d.building;
    const floors = new Map();
    for (const r of d.rooms) {
      if (!floors.has(r.floor)) floors.set(r.floor, []);
      floors.get(r.floor).push(r);
    }
    const rows = [...floors.keys()].sort((a, b) => b - a).map((f) => {
      const rooms = floors.get(f).map((r) => {
        const people = r.residents.map((p) =>
          `<li>${h(p.person.name)} · ${h(enumName(p.relation))} · ${h(p.person.phone ?? "")} ${h(p.person.id_number ?? "")}</li>`,
        ).join("");
        return `<details class="room" data-room="${r.id}"><summary>${t("unit")} ${r.unit} · ${h(r.number)}
          <span class="tag ${h(r.use)}">${h(enumName(r.use))}</span> (${r.residents.length})</summary>
          <ul>${people || `<li class="muted">${t("no_residents")}</li>`}</ul>
          ${codeLine(r.code3d)}</details>`;
      }).join("");
      return `<div class="floor"><div class="floor-no">${f}F</div><div class="floor-rooms">${rooms}</div></div>`;
    }).join("");
    showDetail(`<h3 id="building-title">${h(b.name)} ${h(b.door_number)}</h3>
      <dl><dt>${t("floors")}</dt><dd>${b.floors}</dd><dt>${t("height")}</dt><dd>${b.height_m} m</dd>
      <dt>${t("use")}</dt><dd id="building-use">${h(enumName(b.use))}</dd><dt>${t("grid_code")}</dt><dd>${codeLine(b.code3d, "building-code")}</dd></dl>
      <h4>${t("rooms")} (${d.rooms.length})</h4><p class="muted small">${t("masked_note")}</p>
      <div class="floors">${rows}</div>`);
  } catch (err) {
    showDetail(`<h3>${t("building")} ${h(feature.properties.name)}</h3>${failure(err)}`);
  }
}

async function showCell(code, gridCode, geometry) {
  highlight(map, geometry);
  showDetail(`<p>…</p>`);
  let html = `<h3>${t("cell")}</h3><p class="code" id="cell-code">${h(code)}</p>`;
  if (code) try {
    const c = await api(`/api/v1/registry/cells/${encodeURIComponent(code)}/people`);
    html += `<h4>${t("population")}: ${c.total}</h4><ul>${Object.entries(c.population)
      .map(([k, v]) => `<li>${h(enumName(k))}: ${v}</li>`).join("")}</ul>`;
  } catch (err) { html += failure(err); }
  if (gridCode) {
    try {
      const g = await api(`/api/v1/registry/grids/${encodeURIComponent(gridCode)}/counts`);
      html += `<h4>${t("grid_counts")} · ${h(g.name)}</h4><dl>
        <dt>${t("population")}</dt><dd>${g.population_total}</dd>
        <dt>${t("elderly_alone")}</dt><dd>${g.elderly_living_alone}</dd>
        <dt>${t("buildings")}</dt><dd>${g.buildings}</dd>
        <dt>${t("rooms")}</dt><dd>${Object.entries(g.rooms).map(([k, v]) => `${h(enumName(k))} ${v}`).join(" · ")}</dd>
        <dt>${t("organisations")}</dt><dd>${g.organisations}</dd></dl>`;
    } catch (err) { html += failure(err); }
  }
  if (code) html += await cases.casesInCellHtml(code);
  showDetail(html);
}

// Click priority: a case, then a building, else the BeiDou cell under the point (its code comes
// from the server's grid library) with the management grid around it.
async function onClick(ev) {
  const caseHit = map.queryRenderedFeatures(ev.point, { layers: ["cases-points", "cases-clusters"] });
  if (caseHit.length) {
    const f = caseHit[0];
    if (f.properties.cluster) {
      const zoom = await map.getSource("cases").getClusterExpansionZoom(f.properties.cluster_id);
      map.easeTo({ center: f.geometry.coordinates, zoom });
    } else {
      cases.showCase(f.properties.id, showDetail);
    }
    return;
  }
  const building = map.queryRenderedFeatures(ev.point, { layers: ["buildings-3d"] });
  if (building.length) {
    showBuilding(building[0]);
    return;
  }
  try {
    const { lng, lat } = ev.lngLat;
    const cell = await api(`/api/v1/map/cell?lon=${lng}&lat=${lat}&zoom=${Math.floor(map.getZoom())}`);
    const grid = map.queryRenderedFeatures(ev.point, { layers: ["grids-fill"] });
    await showCell(cell.code, grid[0]?.properties.code, boxPolygon(cell.bbox));
  } catch (err) {
    showDetail(failure(err));
  }
}

// --- search --------------------------------------------------------------------------------

const ID_NUMBER = /^\d{17}[\dXx]$/;
const PHONE = /^1\d{10}$/;
const CELL = /^[NSns]\d{2}[A-Va-v]/;

async function search(ev) {
  ev.preventDefault();
  const q = $("#search").value.trim();
  if (!q) return;
  const out = $("#search-results");
  out.hidden = false;
  out.innerHTML = "…";
  const parts = [];
  // Person keys go in a POST body, never in a URL (registry search: masked, audited).
  let personBody = null;
  if (ID_NUMBER.test(q)) personBody = { id_number: q };
  else if (PHONE.test(q)) personBody = { phone: q };
  else if (!CELL.test(q) && !/^\d+$/.test(q) && q.length <= 5) personBody = { name: q };
  const jobs = [
    api("/api/v1/map/search", { method: "POST", body: { q } }).catch(() => null),
    personBody ? api("/api/v1/registry/people/search", { method: "POST", body: personBody })
      .catch(() => null) : Promise.resolve(null),
    cases.searchCase(q),
  ];
  const [place, people, found] = await Promise.all(jobs);
  if (place?.cell) {
    parts.push(`<li><a href="#" data-bbox="${place.cell.bbox.join(",")}" data-cell="${h(place.cell.code)}">${t("cell")} ${h(place.cell.code)} (L${place.cell.level})</a></li>`);
  }
  for (const n of place?.nodes || []) {
    if (n.bbox) parts.push(`<li><a href="#" data-bbox="${n.bbox.join(",")}">${h(n.name)} · ${h(n.code)}</a></li>`);
  }
  for (const a of place?.addresses || []) {
    parts.push(`<li><a href="#" data-point="${a.lon},${a.lat}">${h(a.full_name)}</a></li>`);
  }
  for (const p of people?.items || []) {
    parts.push(`<li class="person">${t("people")}: ${h(p.name)} · ${h(p.id_number ?? "")} · ${h(p.phone ?? "")}</li>`);
  }
  if (found) parts.push(`<li><a href="#" data-case="${found.id}">${t("case")} ${h(found.number)} · ${h(found.title)}</a></li>`);
  out.innerHTML = parts.length ? `<ul>${parts.join("")}</ul>` : `<p class="muted">${t("no_results")}</p>`;
}

function onResultClick(ev) {
  const a = ev.target.closest("a");
  if (!a) return;
  ev.preventDefault();
  $("#search-results").hidden = true;
  if (a.dataset.bbox) {
    const bb = a.dataset.bbox.split(",").map(Number);
    map.fitBounds([[bb[0], bb[1]], [bb[2], bb[3]]], { padding: 60, maxZoom: 18 });
    if (a.dataset.cell) highlight(map, boxPolygon(bb));
  } else if (a.dataset.point) {
    const [lon, lat] = a.dataset.point.split(",").map(Number);
    map.flyTo({ center: [lon, lat], zoom: 17.5 });
  } else if (a.dataset.case) {
    cases.showCase(Number(a.dataset.case), showDetail);
  }
}

// --- start ---------------------------------------------------------------------------------

function buildLayerPanel() {
  const box = $("#layers-list");
  box.innerHTML = Object.keys(LAYER_GROUPS).map((g) =>
    `<label><input type="checkbox" data-group="${g}" ${g === "heat" ? "" : "checked"}> ${t(g)}</label>`,
  ).join("");
  box.addEventListener("change", (ev) => {
    const g = ev.target.dataset.group;
    if (g) setGroupVisible(map, g, ev.target.checked);
  });
}

async function start() {
  const user = session.user;
  if (!session.token || !user) {
    $("#login").hidden = false;
    return;
  }
  $("#login").hidden = true;
  $("#who").textContent = `${user.username} · ${enumName(user.role)}`;
  const config = await api("/api/v1/map/config", { auth: false });
  map = createMap("map", config);
  window.yituMap = map; // for the browser tests and the console
  buildLayerPanel();
  map.on("click", onClick);
  map.on("mouseenter", "buildings-3d", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "buildings-3d", () => { map.getCanvas().style.cursor = ""; });
  map.on("load", () => {
    document.body.dataset.mapReady = "1";
    cases.attach(map, showDetail);
  });
}

function init() {
  applyI18n();
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  $("#lang").addEventListener("click", () => { toggleLang(); window.location.reload(); });
  $("#search-form").addEventListener("submit", search);
  $("#search-results").addEventListener("click", onResultClick);
  $("#detail-close").addEventListener("click", hideDetail);
  $("#detail-body").addEventListener("click", copyCode);
  window.addEventListener("yitu:logged-out", () => { $("#login").hidden = false; });
  start();
}

init();
