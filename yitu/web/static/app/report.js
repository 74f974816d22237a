// The citizen page (随手拍, the mini-program's role): report a problem with a photo and a
// location, see the place's BeiDou grid code, follow a case by its number. No login.
import { api, escapeHtml as h } from "./api.js";
import { actionName, applyI18n, lang, stateName, t, toggleLang } from "./i18n.js";
import { createMap } from "./map.js";

const $ = (sel) => document.querySelector(sel);
let map;
let marker;
let point = null;

async function setPoint(lon, lat) {
  point = { lon, lat };
  if (!marker) marker = new maplibregl.Marker({ color: "#dc2626" });
  marker.setLngLat([lon, lat]).addTo(map);
  // the grid code of the place at the finest map level (level 7, about 7 m)
  const cell = await api(`/api/v1/map/cell?lon=${lon}&lat=${lat}&zoom=20`, { auth: false });
  $("#where").textContent = `${lon.toFixed(6)}, ${lat.toFixed(6)} · ${cell.code}`;
  $("#where").dataset.code = cell.code;
}

function locate() {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      setPoint(pos.coords.longitude, pos.coords.latitude);
      map.flyTo({ center: [pos.coords.longitude, pos.coords.latitude], zoom: 17 });
    },
    (err) => { $("#report-error").textContent = err.message; },
    { enableHighAccuracy: true, timeout: 10000 },
  );
}

async function submit(ev) {
  ev.preventDefault();
  $("#report-error").textContent = "";
  if (!point) {
    $("#report-error").textContent = `${t("location")}: ${t("report_tap")}`;
    return;
  }
  const form = new FormData();
  form.set("category_code", $("#category").value);
  form.set("description", $("#description").value);
  form.set("lon", String(point.lon));
  form.set("lat", String(point.lat));
  form.set("reporter_name", $("#reporter-name").value);
  form.set("reporter_phone", $("#reporter-phone").value);
  for (const file of $("#photo").files) form.append("photos", file);
  $("#send").disabled = true;
  try {
    const out = await api("/api/v1/citizen/reports", { method: "POST", form, auth: false });
    $("#case-number").textContent = out.number;
    $("#case-grid").textContent = out.grid_code;
    $("#report-ok").hidden = false;
    $("#report-form").reset();
    $("#follow-number").value = out.number;
    showCase(out);
  } catch (err) {
    $("#report-error").textContent = `${t("error")}: ${err.message}`;
  } finally {
    $("#send").disabled = false;
  }
}

function showCase(c) {
  const name = lang() === "zh" ? c.category_zh : c.category_en;
  const steps = c.timeline.map((e) =>
    `<li>${h(new Date(e.at).toLocaleString())} · ${h(actionName(e.action))}${
      e.state ? ` → ${h(stateName(e.state))}` : ""}</li>`).join("");
  $("#follow-out").innerHTML = `<p><b id="follow-state" data-state="${h(c.state)}">${h(stateName(c.state))}</b> · ${h(name)} · ${h(c.township)}</p>
    <p>${t("grid_code")}: <span class="code">${h(c.grid_code)}</span></p>
    <ul class="history">${steps}</ul>`;
}

async function follow(ev) {
  ev.preventDefault();
  const number = $("#follow-number").value.trim();
  try {
    showCase(await api(`/api/v1/citizen/reports/${encodeURIComponent(number)}`, { auth: false }));
  } catch (err) {
    $("#follow-out").innerHTML = `<p class="error">${h(err.message)}</p>`;
  }
}

async function init() {
  applyI18n();
  $("#lang").addEventListener("click", () => { toggleLang(); window.location.reload(); });
  const [config, categories] = await Promise.all([
    api("/api/v1/map/config", { auth: false }),
    api("/api/v1/citizen/categories", { auth: false }),
  ]);
  $("#category").innerHTML = categories.map((c) =>
    `<option value="${h(c.code)}">${h(c.major_zh)} · ${h(lang() === "zh" ? c.name_zh : c.name_en)}</option>`).join("");
  map = createMap("report-map", config, { publicTiles: true });
  window.yituMap = map;
  map.on("click", (e) => setPoint(e.lngLat.lng, e.lngLat.lat));
  map.on("load", () => { document.body.dataset.mapReady = "1"; });
  $("#locate").addEventListener("click", locate);
  $("#report-form").addEventListener("submit", submit);
  $("#follow-form").addEventListener("submit", follow);
}

init();
