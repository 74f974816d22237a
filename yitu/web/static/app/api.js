// The one way the pages talk to yitu: bearer token from sessionStorage, JSON in and out,
// problem+json errors turned into exceptions that carry the server's own `detail`.
const TOKEN = "yitu.token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  set(token, user) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem("yitu.user", JSON.stringify(user));
  },
  get user() { return JSON.parse(sessionStorage.getItem("yitu.user") || "null"); },
  clear() { sessionStorage.removeItem(TOKEN); sessionStorage.removeItem("yitu.user"); },
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export async function api(path, { method = "GET", body, form, auth = true } = {}) {
  const headers = {};
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401 && auth) {
    session.clear();
    window.dispatchEvent(new Event("yitu:logged-out"));
  }
  if (!res.ok) {
    let detail = "";
    try { detail = (await res.json()).detail; } catch { /* not JSON */ }
    throw new ApiError(res.status, detail);
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}
