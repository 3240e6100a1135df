// Findings and cases: the lists with filters and paging, and one case with its evidence chart,
// history and the workflow actions this user's role allows in the case's status.
import { api, caseTitle, errorBox, esc, explain, href, num, state, t, tCode, wall } from "./app.js";
import { bindFindingCharts, findingsTable, showEvidence } from "./source.js";

const PAGE = 50;
const STATUSES = ["open", "assigned", "rectifying", "submitted", "closed"];
const TYPES = ["exceedance", "impossible_value", "flatline", "low_variance", "bunching",
  "neighbor_divergence", "dilution", "copy_paste", "gap_at_peak", "flag_abuse", "step_drop",
  "reduction_shortfall"];
const ACTIVE = ["open", "assigned", "rectifying", "submitted"];
// The statuses each action accepts (alerts/case_lifecycle.py ACTIONS): buttons are shown only
// for actions the role may take (/api/me case_actions) that the current status allows.
const ACTION_SOURCES = {
  assign: ["open", "assigned"], start: ["assigned"], submit: ["assigned", "rectifying"],
  verify: ["submitted"], reject: ["submitted"], escalate: ACTIVE, reopen: ["closed"],
  comment: STATUSES,
};

const option = (value, selected, label) => `<option value="${esc(value)}" `
  + `${value === selected ? "selected" : ""}>${esc(label)}</option>`;

/** Filter controls bound to the hash query: changing one reloads the list from page 1. */
function filtersHtml(query, withStatus) {
  const status = query.get("status") ?? "";
  const type = query.get("type") ?? "";
  return `<form class="filters" data-testid="filters">`
    + (withStatus ? `<label>${esc(t("col.status"))} <select name="status" data-testid="filter-status">`
      + option("", status, t("filter.all")) + STATUSES.map((s) => option(s, status, tCode("status.", s))).join("")
      + `</select></label>` : "")
    + `<label>${esc(t("col.type"))} <select name="type" data-testid="filter-type">`
    + option("", type, t("filter.all")) + TYPES.map((s) => option(s, type, tCode("type.", s))).join("")
    + `</select></label><label>${esc(t("col.source"))} <input name="source" data-testid="filter-source" `
    + `value="${esc(query.get("source") ?? "")}" placeholder="${esc(t("filter.source_hint"))}"></label>`
    + `<button type="submit">${esc(t("filter.apply"))}</button></form>`;
}

function bindFilters(ctx, page) {
  const form = ctx.view.querySelector("[data-testid=filters]");
  const go = (event) => {
    event?.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    location.hash = href(page, values);
  };
  form.addEventListener("submit", go);
  form.querySelectorAll("select").forEach((select) => select.addEventListener("change", go));
}

function pagerHtml(ctx, page, count, offset) {
  const query = Object.fromEntries(ctx.query);
  const link = (to, testid, label, enabled) => (enabled
    ? `<a class="button" data-testid="${testid}" href="${href(page, { ...query, offset: to || null })}">${esc(label)}</a>`
    : `<span class="button disabled" data-testid="${testid}">${esc(label)}</span>`);
  return `<div class="pager">${link(Math.max(0, offset - PAGE), "page-prev", t("page.prev"), offset > 0)}`
    + `<span data-testid="page-info">${esc(t("page.info", { from: count ? offset + 1 : 0,
      to: Math.min(offset + PAGE, count), count }))}</span>`
    + `${link(offset + PAGE, "page-next", t("page.next"), offset + PAGE < count)}</div>`;
}

function listQuery(query, names) {
  const offset = Math.max(0, Number(query.get("offset")) || 0);
  const params = new URLSearchParams({ limit: PAGE, offset });
  for (const name of names) if (query.get(name)) params.set(name, query.get(name));
  return { offset, params };
}

export async function findingsPage(ctx) {
  const { offset, params } = listQuery(ctx.query, ["type", "source"]);
  const head = `<h1>${esc(t("findings.title"))}</h1>${filtersHtml(ctx.query, false)}`;
  let body;
  try {
    const listing = await api(`/api/findings?${params}`);
    body = findingsTable(listing.data, "finding-list") + pagerHtml(ctx, "findings", listing.count, offset);
  } catch (error) {
    body = errorBox(error) + (state.me?.role === "enterprise" ? `<p>${esc(t("findings.enterprise"))}</p>` : "");
  }
  ctx.show(head + body);
  if (!ctx.alive()) return;
  bindFilters(ctx, "findings");
  bindFindingCharts(ctx.view);
}

function isOverdue(c) {
  return c.status !== "closed" && c.deadline && Date.parse(c.deadline) < Date.now();
}

