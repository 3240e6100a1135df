// The screens: overview, reports, and the route table (source views in source.js, findings
// and cases in cases.js). Each page renders into ctx.view and checks ctx.alive() after awaits.
import {
  aqiBadge, api, categoryName, download, errorBox, esc, explain, href, num, onOverview,
  pollOverview, primaryNames, state, t, tCode, textOn, wall,
} from "./app.js";
import { bindMap, legendHtml, mapSvg } from "./map.js";
import { casePage, casesPage, findingsPage } from "./cases.js";
import { outletPage, stationPage } from "./source.js";

const EMERGENCY_COLOURS = { none: "#e3e8ee", blue: "#1e63d6", yellow: "#ffd400",
  orange: "#ff7e00", red: "#e00000" };

/** The city the overview shows: the one chosen before, else the first. */
function chosenCity(overview) {
  const cities = (overview.cities ?? []).map((c) => c.city);
  const stored = localStorage.getItem("lantianCity");
  return cities.includes(stored) ? stored : (cities[0] ?? null);
}

function bannerHtml(overview, city) {
  const alert = (overview.emergency ?? []).find((e) => e.city === city)
    ?? { city, level: "none", since: null, reason: null };
  const level = alert.level ?? "none";
  const colour = EMERGENCY_COLOURS[level] ?? EMERGENCY_COLOURS.none;
  const text = level === "none" ? t("emergency.none")
    : t("emergency.active", { level: t("emergency." + level), code: level });
  const detail = [alert.since ? t("emergency.since", { time: wall(alert.since) }) : "",
    alert.reason ?? ""].filter(Boolean).join(" · ");
  return `<div class="banner" data-testid="emergency-banner" data-level="${esc(level)}" `
    + `style="background:${colour};color:${textOn(colour)}"><strong>${esc(text)}</strong>`
    + `${city ? ` <span class="banner-city">${esc(city)}</span>` : ""}`
    + `${detail ? ` <span class="banner-detail">${esc(detail)}</span>` : ""}</div>`;
}

function cityAqiHtml(overview, city) {
  const record = (overview.cities ?? []).find((c) => c.city === city);
  if (!record || record.aqi === null || record.aqi === undefined) {
    return `<div class="card" data-testid="city-aqi"><h3>${esc(t("city.aqi"))}</h3>`
      + `<p class="muted">${esc(t("city.no_data"))}</p></div>`;
  }
  return `<div class="card city" data-testid="city-aqi" style="border-left-color:${esc(record.colour)}">`
    + `<h3>${esc(t("city.aqi"))} · ${esc(city)}</h3>`
    + `<div class="big">${aqiBadge(record.aqi, record.colour)} <span data-testid="city-category">`
    + `${esc(categoryName(record))}</span></div>`
    + `<div>${esc(t("city.primary"))}: <span data-testid="city-primary">`
    + `${esc(primaryNames(record.primary) || t("city.no_primary"))}</span></div>`
    + `<div class="muted">${esc(wall(record.time))}</div></div>`;
}

function caseCountsHtml(overview) {
  const counts = overview.cases ?? {};
  const item = (key, query) => `<a class="count" href="${href("cases", query)}">`
    + `<span class="n" data-testid="count-${key}">${esc(counts[key] ?? 0)}</span>`
    + `<span>${esc(t("cases.count." + key))}</span></a>`;
  return `<div class="card" data-testid="case-counts"><h3>${esc(t("cases.title"))}</h3>`
    + `<div class="counts">${item("open", {})}${item("overdue", {})}${item("escalated", {})}</div></div>`;
}

function stationRows(overview) {
  return (overview.stations ?? []).map((s) => `<tr><td><a href="${href("station", s.id)}">`
    + `${esc(s.name)}</a> <span class="muted">${esc(s.id)}</span></td><td>${esc(s.district)}</td>`
    + `<td>${aqiBadge(s.aqi, s.colour)}</td><td>${esc(categoryName(s))}</td>`
    + `<td>${esc(primaryNames(s.primary))}</td><td class="num">${num(s.pm25)}</td>`
    + `<td class="num">${num(s.pm10)}</td><td>${esc(wall(s.time))}</td></tr>`).join("");
}

