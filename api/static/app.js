// Lantian dashboard core: language, token, API calls, formatting, live updates, hash router.
// No library: every other module (map.js, charts.js, pages*.js) imports from here.
import { DICTIONARIES } from "./i18n.js";

export const state = {
  lang: localStorage.getItem("lantianLang") === "en" ? "en" : "zh",
  me: null,          // /api/me, or null when unknown
  meError: null,     // why /api/me could not be read
  overview: null,    // the latest /api/overview snapshot (from the live stream or polling)
  overviewError: null,
  liveMode: "connecting",  // connecting | live | polling | offline
  generation: 0,     // bumped on every navigation, so late answers of old pages are dropped
  routes: [],
};
const listeners = new Set();  // called with each new overview snapshot

// ---------------------------------------------------------------- i18n

/** The text of `key` in the current language, `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = DICTIONARIES[state.lang][key] ?? DICTIONARIES.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** `key` looked up under a prefix (e.g. "status." + code), falling back to the raw code. */
export function tCode(prefix, code) {
  if (code === null || code === undefined || code === "") return "—";
  const key = prefix + code;
  return key in DICTIONARIES[state.lang] ? t(key) : String(code);
}

export function setLanguage(lang) {
  state.lang = lang === "en" ? "en" : "zh";
  localStorage.setItem("lantianLang", state.lang);
  document.documentElement.lang = state.lang === "en" ? "en" : "zh-CN";
}

// ---------------------------------------------------------------- formatting

export const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => (
  { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

/** A number with `digits` decimals, or a dash for missing values. */
export const num = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(Number(v))
  ? "—" : Number(v).toFixed(digits));

/** An ISO 8601 time from the API (already in the bureau's local offset) as "YYYY-MM-DD HH:MM"
 * in that offset, whatever the browser's own time zone. */
export const wall = (iso) => (iso ? String(iso).replace("T", " ").slice(0, 16) : "—");

/** The UTC offset in minutes written in an ISO 8601 time ("+08:00" → 480; "Z" → 0). */
export function offsetMinutes(iso) {
  const m = /([+-])(\d\d):?(\d\d)$/.exec(String(iso ?? ""));
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** Epoch milliseconds as wall time at `offsetMin`, as "YYYY-MM-DD HH:MM". */
export function wallAt(ms, offsetMin) {
  return new Date(ms + offsetMin * 60000).toISOString().slice(0, 16).replace("T", " ");
}

/** Black or white text, whichever reads better on `colour` (#rrggbb). */
export function textOn(colour) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour ?? "");
  if (!m) return "#000";
  const [r, g, b] = m.slice(1).map((h) => parseInt(h, 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#000" : "#fff";
}

/** An AQI badge coloured with its HJ 633 category colour. */
export function aqiBadge(aqi, colour, title = "") {
  if (aqi === null || aqi === undefined) return `<span class="aqi none">—</span>`;
  return `<span class="aqi" title="${esc(title)}" style="background:${esc(colour)};`
    + `color:${textOn(colour)}">${esc(aqi)}</span>`;
}

/** A case's title in the current language (the API derives the Chinese one, api/case_titles.py). */
export const caseTitle = (c) => (state.lang === "zh" ? c.title_zh ?? c.title : c.title);

/** The HJ 633 category name of an AQI record ({category, category_en}) in the current language. */
export const categoryName = (a) => (a ? (state.lang === "en" ? a.category_en : a.category) ?? "" : "");

export const pollutantName = (p) => tCode("pollutant.", p);

/** Primary pollutants as the overview sends them ("pm25,pm10" or null), for people. */
export const primaryNames = (primary) => (primary
  ? String(primary).split(",").filter(Boolean).map(pollutantName).join(", ") : "");

/** Great-circle distance in km between two WGS-84 points (degrees). */
export function distanceKm(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const a = Math.sin((lat2 - lat1) * rad / 2) ** 2
    + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin((lon2 - lon1) * rad / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
}

// ---------------------------------------------------------------- token and API

/** The token from the link `make run` prints (?token=…), kept in this browser afterwards and
 * removed from the address bar at once so it does not end up in history or logs. */
function takeTokenFromUrl() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token) {
    localStorage.setItem("lantianToken", token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
}

export function authHeaders() {
  const token = localStorage.getItem("lantianToken");
  return token ? { Authorization: "Bearer " + token } : {};
}

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.path = path;
    // FastAPI answers an unknown route with exactly this detail: the server predates the page.
    this.missingEndpoint = status === 404 && detail === "Not Found";
  }
}

/** Call the API with the bearer token. `as`: "json" (default), "blob" or "response".
 * Throws ApiError with the server's `detail` (status 0 when the server cannot be reached). */
export async function api(path, { method = "GET", body, as = "json", signal } = {}) {
  const headers = authHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, String(error.message ?? error), path);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail ?? detail; } catch { /* not JSON */ }
    const error = new ApiError(response.status, detail, path);
    if (response.status === 401) showAuthProblem();
    throw error;
  }
  if (as === "response") return response;
  return as === "blob" ? response.blob() : response.json();
}

