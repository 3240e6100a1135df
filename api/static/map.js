// The overview map: stations and outlets placed from their coordinates, no tiles.
// Equirectangular projection (x scaled by cos of the mean latitude so distances look right at
// city scale), fitted to the bounding box of all points with a margin.
import { categoryName, esc, href, primaryNames, t, tCode } from "./app.js";

const NO_DATA = "#9aa5b1";

/** A projection of [lat, lon] points into a width × height box with `margin` px on each side:
 * returns (lat, lon) → [x, y] in px, north up. A single point (or points on one line) is
 * padded to 0.02° so it lands in the middle instead of dividing by zero. */
export function fitProjection(points, width, height, margin) {
  const lats = points.map((p) => p[0]);
  const lons = points.map((p) => p[1]);
  let [south, north, west, east] = [Math.min(...lats), Math.max(...lats),
    Math.min(...lons), Math.max(...lons)];
  const pad = 0.01;
  if (north - south < 2 * pad) { south -= pad; north += pad; }
  if (east - west < 2 * pad) { west -= pad; east += pad; }
  const kx = Math.cos(((north + south) / 2) * Math.PI / 180);
  const spanX = (east - west) * kx;
  const spanY = north - south;
  const scale = Math.min((width - 2 * margin) / spanX, (height - 2 * margin) / spanY);
  const offsetX = (width - spanX * scale) / 2;
  const offsetY = (height - spanY * scale) / 2;
  return (lat, lon) => [offsetX + (lon - west) * kx * scale, offsetY + (north - lat) * scale];
}

const located = (p) => Number.isFinite(p.lat) && Number.isFinite(p.lon);

function stationTitle(s) {
  const aqi = s.aqi === null || s.aqi === undefined ? t("map.no_aqi")
    : `AQI ${s.aqi} ${categoryName(s)}${s.primary ? " · " + primaryNames(s.primary) : ""}`;
  return `${s.name} (${s.id}) — ${aqi}`;
}

/** The map as an SVG string (data-testid="map"): stations as circles coloured by AQI category,
 * outlets as squares coloured by status; each links to its source view (data-href). */
export function mapSvg(overview, { width = 760, height = 520 } = {}) {
  const stations = (overview.stations ?? []).filter(located);
  const outlets = (overview.outlets ?? []).filter(located);
  const all = [...stations, ...outlets].map((p) => [p.lat, p.lon]);
  if (!all.length) {
    return `<svg data-testid="map" class="map" viewBox="0 0 ${width} 60" role="img">`
      + `<text x="12" y="35">${esc(t("map.empty"))}</text></svg>`;
  }
  const project = fitProjection(all, width, height, 40);
  const labels = stations.length + outlets.length <= 60;
  const parts = [`<svg data-testid="map" class="map" viewBox="0 0 ${width} ${height}" `
    + `role="img" aria-label="${esc(t("map.label"))}">`,
  `<rect class="map-bg" x="0" y="0" width="${width}" height="${height}"/>`];
  for (const o of outlets) {
    const [x, y] = project(o.lat, o.lon);
    const title = `${o.name} · ${o.enterprise} — ${tCode("outlet.", o.status)}`;
    parts.push(`<g class="site" data-href="${esc(href("outlet", o.mn))}" tabindex="0" role="link">`
      + `<rect data-testid="outlet-${esc(o.mn)}" x="${(x - 6).toFixed(1)}" y="${(y - 6).toFixed(1)}" `
      + `width="12" height="12" fill="${esc(o.colour ?? NO_DATA)}" stroke="#1b2733" `
      + `stroke-width="1"><title>${esc(title)}</title></rect>`
      + (labels ? `<text class="map-label" x="${(x + 9).toFixed(1)}" y="${(y + 4).toFixed(1)}">`
        + `${esc(o.name)}</text>` : "") + "</g>");
  }
  for (const s of stations) {
    const [x, y] = project(s.lat, s.lon);
    parts.push(`<g class="site" data-href="${esc(href("station", s.id))}" tabindex="0" role="link">`
      + `<circle data-testid="station-${esc(s.id)}" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="8" `
      + `fill="${esc(s.colour ?? NO_DATA)}" stroke="#1b2733" stroke-width="1">`
      + `<title>${esc(stationTitle(s))}</title></circle>`
      + (labels ? `<text class="map-label" x="${(x + 10).toFixed(1)}" y="${(y + 4).toFixed(1)}">`
        + `${esc(s.name)}${s.aqi === null || s.aqi === undefined ? "" : " " + esc(s.aqi)}</text>` : "")
      + "</g>");
  }
  parts.push("</svg>");
  return parts.join("");
}

/** Clicking (or Enter on) a site opens its source view. */
export function bindMap(container) {
  const open = (event) => {
    const site = event.target.closest("[data-href]");
    if (site) location.hash = site.dataset.href;
  };
  container.addEventListener("click", open);
  container.addEventListener("keydown", (event) => { if (event.key === "Enter") open(event); });
}

/** The legend: HJ 633 category colours and outlet status colours. */
export function legendHtml(overview) {
  const categories = [[1, "#00E400"], [2, "#FFFF00"], [3, "#FF7E00"], [4, "#FF0000"],
    [5, "#99004C"], [6, "#7E0023"]];
  const statusColours = new Map((overview.outlets ?? []).map((o) => [o.status, o.colour]));
  const station = categories.map(([level, colour]) => `<span class="key"><svg width="12" height="12">`
    + `<circle cx="6" cy="6" r="5" fill="${colour}" stroke="#1b2733"/></svg>${esc(t("level." + level))}</span>`);
  const outlets = [...statusColours].map(([status, colour]) => `<span class="key"><svg width="12" `
    + `height="12"><rect x="1" y="1" width="10" height="10" fill="${esc(colour)}" stroke="#1b2733"/>`
    + `</svg>${esc(tCode("outlet.", status))}</span>`);
  return `<div class="legend"><span class="muted">${esc(t("map.stations"))}</span> ${station.join("")}`
    + (outlets.length ? `<br><span class="muted">${esc(t("map.outlets"))}</span> ${outlets.join("")}` : "")
    + "</div>";
}
