// Time-series charts drawn as SVG by hand: lines with gaps where data is missing, an optional
// right axis (AQI beside concentrations), horizontal reference lines (limits), flagged points.
import { esc, t, wallAt } from "./app.js";

/** About `count` round tick values covering [min, max] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max === min) { max = min + 1; }
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const ratio = raw / power;
  const step = power * (ratio >= 7.5 ? 10 : ratio >= 3.5 ? 5 : ratio >= 1.5 ? 2 : 1);
  const ticks = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

const HOUR = 3600000;
/** Rough width in px of 11 px legend text: CJK characters are about twice as wide as Latin. */
const textWidth = (text) => [...text].reduce((w, ch) => w + (ch.codePointAt(0) > 0x2e80 ? 11 : 6.2), 0);
const TIME_STEPS = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 48 * HOUR, 7 * 24 * HOUR];

/** Time ticks (epoch ms) on whole wall-clock steps at `offsetMin`, at most ~8 of them. */
export function timeTicks(from, to, offsetMin) {
  const step = TIME_STEPS.find((s) => (to - from) / s <= 8) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const shift = offsetMin * 60000;
  const ticks = [];
  for (let v = Math.ceil((from + shift) / step) * step - shift; v <= to; v += step) ticks.push(v);
  return { ticks, step };
}

/** Polyline path of [ms, value] points, broken where a value is missing or where two points
 * are more than `maxGapMs` apart (missing data is drawn as missing, never bridged). */
function pathOf(points, x, y, maxGapMs) {
  let d = "";
  let previous = null;
  for (const [ms, value] of points) {
    if (value === null || value === undefined || !Number.isFinite(value)) { previous = null; continue; }
    const joined = previous !== null && ms - previous <= maxGapMs;
    d += `${joined ? "L" : "M"}${x(ms).toFixed(1)},${y(value).toFixed(1)}`;
    previous = ms;
  }
  return d;
}

function medianStep(points) {
  const steps = [];
  for (let i = 1; i < points.length; i += 1) steps.push(points[i][0] - points[i - 1][0]);
  steps.sort((a, b) => a - b);
  return steps.length ? steps[Math.floor(steps.length / 2)] : HOUR;
}

/**
 * A series chart as an SVG string.
 * spec: {testid, from, to (epoch ms), offsetMin (wall-clock offset of the labels),
 *        units: {left, right?},
 *        series: [{name, colour, points: [[ms, value|null]], axis?: "left"|"right",
 *                  dash?: bool, width?: number, legend?: string|false}],
 *        lines: [{value, label, colour, axis?}]      // horizontal reference lines, dashed
 *        marks: [{ms, value|null, label}]            // flagged points (value null: on the axis)
 * }
 */