/** What went wrong, for people: missing token, server too old, unreachable, or its detail. */
export function explain(error) {
  if (!(error instanceof ApiError)) return t("err.unexpected", { error: String(error) });
  if (error.status === 401) return t("err.token");
  if (error.status === 403) return t("err.forbidden", { detail: error.message });
  if (error.missingEndpoint) return t("err.missing", { path: error.path.split("?")[0] });
  if (error.status === 0) return t("err.network", { error: error.message });
  return t("err.http", { status: error.status, detail: error.message });
}

export const errorBox = (error) => `<div class="error" data-testid="error">${esc(explain(error))}</div>`;

function showAuthProblem() {
  const box = document.getElementById("auth-message");
  box.textContent = t("err.token");
  box.hidden = false;
}

/** Fetch a file with the bearer token and save it (the name from Content-Disposition). */
export async function download(path, fallbackName) {
  const response = await api(path, { as: "response" });
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const match = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1] ?? match[2]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return name;
}

// ---------------------------------------------------------------- live updates (SSE over fetch)

/** Split SSE text into complete events; returns [events, rest] where rest is an incomplete
 * tail. Each event is {event, data}; comment lines (": keepalive") are skipped. */
export function parseSse(text) {
  const normalised = text.replace(/\r\n?/g, "\n");
  const blocks = normalised.split("\n\n");
  const rest = blocks.pop();
  const events = [];
  for (const block of blocks) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return [events, rest];
}

export function onOverview(listener) { listeners.add(listener); return () => listeners.delete(listener); }

function acceptOverview(snapshot) {
  state.overview = snapshot;
  state.overviewError = null;
  showLiveStatus();
  for (const listener of listeners) listener(snapshot);
}

function setLiveMode(mode) { state.liveMode = mode; showLiveStatus(); }

export function showLiveStatus() {
  const el = document.getElementById("live-status");
  if (!el) return;
  const at = state.overview?.generated_at;
  el.dataset.mode = state.liveMode;
  if (at) el.dataset.updated = at;
  const mode = t("live." + state.liveMode);
  const time = String(at ?? "").replace("T", " ").slice(11, 19);
  el.textContent = at ? t("live.updated", { mode, time }) : mode;
  el.title = at ? t("live.title", { time: wall(at), age: num(state.overview.age_s, 0) }) : "";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const STALL_MS = 40000;  // the server sends a keepalive every 15 s: 40 s of silence is a dead stream

/** Read /api/live until it ends or fails; resolves when the stream ends. */
async function streamLive() {
  const abort = new AbortController();
  let stall = setTimeout(() => abort.abort(), STALL_MS);
  try {
    const response = await api("/api/live", { as: "response", signal: abort.signal });
    if (!response.body) throw new Error("no response body");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      clearTimeout(stall);
      stall = setTimeout(() => abort.abort(), STALL_MS);
      const [events, rest] = parseSse(buffer + value);
      buffer = rest;
      for (const { event, data } of events) {
        if (event !== "overview") continue;
        setLiveMode("live");
        acceptOverview(JSON.parse(data));
      }
    }
  } finally {
    clearTimeout(stall);
  }
}