function sourceLink(c) {
  return c.source_kind === "station" || c.source_kind === "outlet"
    ? `<a href="${href(c.source_kind, c.source)}">${esc(c.source)}</a>` : esc(c.source);
}

function statusHtml(c) {
  return `<span class="status st-${esc(c.status)}">${esc(tCode("status.", c.status))}</span>`
    + (c.escalation_level ? ` <span class="tag escalated">${esc(t("case.escalated", { level: c.escalation_level }))}</span>` : "")
    + (c.recurrence_count ? ` <span class="tag">${esc(t("case.recurred", { n: c.recurrence_count }))}</span>` : "");
}

export async function casesPage(ctx) {
  const { offset, params } = listQuery(ctx.query, ["status", "type", "source"]);
  const head = `<h1>${esc(t("cases.title"))}</h1>${filtersHtml(ctx.query, true)}`;
  let body;
  try {
    const listing = await api(`/api/cases?${params}`);
    const rows = listing.data.map((c) => `<tr data-testid="case-row-${c.id}" data-status="${esc(c.status)}" `
      + `class="${isOverdue(c) ? "overdue" : ""}"><td><a href="${href("cases", String(c.id))}">#${c.id}</a></td>`
      + `<td><a href="${href("cases", String(c.id))}" data-testid="case-title">${esc(caseTitle(c))}</a></td><td>${sourceLink(c)}</td>`
      + `<td>${esc(tCode("type.", c.problem_type))}</td><td>${statusHtml(c)}</td>`
      + `<td>${esc(c.responsible_unit ?? "")}</td><td>${esc(wall(c.deadline).slice(0, 10))}`
      + `${isOverdue(c) ? ` <span class="tag overdue">${esc(t("case.overdue"))}</span>` : ""}</td>`
      + `<td>${esc(wall(c.updated_at))}</td></tr>`).join("");
    body = `<table class="list" data-testid="case-list"><thead><tr>`
      + ["id", "title", "source", "type", "status", "responsible", "deadline", "updated"]
        .map((k) => `<th>${esc(t("col." + k))}</th>`).join("")
      + `</tr></thead><tbody>${rows || `<tr><td colspan="8">${esc(t("none"))}</td></tr>`}</tbody></table>`
      + pagerHtml(ctx, "cases", listing.count, offset);
  } catch (error) {
    body = errorBox(error);
  }
  ctx.show(head + body);
  if (ctx.alive()) bindFilters(ctx, "cases");
}

// ---------------------------------------------------------------- one case

function detailsHtml(c) {
  const rows = [
    ["status", statusHtml(c)], ["source", sourceLink(c)], ["type", esc(tCode("type.", c.problem_type))],
    ["origin", esc(tCode("origin.", c.origin))], ["enterprise", esc(c.enterprise ?? "—")],
    ["district", esc([c.district, c.grid].filter(Boolean).join(" · ") || "—")],
    ["responsible", esc([c.responsible_unit, c.responsible_person].filter(Boolean).join(" · ") || "—")],
    ["deadline", esc(wall(c.deadline)) + (isOverdue(c) ? ` <span class="tag overdue">${esc(t("case.overdue"))}</span>` : "")],
    ["period", `${esc(wall(c.first_start))} – ${esc(wall(c.last_end))}`],
    ["score", num(c.max_score, 2)], ["opened", esc(wall(c.opened_at))],
    ["closed", esc(wall(c.closed_at))], ["measures", esc(c.measures ?? "—")],
  ];
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(t("col." + k))}</th><td>${v}</td></tr>`).join("")}</table>`;
}

function historyHtml(events) {
  const items = events.map((e) => {
    const changes = Object.entries(e.changes ?? {}).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
    return `<li data-action="${esc(e.action)}"><span class="muted">${esc(wall(e.at))}</span> `
      + `<strong>${esc(tCode("action.", e.action))}</strong> · ${esc(e.actor)}`
      + (e.from_status && e.from_status !== e.to_status
        ? ` · ${esc(tCode("status.", e.from_status))} → ${esc(tCode("status.", e.to_status))}` : "")
      + (e.note ? `<div class="note">${esc(e.note)}</div>` : "")
      + (changes.length ? `<div class="muted">${esc(changes.join("; "))}</div>` : "") + "</li>";
  }).join("");
  return `<ol class="history" data-testid="case-history">${items || `<li>${esc(t("none"))}</li>`}</ol>`;
}

/** Actions to offer: what the role may do (/api/me) and the status allows. */
export function allowedActions(caseActions, status) {
  return Object.keys(ACTION_SOURCES).filter((a) => caseActions.includes(a)
    && ACTION_SOURCES[a].includes(status));
}

