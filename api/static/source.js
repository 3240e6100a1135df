// Source views: one station (#/station/{id}) or one outlet (#/outlet/{mn}): latest values, a
// series chart over 24 h / 7 d / 30 d, the nearest 3 stations, and the source's findings.
import {
  aqiBadge, api, categoryName, distanceKm, errorBox, esc, explain, href, num, offsetMinutes,
  pollutantName, state, t, tCode, wall, wallAt,
} from "./app.js";
import { seriesChart } from "./charts.js";

const RANGES = { "24h": 86400000, "7d": 7 * 86400000, "30d": 30 * 86400000 };
const COLOURS = { pm25: "#1f77b4", pm10: "#8c564b", aqi: "#d62728", measured: "#7f7f7f",
  converted: "#1f77b4", limit: "#d62728", neighbour: "#b0b8c1" };
const HOUR = 3600000;

/** The time window to show: the range ending after the source's newest data (replayed or late
 * data still shows), or now when it has none. Returns epoch ms and the query parameters. */
function windowOf(range, newestIso) {
  const newest = newestIso ? Date.parse(newestIso) : Date.now();
  const to = Math.ceil((newest + 1) / HOUR) * HOUR;
  const from = to - RANGES[range];
  const query = `start=${encodeURIComponent(new Date(from).toISOString())}`
    + `&end=${encodeURIComponent(new Date(to).toISOString())}`;
  return { from, to, query, hourly: range !== "24h" };
}

const pointsOf = (series, field) => series.points.map((p) => [Date.parse(p.time),
  typeof p[field] === "number" ? p[field] : null]);

function rangeButtons(ctx, range) {
  return `<div class="ranges">${Object.keys(RANGES).map((r) => `<a data-testid="range-${r}" `
    + `class="button ${r === range ? "active" : ""}" href="${href(ctx.path[0], ctx.path[1],
      { ...Object.fromEntries(ctx.query), range: r })}">${esc(t("range." + r))}</a>`).join("")}</div>`;
}

/** All stations with coordinates, from the overview snapshot or /api/stations. */
async function allStations() {
  if (state.overview?.stations?.length) return state.overview.stations;
  const listing = await api("/api/stations");
  return listing.data.map((s) => ({ id: s.id, name: s.name, lat: s.lat, lon: s.lon,
    aqi: s.aqi?.aqi ?? null, colour: s.aqi?.colour ?? null, category: s.aqi?.category ?? null,
    category_en: s.aqi?.category_en ?? null, pm25: s.latest?.values?.pm25 ?? null,
    time: s.latest?.time ?? null }));
}

/** The nearest 3 stations to (lat, lon), computed here from coordinates. */
async function nearestStations(lat, lon, exceptId) {
  const stations = await allStations();
  return stations.filter((s) => s.id !== exceptId && Number.isFinite(s.lat))
    .map((s) => ({ ...s, km: distanceKm(lat, lon, s.lat, s.lon) }))
    .sort((a, b) => a.km - b.km).slice(0, 3);
}

function neighboursHtml(neighbours) {
  const rows = neighbours.map((s) => `<tr data-testid="neighbour-${esc(s.id)}"><td><a href="`
    + `${href("station", s.id)}">${esc(s.name)}</a> <span class="muted">${esc(s.id)}</span></td>`
    + `<td class="num">${num(s.km, 1)}</td><td>${aqiBadge(s.aqi, s.colour)} ${esc(categoryName(s))}</td>`
    + `<td class="num">${num(s.pm25)}</td><td>${esc(wall(s.time))}</td></tr>`).join("");
  return `<h2>${esc(t("source.neighbours"))}</h2><table class="list" data-testid="neighbours"><thead><tr>`
    + ["station", "km", "aqi", "pm25", "time"].map((k) => `<th>${esc(t("col." + k))}</th>`).join("")
    + `</tr></thead><tbody>${rows || `<tr><td colspan="5">${esc(t("none"))}</td></tr>`}</tbody></table>`;
}