function outletRows(overview) {
  return (overview.outlets ?? []).map((o) => `<tr><td><a href="${href("outlet", o.mn)}">`
    + `${esc(o.name)}</a> <span class="muted">${esc(o.mn)}</span></td><td>${esc(o.enterprise)}</td>`
    + `<td><span class="dot" style="background:${esc(o.colour)}"></span>${esc(tCode("outlet.", o.status))}</td>`
    + `<td>${esc(wall(o.time))}</td></tr>`).join("");
}

/** The overview body for one snapshot (everything below the page title). */
function overviewHtml(overview) {
  const city = chosenCity(overview);
  const cities = (overview.cities ?? []).map((c) => c.city);
  const picker = cities.length > 1 ? `<label>${esc(t("city.choose"))} <select data-testid="city-select">`
    + cities.map((c) => `<option ${c === city ? "selected" : ""}>${esc(c)}</option>`).join("")
    + "</select></label>" : "";
  return `${bannerHtml(overview, city)}${picker}<div class="cards">${cityAqiHtml(overview, city)}`
    + `${caseCountsHtml(overview)}</div>`
    + `<div class="map-wrap">${mapSvg(overview)}${legendHtml(overview)}</div>`
    + `<h2>${esc(t("stations.title"))}</h2><table class="list"><thead><tr>`
    + ["station", "district", "aqi", "category", "primary", "pm25", "pm10", "time"]
      .map((k) => `<th>${esc(t("col." + k))}</th>`).join("")
    + `</tr></thead><tbody>${stationRows(overview) || `<tr><td colspan="8">${esc(t("none"))}</td></tr>`}`
    + `</tbody></table>`
    + ((overview.outlets ?? []).length ? `<h2>${esc(t("outlets.title"))}</h2><table class="list">`
      + `<thead><tr>${["outlet", "enterprise", "status", "time"].map((k) => `<th>${esc(t("col." + k))}</th>`).join("")}`
      + `</tr></thead><tbody>${outletRows(overview)}</tbody></table>` : "");
}

async function overviewPage(ctx) {
  const paint = () => {
    if (state.overview) {
      ctx.show(`<div id="overview">${overviewHtml(state.overview)}</div>`);
    } else if (state.overviewError) {
      ctx.show(errorBox(state.overviewError));
    }
  };
  const stop = onOverview(() => { if (ctx.alive()) paint(); else stop(); });
  ctx.view.onchange = (event) => {
    if (event.target.matches("[data-testid=city-select]")) {
      localStorage.setItem("lantianCity", event.target.value);
      paint();
    }
  };
  bindOnce(ctx.view, "map", bindMap);
  if (state.overview || state.overviewError) paint();
  else await pollOverview();  // first paint without waiting for the stream
}

/** Attach a delegated handler to a long-lived container only once. */
function bindOnce(element, name, bind) {
  const key = "bound" + name;
  if (element.dataset[key]) return;
  element.dataset[key] = "1";
  bind(element);
}

// ---------------------------------------------------------------- reports