function actionsHtml(c) {
  if (!state.me) {
    return `<p class="muted" data-testid="actions-unavailable">${esc(state.meError
      ? explain(state.meError) : t("case.no_role"))}</p>`;
  }
  const actions = allowedActions(state.me.case_actions ?? [], c.status);
  if (!actions.length) return `<p class="muted">${esc(t("case.no_actions"))}</p>`;
  const extra = [];
  if (actions.includes("assign")) {
    extra.push(`<label>${esc(t("case.unit"))} <input data-testid="action-unit" value="${esc(c.responsible_unit ?? "")}"></label>`,
      `<label>${esc(t("case.person"))} <input data-testid="action-person" value="${esc(c.responsible_person ?? "")}"></label>`,
      `<label>${esc(t("case.deadline"))} <input type="date" data-testid="action-deadline"></label>`);
  }
  if (actions.includes("submit")) {
    extra.push(`<label class="wide">${esc(t("case.measures"))} <textarea data-testid="action-measures" rows="2">`
      + `${esc(c.measures ?? "")}</textarea></label>`);
  }
  return `<div class="actions"><label class="wide">${esc(t("case.note"))} <textarea data-testid="action-note" rows="3"></textarea></label>`
    + `${extra.join("")}<div>${actions.map((a) => `<button data-testid="action-${a}" data-action="${a}">`
      + `${esc(tCode("action.", a))}</button>`).join(" ")}</div>`
    + `<div class="message" data-testid="action-message"></div></div>`;
}

/** The request body of `action` from the form (assign: unit, person, deadline; submit: measures). */
function actionBody(view, action, offset) {
  const value = (id) => view.querySelector(`[data-testid=${id}]`)?.value.trim() ?? "";
  const body = { action, note: value("action-note") };
  if (action === "assign") {
    body.responsible_unit = value("action-unit") || null;
    body.responsible_person = value("action-person") || null;
    const day = value("action-deadline");
    if (day) body.deadline = `${day}T23:59:59${offset}`;
  }
  if (action === "submit") body.measures = value("action-measures") || null;
  return body;
}

export async function casePage(ctx, done = "") {
  const id = Number(ctx.path[1]);
  const [c, events] = await Promise.all([api(`/api/cases/${id}`),
    api(`/api/cases/${id}/events`).catch((error) => error)]);
  if (!ctx.alive()) return;
  const findings = c.findings ?? [];
  ctx.show(`<p><a href="${href("cases")}">← ${esc(t("cases.title"))}</a></p>`
    + `<h1 data-testid="case-heading">#${c.id} ${esc(caseTitle(c))}</h1>`
    + `<p data-testid="case-status" data-status="${esc(c.status)}">${statusHtml(c)}</p>`
    + `<div class="two"><div class="card">${detailsHtml(c)}</div>`
    + `<div class="card"><h3>${esc(t("case.actions"))}</h3>${actionsHtml(c)}</div></div>`
    + `<h2>${esc(t("case.evidence"))}</h2>`
    + (findings.length ? `<img class="evidence" data-testid="evidence-chart" alt="${esc(t("loading"))}">`
      + findingsTable(findings, "case-findings").replace(/<img[^>]*finding-chart[^>]*>/, "")
      : `<p class="muted" data-testid="evidence-chart-none">${esc(t("case.no_findings"))}</p>`)
    + `<h2>${esc(t("case.history"))}</h2>`
    + (events instanceof Error ? errorBox(events) : historyHtml(events.data)));
  const message = ctx.view.querySelector("[data-testid=action-message]");
  if (message && done) message.textContent = done;
  const img = ctx.view.querySelector("[data-testid=evidence-chart]");
  if (img) {
    showEvidence(img, findings[0].id);
    ctx.view.querySelector("[data-testid=case-findings]").addEventListener("click", (event) => {
      const button = event.target.closest("[data-chart]");
      if (button) showEvidence(img, Number(button.dataset.chart));
    });
  }
  const offset = /([+-]\d\d:\d\d|Z)$/.exec(c.opened_at)?.[1] ?? "Z";
  ctx.view.querySelectorAll("button[data-action]").forEach((button) => {
    button.addEventListener("click", async () => {
      message.textContent = t("loading");
      ctx.view.querySelectorAll("button[data-action]").forEach((b) => { b.disabled = true; });
      try {
        await api(`/api/cases/${id}/actions`, { method: "POST",
          body: actionBody(ctx.view, button.dataset.action, offset) });
        // Reload the case, its history and the buttons the new status allows.
        if (ctx.alive()) await casePage(ctx, t("case.done", { action: tCode("action.", button.dataset.action) }));
      } catch (error) {
        message.textContent = explain(error);
        ctx.view.querySelectorAll("button[data-action]").forEach((b) => { b.disabled = false; });
      }
    });
  });
}