export function seriesChart(spec) {
  const width = 900;
  const height = 320;
  const pad = { left: 56, right: spec.units.right ? 52 : 16, top: 34, bottom: 36 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const { from, to } = spec;
  const x = (ms) => pad.left + ((ms - from) / (to - from)) * plotW;
  const valuesOf = (axis) => [
    ...spec.series.filter((s) => (s.axis ?? "left") === axis)
      .flatMap((s) => s.points.map((p) => p[1])),
    ...(spec.lines ?? []).filter((l) => (l.axis ?? "left") === axis).map((l) => l.value),
    ...(axis === "left" ? (spec.marks ?? []).map((m) => m.value) : []),
  ].filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  const axisOf = (axis) => {
    const values = valuesOf(axis);
    const ticks = niceTicks(Math.min(0, ...values), values.length ? Math.max(...values) : 1, 5);
    const [low, high] = [ticks[0], ticks[ticks.length - 1]];
    return { ticks, y: (v) => pad.top + plotH - ((v - low) / (high - low || 1)) * plotH };
  };
  const left = axisOf("left");
  const right = spec.units.right ? axisOf("right") : null;
  const out = [`<svg data-testid="${esc(spec.testid ?? "source-chart")}" class="chart" `
    + `viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(t("chart.label"))}">`];
  for (const v of left.ticks) {
    const y = left.y(v).toFixed(1);
    out.push(`<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}"/>`
      + `<text class="tick" x="${pad.left - 6}" y="${y}" text-anchor="end" dy="4">${v}</text>`);
  }
  if (right) {
    for (const v of right.ticks) {
      out.push(`<text class="tick" x="${width - pad.right + 6}" y="${right.y(v).toFixed(1)}" dy="4">${v}</text>`);
    }
  }
  const { ticks, step } = timeTicks(from, to, spec.offsetMin);
  for (const ms of ticks) {
    const label = wallAt(ms, spec.offsetMin);
    const text = step >= 24 * HOUR ? label.slice(5, 10) : label.slice(5, 16);
    out.push(`<line class="grid" x1="${x(ms).toFixed(1)}" x2="${x(ms).toFixed(1)}" y1="${pad.top}" `
      + `y2="${pad.top + plotH}"/><text class="tick" x="${x(ms).toFixed(1)}" `
      + `y="${height - pad.bottom + 16}" text-anchor="middle">${esc(text)}</text>`);
  }
  out.push(`<text class="unit" x="${pad.left}" y="${pad.top - 8}">${esc(spec.units.left)}</text>`);
  if (right) {
    out.push(`<text class="unit" x="${width - pad.right}" y="${pad.top - 8}" text-anchor="end">`
      + `${esc(spec.units.right)}</text>`);
  }
  for (const line of spec.lines ?? []) {
    const y = (line.axis === "right" && right ? right : left).y(line.value).toFixed(1);
    out.push(`<line class="limit" x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}" `
      + `stroke="${esc(line.colour)}" stroke-dasharray="6 4"><title>${esc(line.label)}</title></line>`
      + `<text class="tick" x="${width - pad.right - 4}" y="${y}" dy="-4" text-anchor="end" `
      + `fill="${esc(line.colour)}">${esc(line.label)}</text>`);
  }
  for (const s of spec.series) {
    const scale = (s.axis === "right" && right ? right : left).y;
    const d = pathOf(s.points, x, scale, Math.max(medianStep(s.points) * 2.5, 1));
    const single = s.points.filter((p) => Number.isFinite(p[1])).length === 1;
    if (d) {
      out.push(`<path d="${d}" fill="none" stroke="${esc(s.colour)}" stroke-width="${s.width ?? 2}" `
        + `${s.dash ? 'stroke-dasharray="4 3" ' : ""}data-series="${esc(s.name)}"><title>${esc(s.name)}</title></path>`);
    }
    if (single) {
      const [ms, v] = s.points.find((p) => Number.isFinite(p[1]));
      out.push(`<circle cx="${x(ms).toFixed(1)}" cy="${scale(v).toFixed(1)}" r="3" fill="${esc(s.colour)}"/>`);
    }
  }
  for (const mark of spec.marks ?? []) {
    const cx = x(mark.ms).toFixed(1);
    const cy = (Number.isFinite(mark.value) ? left.y(mark.value) : pad.top + plotH).toFixed(1);
    out.push(`<circle class="flagged" data-flagged="1" cx="${cx}" cy="${cy}" r="4">`
      + `<title>${esc(mark.label)}</title></circle>`);
  }
  let lx = pad.left;
  for (const s of spec.series.filter((item) => item.legend !== false)) {
    const label = s.legend ?? s.name;
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="12" y2="12" stroke="${esc(s.colour)}" stroke-width="3" `
      + `${s.dash ? 'stroke-dasharray="4 3"' : ""}/><text class="legend-text" x="${lx + 22}" y="16">${esc(label)}</text>`);
    lx += 32 + textWidth(label);
  }
  if ((spec.marks ?? []).length) {
    out.push(`<circle class="flagged" cx="${lx + 6}" cy="12" r="4"/><text class="legend-text" `
      + `x="${lx + 14}" y="16">${esc(t("chart.flagged"))}</text>`);
  }
  out.push(`<rect class="frame" x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}"/></svg>`);
  return out.join("");
}