function todayLocal() {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

async function knownCities() {
  if (state.overview?.cities?.length) return state.overview.cities.map((c) => c.city);
  const stations = await api("/api/stations");
  return [...new Set(stations.data.map((s) => s.city))];
}

async function reportsPage(ctx) {
  let cities = [];
  let problem = "";
  try { cities = await knownCities(); } catch (error) { problem = errorBox(error); }
  if (!ctx.alive()) return;
  const langOption = (code) => `<option value="${code}" ${state.lang === code ? "selected" : ""}>`
    + `${esc(t("lang.name." + code))}</option>`;
  const exportButton = (format, lang) => `<button data-testid="ledger-${format}-${lang}" `
    + `data-format="${format}" data-lang="${lang}">${esc(t("reports.ledger." + format))} · `
    + `${esc(t("lang.name." + lang))}</button>`;
  ctx.show(`<h1>${esc(t("reports.title"))}</h1>${problem}
    <section class="card"><h3>${esc(t("reports.bulletin"))}</h3>
    <div class="filters">
      <label>${esc(t("reports.city"))} <select data-testid="report-city">${cities.map((c) =>
  `<option>${esc(c)}</option>`).join("")}</select></label>
      <label>${esc(t("reports.date"))} <input type="date" data-testid="report-date" value="${todayLocal()}"></label>
      <label>${esc(t("reports.lang"))} <select data-testid="report-lang">${langOption("zh")}${langOption("en")}</select></label>
      <button data-testid="report-open-html">${esc(t("reports.open_html"))}</button>
      <button data-testid="report-open-pdf">${esc(t("reports.open_pdf"))}</button>
    </div>
    <div data-testid="report-message" class="message"></div>
    <div id="report-actions" hidden><button data-testid="report-print">${esc(t("reports.print"))}</button>
      <a data-testid="report-tab" target="_blank" rel="noopener">${esc(t("reports.new_tab"))}</a></div>
    <iframe data-testid="report-frame" class="report-frame" sandbox="allow-same-origin allow-modals"
      title="${esc(t("reports.bulletin"))}" hidden></iframe>
    </section>
    <section class="card"><h3>${esc(t("reports.ledger"))}</h3><p class="muted">${esc(t("reports.ledger_note"))}</p>
    <div class="filters">${exportButton("xlsx", "zh")}${exportButton("xlsx", "en")}
      ${exportButton("csv", "zh")}${exportButton("csv", "en")}</div>
    <div data-testid="ledger-message" class="message"></div></section>`);
  const $ = (id) => ctx.view.querySelector(`[data-testid=${id}]`);
  const bulletinPath = (suffix) => `/reports/daily/${encodeURIComponent($("report-city").value)}${suffix}`
    + `?date=${encodeURIComponent($("report-date").value)}&lang=${$("report-lang").value}`;
  let frameUrl = null;
  $("report-open-html").onclick = async () => {
    $("report-message").textContent = t("loading");
    try {
      const blob = await api(bulletinPath(""), { as: "blob" });
      if (frameUrl) URL.revokeObjectURL(frameUrl);
      frameUrl = URL.createObjectURL(new Blob([blob], { type: "text/html" }));
      Object.assign($("report-frame"), { src: frameUrl, hidden: false });
      $("report-tab").href = frameUrl;
      ctx.view.querySelector("#report-actions").hidden = false;
      $("report-message").textContent = "";
    } catch (error) { $("report-message").textContent = explain(error); }
  };
  $("report-print").onclick = () => $("report-frame").contentWindow.print();
  $("report-open-pdf").onclick = async () => {
    $("report-message").textContent = t("loading");
    try {
      const name = await download(bulletinPath(".pdf"), `lantian-${$("report-date").value}.pdf`);
      $("report-message").textContent = t("reports.downloaded", { name });
    } catch (error) { $("report-message").textContent = explain(error); }
  };
  ctx.view.querySelectorAll("[data-format]").forEach((button) => {
    button.onclick = async () => {
      $("ledger-message").textContent = t("loading");
      try {
        const name = await download(`/api/ledger/export?format=${button.dataset.format}`
          + `&lang=${button.dataset.lang}`, `lantian-ledger.${button.dataset.format}`);
        $("ledger-message").textContent = t("reports.downloaded", { name });
      } catch (error) { $("ledger-message").textContent = explain(error); }
    };
  });
}

async function notFoundPage(ctx) {
  ctx.show(`<p>${esc(t("notfound"))} <a href="#/">${esc(t("nav.overview"))}</a></p>`);
}

const is = (first, length) => (path) => (first === null ? path.length === 0
  : path[0] === first && path.length === length);

/** The hash routes; the last entry is the fallback. */
export const routes = [
  { match: is(null, 0), page: overviewPage, nav: "overview" },
  { match: is("station", 2), page: stationPage, nav: "overview" },
  { match: is("outlet", 2), page: outletPage, nav: "overview" },
  { match: is("findings", 1), page: findingsPage, nav: "findings" },
  { match: is("cases", 1), page: casesPage, nav: "cases" },
  { match: is("cases", 2), page: casePage, nav: "cases" },
  { match: is("reports", 1), page: reportsPage, nav: "reports" },
  { match: () => true, page: notFoundPage, nav: "" },
];