/** A findings table (also used by the findings list). */
export function findingsTable(findings, testid = "source-findings") {
  const rows = findings.map((f) => `<tr data-testid="finding-row-${f.id}"><td>${f.id}</td>`
    + `<td>${esc(tCode("type.", f.type))}</td><td>${esc(f.source)}</td><td>${esc(pollutantName(f.pollutant))}</td>`
    + `<td>${esc(wall(f.start))} – ${esc(wall(f.end))}</td><td class="num">${num(f.score, 2)}</td>`
    + `<td>${f.case_id ? `<a href="${href("cases", String(f.case_id))}">#${f.case_id}</a>` : "—"}</td>`
    + `<td><button class="link" data-chart="${f.id}">${esc(t("findings.chart"))}</button></td></tr>`).join("");
  return `<table class="list" data-testid="${testid}"><thead><tr>`
    + ["id", "type", "source", "pollutant", "period", "score", "case", ""]
      .map((k) => `<th>${k ? esc(t("col." + k)) : ""}</th>`).join("")
    + `</tr></thead><tbody>${rows || `<tr><td colspan="8">${esc(t("none"))}</td></tr>`}</tbody></table>`
    + `<img class="evidence" data-testid="finding-chart" alt="" hidden>`;
}

/** Clicking a findings table's "chart" button shows the evidence PNG (fetched with the token). */
export function bindFindingCharts(container) {
  container.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-chart]");
    if (!button) return;
    const img = container.querySelector("[data-testid=finding-chart]");
    await showEvidence(img, Number(button.dataset.chart));
  });
}

/** Put finding `id`'s evidence chart into `img` as a blob URL (an <img> cannot send headers). */
export async function showEvidence(img, id) {
  try {
    const blob = await api(`/api/findings/${id}/chart.png?lang=${state.lang}`, { as: "blob" });
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
    img.alt = t("findings.chart_alt", { id });
    img.hidden = false;
  } catch (error) {
    img.hidden = false;
    img.removeAttribute("src");
    img.alt = explain(error);
  }
}

async function findingsOf(source) {
  try {
    const listing = await api(`/api/findings?source=${encodeURIComponent(source)}&limit=50`);
    return `<h2>${esc(t("source.findings"))} (${listing.count})</h2>${findingsTable(listing.data)}`;
  } catch (error) {
    return `<h2>${esc(t("source.findings"))}</h2>${errorBox(error)}`;
  }
}

// ---------------------------------------------------------------- station

/** Hourly station AQI: /api/stations/{id}/aqi when the server has it, else the daily AQI. */
async function stationAqi(id, window) {
  try {
    const series = await api(`/api/stations/${encodeURIComponent(id)}/aqi?${window.query}`);
    return { name: t("series.aqi"), points: pointsOf(series, "aqi") };
  } catch (error) {
    if (!(error.missingEndpoint || error.status === 404 || error.status === 405)) throw error;
    const daily = await api(`/api/stations/${encodeURIComponent(id)}/daily?${window.query}`);
    return { name: t("series.aqi_daily"), points: pointsOf(daily, "aqi") };
  }
}

async function stationChart(station, range, neighbours) {
  const window = windowOf(range, station.latest?.time);
  const every = window.hourly ? "&every_s=3600" : "";
  const seriesOf = (id) => api(`/api/stations/${encodeURIComponent(id)}/series`
    + `?pollutants=pm25,pm10&${window.query}${every}`);
  const [own, aqi, ...others] = await Promise.all([seriesOf(station.id),
    stationAqi(station.id, window).catch(() => null),
    ...neighbours.map((n) => seriesOf(n.id).catch(() => null))]);
  const series = [
    ...others.map((s, i) => s && { name: `PM2.5 ${neighbours[i].name}`, colour: COLOURS.neighbour,
      points: pointsOf(s, "pm25"), width: 1, dash: true, legend: false }).filter(Boolean),
    { name: "PM2.5", colour: COLOURS.pm25, points: pointsOf(own, "pm25") },
    { name: "PM10", colour: COLOURS.pm10, points: pointsOf(own, "pm10") },
  ];
  if (aqi) series.push({ ...aqi, colour: COLOURS.aqi, axis: "right" });
  const shownNeighbours = series.find((s) => s.legend === false);
  if (shownNeighbours) shownNeighbours.legend = t("series.neighbours");
  const empty = !own.count;
  return (empty ? `<p class="muted">${esc(t("chart.no_data"))}</p>` : "") + seriesChart({
    from: window.from, to: window.to, offsetMin: offsetMinutes(station.latest?.time ?? own.start),
    units: { left: "µg/m³", right: "AQI" }, series,
  });
}