/** One /api/overview read (the polling fallback, and the first paint if the stream is slow). */
export async function pollOverview() {
  try {
    acceptOverview(await api("/api/overview"));
    return true;
  } catch (error) {
    state.overviewError = error;
    for (const listener of listeners) listener(null);
    return false;
  }
}

/** Live updates for the whole session: the SSE stream; when it fails, /api/overview every 10 s,
 * trying the stream again after a minute of polling. A 401 stops everything (no token). */
async function runLive() {
  for (;;) {
    try {
      setLiveMode("connecting");
      await streamLive();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) { setLiveMode("offline"); return; }
    }
    for (let i = 0; i < 6; i += 1) {
      setLiveMode((await pollOverview()) ? "polling" : "offline");
      if (state.overviewError?.status === 401) return;
      await sleep(10000);
    }
  }
}

// ---------------------------------------------------------------- router

/** The current hash as {path: ["cases", "12"], query: URLSearchParams}. */
export function currentRoute() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [pathPart, queryPart = ""] = hash.split("?");
  const path = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  return { path, query: new URLSearchParams(queryPart) };
}

/** A hash link: href("station", id) → "#/station/<id>", with optional query parameters. */
export function href(...parts) {
  const last = parts[parts.length - 1];
  const query = last && typeof last === "object" ? parts.pop() : null;
  const search = query ? new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== null && v !== undefined && v !== "")).toString() : "";
  return "#/" + parts.map((p) => encodeURIComponent(p)).join("/") + (search ? "?" + search : "");
}

/** Render the page the hash names into #view. Each page gets a context whose `alive()` turns
 * false once the user navigated away, so slow answers do not overwrite the next page. */
export function render() {
  const generation = ++state.generation;
  const { path, query } = currentRoute();
  const view = document.getElementById("view");
  const route = state.routes.find((r) => r.match(path)) ?? state.routes[state.routes.length - 1];
  document.querySelectorAll("nav a[data-nav]").forEach((a) => {
    a.classList.toggle("active", a.dataset.nav === route.nav);
  });
  const ctx = {
    path, query, view,
    alive: () => generation === state.generation,
    show: (html) => { if (generation === state.generation) view.innerHTML = html; },
  };
  view.innerHTML = `<p class="muted">${esc(t("loading"))}</p>`;
  Promise.resolve(route.page(ctx)).catch((error) => ctx.show(errorBox(error)));
}

function renderShell() {
  document.title = t("app.title");
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  const toggle = document.querySelector("[data-testid=lang-toggle]");
  toggle.textContent = t("lang.switch");
  toggle.title = t("lang.switch.title");
  const user = document.getElementById("user");
  user.textContent = state.me ? `${state.me.name} · ${tCode("role.", state.me.role)}`
    : (state.meError ? t("user.unknown") : "");
  user.title = state.meError ? explain(state.meError) : (state.me?.enterprise ?? "");
  const auth = document.getElementById("auth-message");
  if (!auth.hidden) auth.textContent = t("err.token");
  showLiveStatus();
}

async function loadMe() {
  try {
    state.me = await api("/api/me");
  } catch (error) {
    state.meError = error;
  }
}

/** Start the app: routes is [{match(path) → bool, page(ctx), nav}], the last one the fallback. */
export async function start(routes) {
  state.routes = routes;
  takeTokenFromUrl();
  setLanguage(state.lang);
  document.querySelector("[data-testid=lang-toggle]").addEventListener("click", () => {
    setLanguage(state.lang === "zh" ? "en" : "zh");
    renderShell();
    render();
  });
  window.addEventListener("hashchange", render);
  renderShell();
  if (!localStorage.getItem("lantianToken")) showAuthProblem();
  await loadMe();
  renderShell();
  render();
  runLive();
}