export async function stationPage(ctx) {
  const id = ctx.path[1];
  const range = RANGES[ctx.query.get("range")] ? ctx.query.get("range") : "24h";
  const station = await api(`/api/stations/${encodeURIComponent(id)}`);
  if (!ctx.alive()) return;
  const a = station.aqi;
  const values = station.latest?.values ?? {};
  const head = `<h1>${esc(station.name)} <span class="muted">${esc(station.id)}</span></h1>`
    + `<p>${esc(station.city)} · ${esc(station.district)} · ${esc(t("source.latest"))} ${esc(wall(station.latest?.time))}</p>`
    + `<div class="cards"><div class="card"><h3>AQI</h3><div class="big">${aqiBadge(a?.aqi, a?.colour)} `
    + `${esc(categoryName(a))}</div><div>${esc(t("city.primary"))}: `
    + `${esc((a?.primary ?? []).map(pollutantName).join(", ") || "—")}</div></div>`
    + `<div class="card"><h3>${esc(t("source.values"))}</h3><table class="kv">`
    + Object.entries(values).map(([p, v]) => `<tr><th>${esc(pollutantName(p))}</th>`
      + `<td class="num">${num(v)}</td><td>${esc(station.latest.flags?.[p] && station.latest.flags[p] !== "N"
        ? station.latest.flags[p] : "")}</td></tr>`).join("") + `</table></div></div>`;
  ctx.show(`${head}${rangeButtons(ctx, range)}<div id="chart">${esc(t("loading"))}</div>`
    + `<div id="neighbours"></div><div id="findings"></div>`);
  const part = (sel, html) => { if (ctx.alive()) ctx.view.querySelector(sel).innerHTML = html; };
  bindFindingCharts(ctx.view.querySelector("#findings"));
  const neighbours = await nearestStations(station.lat, station.lon, station.id).catch(() => []);
  part("#neighbours", neighboursHtml(neighbours));
  findingsOf(station.id).then((html) => part("#findings", html));
  part("#chart", await stationChart(station, range, neighbours).catch(errorBox));
}

// ---------------------------------------------------------------- outlet

/** Hours (epoch ms → flag letter) in which the unit flagged `pollutant` (anything but N):
 * from its hourly records (HJ 212 2061), or its minute records grouped by hour. */
async function flaggedHours(mn, pollutant, window) {
  const flags = new Map();
  const read = (kind) => api(`/api/outlets/${encodeURIComponent(mn)}/series?kind=${kind}`
    + `&fields=${pollutant}_flag&${window.query}&limit=100000`);
  let series = await read("hourly").catch(() => null);
  if ((!series || !series.count) && window.to - window.from <= RANGES["7d"]) {
    series = await read("minute").catch(() => null);
  }
  for (const p of series?.points ?? []) {
    const flag = p[`${pollutant}_flag`];
    if (typeof flag !== "string" || flag === "N") continue;
    const hour = Math.floor(Date.parse(p.time) / HOUR) * HOUR;
    flags.set(hour, flags.has(hour) && flags.get(hour) !== flag ? `${flags.get(hour)},${flag}` : flag);
  }
  return flags;
}

async function outletChart(outlet, pollutant, range) {
  const newest = [outlet.latest?.time, outlet.last_hour?.time].filter(Boolean).sort().pop();
  const window = windowOf(range, newest);
  const fields = [pollutant, `${pollutant}_zs`].join(",");
  const [judged, flags] = await Promise.all([
    api(`/api/outlets/${encodeURIComponent(outlet.mn)}/series?kind=judged&fields=${fields}`
      + `&${window.query}`),
    flaggedHours(outlet.mn, pollutant, window)]);
  const measured = pointsOf(judged, pollutant);
  const converted = pointsOf(judged, `${pollutant}_zs`);
  const byHour = new Map(converted.map(([ms, v], i) => [Math.floor(ms / HOUR) * HOUR, v ?? measured[i][1]]));
  const limit = outlet.limits?.[pollutant];
  const offsetMin = offsetMinutes(newest ?? judged.start);
  return (judged.count ? "" : `<p class="muted">${esc(t("chart.no_data"))}</p>`) + seriesChart({
    from: window.from, to: window.to, offsetMin, units: { left: t("unit.mgm3") },
    series: [
      { name: t("series.measured", { p: pollutantName(pollutant) }), colour: COLOURS.measured, points: measured, width: 1.5 },
      { name: t("series.converted", { p: pollutantName(pollutant) }), colour: COLOURS.converted, points: converted },
    ],
    lines: Number.isFinite(limit) ? [{ value: limit, colour: COLOURS.limit,
      label: t("series.limit", { value: limit }) }] : [],
    marks: [...flags].map(([ms, flag]) => ({ ms, value: byHour.get(ms) ?? null,
      label: t("chart.flag", { flag, time: wallAt(ms, offsetMin) }) })),
  });
}

function outletValuesHtml(outlet) {
  const l = outlet.latest;
  if (!l) return `<p class="muted">${esc(t("source.no_data"))}</p>`;
  const rows = Object.entries(l.measured).map(([p, v]) => {
    const flag = l.flags?.[p];
    return `<tr><th>${esc(pollutantName(p))}</th><td class="num">${num(v, 2)}</td>`
      + `<td class="num">${p in (l.converted ?? {}) ? num(l.converted[p], 2) : ""}</td>`
      + `<td class="num">${outlet.limits?.[p] ?? ""}</td>`
      + `<td class="${flag && flag !== "N" ? "flag" : ""}">${esc(flag ?? "")}${flag && flag !== "N"
        ? " " + esc(tCode("flag.", flag)) : ""}</td></tr>`;
  }).join("");
  return `<table class="kv"><thead><tr><th></th><th>${esc(t("col.measured"))}</th>`
    + `<th>${esc(t("col.converted"))}</th><th>${esc(t("col.limit"))}</th><th>${esc(t("col.flag"))}</th></tr>`
    + `</thead><tbody>${rows}</tbody></table><p class="muted">${esc(wall(l.time))} · ${esc(l.kind)}</p>`;
}

export async function outletPage(ctx) {
  const mn = ctx.path[1];
  const range = RANGES[ctx.query.get("range")] ? ctx.query.get("range") : "24h";
  const outlet = await api(`/api/outlets/${encodeURIComponent(mn)}`);
  if (!ctx.alive()) return;
  const limited = Object.keys(outlet.limits ?? {});
  const choices = limited.length ? limited : ["particulate", "so2", "nox"];
  const pollutant = choices.includes(ctx.query.get("p")) ? ctx.query.get("p")
    : (outlet.last_hour?.exceeding?.[0] ?? choices[0]);
  const status = outlet.status ?? {};
  const picker = `<div class="ranges">${choices.map((p) => `<a class="button ${p === pollutant ? "active" : ""}" `
    + `data-testid="pollutant-${p}" href="${href("outlet", mn, { ...Object.fromEntries(ctx.query), p })}">`
    + `${esc(pollutantName(p))}</a>`).join("")}</div>`;
  ctx.show(`<h1>${esc(outlet.name)} <span class="muted">${esc(outlet.mn)}</span></h1>`
    + `<p>${esc(outlet.enterprise)} · ${esc(outlet.industry)} · ${esc(outlet.city)} ${esc(outlet.district)}`
    + ` · ${esc(t("source.reference_o2"))} ${esc(outlet.reference_o2 ?? "—")} %</p>`
    + `<p data-testid="outlet-status" data-status="${esc(status.code)}"><strong>${esc(tCode("outlet.", status.code))}</strong>`
    + ` <span class="muted">${esc(status.text ?? "")}</span></p>`
    + `<div class="card">${outletValuesHtml(outlet)}</div>`
    + `${picker}${rangeButtons(ctx, range)}<div id="chart">${esc(t("loading"))}</div>`
    + `<div id="neighbours"></div><div id="findings"></div>`);
  const part = (sel, html) => { if (ctx.alive()) ctx.view.querySelector(sel).innerHTML = html; };
  bindFindingCharts(ctx.view.querySelector("#findings"));
  nearestStations(outlet.lat, outlet.lon, null).then((n) => part("#neighbours", neighboursHtml(n)),
    (error) => part("#neighbours", errorBox(error)));
  findingsOf(outlet.mn).then((html) => part("#findings", html));
  part("#chart", await outletChart(outlet, pollutant, range).catch(errorBox));
}
