// glassbox page, Leaderboard tab: every model evaluated or benchmarked on
// this machine (GET /glassbox/leaderboard), as a sortable table and two
// plots drawn in SVG, quality against generation speed and quality against
// peak RAM. Vanilla JS; it uses api() from app.js and talks only to the
// server that served it.
'use strict';

const lb = { data: null, sort: null, reverse: false, quality: null };

const SVGNS = 'http://www.w3.org/2000/svg';

// svg makes an SVG element with attributes and children.
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const k of kids) if (k) e.appendChild(k);
  return e;
}

// lbEl makes an HTML element with attributes (text: its text) and children.
function lbEl(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const k of kids) if (k) e.appendChild(k);
  return e;
}

function fmtBytes(n) {
  if (!n) return '';
  if (n >= 2 ** 30) return (n / 2 ** 30).toFixed(2) + ' GiB';
  if (n >= 2 ** 20) return (n / 2 ** 20).toFixed(1) + ' MiB';
  if (n >= 2 ** 10) return (n / 2 ** 10).toFixed(1) + ' KiB';
  return n + ' B';
}

function fmtMiB(v) {
  return v >= 1024 ? Number((v / 1024).toPrecision(3)) + ' GiB' : Number(v.toPrecision(4)) + ' MiB';
}

function fmtScore(col, v) {
  if (v == null) return '';
  if (col.metric === 'acc' || col.metric === 'acc_norm' || col.metric === 'pass_at_1') return (v * 100).toFixed(1) + '%';
  if (col.metric === 'kl_divergence') return v.toFixed(5);
  return v.toFixed(3);
}

function fmtMS(ms) {
  if (!ms) return '';
  return ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms.toFixed(1) + ' ms';
}

// lbColumns are the table's columns: name, header, how to read a row's
// value (null: not measured), how to print it, and which way is better.
function lbColumns() {
  const cols = [
    { key: 'model', head: 'model', text: true, get: (r) => r.model || null },
    { key: 'source', head: 'source', text: true, get: (r) => r.source || null },
  ];
  for (const c of lb.data.scores) {
    cols.push({ key: c.key, head: c.key, score: c, higher: c.higher_is_better,
      get: (r) => (r.scores && c.key in r.scores ? r.scores[c.key] : null), fmt: (v) => fmtScore(c, v) });
  }
  const num = (key, head, higher, get, fmt) => cols.push({ key, head, higher, get: (r) => get(r) || null, fmt });
  num('pp', 'pp t/s', true, (r) => r.pp_tokens_per_s, (v) => v.toFixed(1));
  num('tg', 'tg t/s', true, (r) => r.tg_tokens_per_s, (v) => v.toFixed(1));
  num('ttft', 'TTFT', false, (r) => r.ttft_ms, fmtMS);
  num('ram', 'peak RAM', false, (r) => r.peak_rss_bytes, fmtBytes);
  num('size', 'size', false, (r) => r.size_bytes, fmtBytes);
  num('ctx', 'ctx', true, (r) => r.context_length, String);
  cols.push({ key: 'license', head: 'license', text: true, get: (r) => r.license || null });
  cols.push({ key: 'openness', head: 'openness', text: true, get: (r) => r.openness || null });
  return cols;
}

// lbSorted returns the rows ranked by the chosen column, best first (worst
// first when reversed), rows without a value last, as the CLI's --sort.
function lbSorted(cols) {
  const rows = lb.data.rows.slice();
  const col = cols.find((c) => c.key === lb.sort);
  if (!col) return rows;
  const idx = new Map(rows.map((r, i) => [r, i]));
  rows.sort((a, b) => {
    const va = col.get(a), vb = col.get(b);
    if ((va == null) !== (vb == null)) return va == null ? 1 : -1;
    if (va == null || va === vb) return idx.get(a) - idx.get(b);
    let d;
    if (col.text) d = String(va).toLowerCase() < String(vb).toLowerCase() ? -1 : 1;
    else d = col.higher ? vb - va : va - vb;
    return lb.reverse ? -d : d;
  });
  return rows;
}

function lbRenderTable() {
  const cols = lbColumns();
  const head = lbEl('tr', {}, ...cols.map((c) => {
    const arrow = c.text ? '' : (c.higher ? ' ↑' : ' ↓');
    // a score's long name may break after '_' and '.' (file names), at <wbr>
    const label = lbEl('span', {});
    for (const part of (c.head + arrow).split(/(?<=[._])/)) {
      if (label.firstChild && c.score) label.appendChild(document.createElement('wbr'));
      label.appendChild(document.createTextNode(part));
    }
    const th = lbEl('th', { 'data-col': c.key, tabindex: '0', title: c.text ? 'sort by ' + c.head : 'sort by ' + c.head + (c.higher ? ' (higher is better)' : ' (lower is better)') },
      label);
    if (c.key === lb.sort) {
      th.classList.add('sorted');
      th.appendChild(lbEl('span', { class: 'lb-dir', text: lb.reverse ? ' ▲' : ' ▼' }));
    }
    if (!c.text) th.classList.add('num');
    if (c.score) th.classList.add('score'); // long names wrap, so that the table fits
    return th;
  }));
  const body = lbSorted(cols).map((r) => lbEl('tr', { 'data-model': r.model },
    ...cols.map((c) => {
      const v = c.get(r);
      const td = lbEl('td', { text: v == null ? '–' : (c.fmt ? c.fmt(v) : String(v)) });
      if (!c.text) td.classList.add('num');
      if (v == null) td.classList.add('lb-none');
      if (c.key === 'source') td.classList.add('lb-source');
      if (c.key === 'model' && r.file_type) td.title = [r.arch, r.file_type, r.params ? (r.params / 1e6).toFixed(2) + 'M parameters' : '', r.sha256 ? 'sha256 ' + r.sha256.slice(0, 12) : ''].filter(Boolean).join(' · ');
      if (c.key === 'license' && r.fact_source) {
        td.title = 'source: ' + r.fact_source + (r.catalog_id ? ' (catalog entry ' + r.catalog_id + ', recognised by its ' + r.catalog_match + ')' : '');
      }
      if (c.key === 'openness' && v != null) {
        td.replaceChildren(lbEl('span', { class: 'lb-open ' + v, text: v }));
        td.title = v === 'open-source' ? 'open source: weights, training data, code and recipe published' : 'open weights: the weights are published, the training data or code are not';
      }
      return td;
    })));
  const table = $('lb-table');
  table.replaceChildren(lbEl('thead', {}, head), lbEl('tbody', {}, ...body));
  table.dataset.sort = lb.sort || '';
  table.dataset.reverse = String(lb.reverse);
  for (const th of head.children) {
    const go = () => {
      const key = th.dataset.col;
      if (lb.sort === key) lb.reverse = !lb.reverse;
      else { lb.sort = key; lb.reverse = false; }
      lbRenderTable();
    };
    th.addEventListener('click', go);
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
  }
}

// niceTicks returns about n round values covering [lo, hi].
function niceTicks(lo, hi, n) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

// logTicks returns the powers of ten (and their 2× and 5×, when few) in [lo, hi].
function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out.length >= 2 ? out : niceTicks(lo, hi, 4);
}

function shortNum(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + 'M';
  if (a >= 1e4) return (v / 1e3).toPrecision(3) + 'k';
  return String(Number(v.toPrecision(4)));
}

// lbPlot draws one scatter plot in the SVG with id: a point per model that
// has both the quality score and the x value, x on a log scale when it
// spans more than a decade, the y axis turned so that up is better.
function lbPlot(id, xLabel, xGet, xFmt, xBetterHigh) {
  const box = $(id);
  const W = 520, H = 340, L = 64, R = 16, T = 28, B = 48;
  const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'lb-svg' });
  const col = lb.data.scores.find((c) => c.key === lb.quality);
  const pts = [];
  let missing = 0, remote = 0;
  for (const r of lb.data.rows) {
    const y = col && r.scores ? r.scores[col.key] : undefined;
    const x = xGet(r);
    if (y == null) continue;
    if (!x) { missing++; if (r.source !== 'local') remote++; continue; }
    pts.push({ r, x, y });
  }
  box.dataset.points = String(pts.length);
  box.dataset.models = pts.map((p) => p.r.model).join('\n');
  const note = $(id + '-note');
  if (!col) {
    note.textContent = 'No quality score yet: run glassbox eval on a model.';
    box.replaceChildren(plot);
    return;
  }
  note.textContent = missing ? `${missing} model${missing > 1 ? 's' : ''} with this score but no ${xLabel} measurement (glassbox bench) not shown` +
    (remote ? ` (${remote} through an endpoint, whose ${xLabel === 'peak RAM' ? 'memory cannot be seen' : 'speed was not benchmarked'}).` : '.') : '';
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const logX = pts.length > 1 && x1 / x0 > 10;
  if (logX) { x0 /= 1.3; x1 *= 1.3; } else {
    const pad = (x1 - x0) * 0.08 || Math.abs(x1) * 0.1 || 1;
    x0 = Math.max(0, x0 - pad); x1 += pad;
  }
  const ypad = (y1 - y0) * 0.1 || Math.abs(y1) * 0.05 || 1;
  y0 -= ypad; y1 += ypad;
  if (col.metric !== 'perplexity' && col.metric !== 'kl_divergence') { y0 = Math.max(0, y0); y1 = Math.min(1, y1); }
  else y0 = Math.max(0, y0);
  const up = col.higher_is_better; // up is better: a lower-is-better score turns the axis
  const sx = (v) => L + (logX ? Math.log(v / x0) / Math.log(x1 / x0) : (v - x0) / (x1 - x0)) * (W - L - R);
  const sy = (v) => { const f = (v - y0) / (y1 - y0); return T + (up ? 1 - f : f) * (H - T - B); };
  const g = svg('g', { class: 'lb-axes' });
  for (const t of logX ? logTicks(x0, x1) : niceTicks(x0, x1, 5)) {
    const x = sx(t);
    if (x > W - R - 12 && x < W - R - 0.5) continue; // its label would spill out
    g.appendChild(svg('line', { x1: x, x2: x, y1: T, y2: H - B, class: 'lb-grid' }));
    g.appendChild(svg('text', { x, y: H - B + 15, 'text-anchor': 'middle', text: xFmt(t) }));
  }
  for (const t of niceTicks(y0, y1, 5)) {
    const y = sy(t);
    g.appendChild(svg('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'lb-grid' }));
    g.appendChild(svg('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', text: col.metric === 'perplexity' || col.metric === 'kl_divergence' ? shortNum(t) : fmtScore(col, t) }));
  }
  g.appendChild(svg('rect', { x: L, y: T, width: W - L - R, height: H - T - B, class: 'lb-frame' }));
  g.appendChild(svg('text', { x: (L + W - R) / 2, y: H - 10, 'text-anchor': 'middle', class: 'lb-axis-title',
    text: xLabel + (logX ? ' (log scale)' : '') + (xBetterHigh ? ' → better' : ' ← better') }));
  g.appendChild(svg('text', { x: 14, y: (T + H - B) / 2, transform: `rotate(-90 14 ${(T + H - B) / 2})`, 'text-anchor': 'middle', class: 'lb-axis-title',
    text: col.key + (up ? ' ↑ better' : ' (axis turned: up is better)') }));
  g.appendChild(svg('text', { x: xBetterHigh ? W - R - 4 : L + 4, y: T - 8, 'text-anchor': xBetterHigh ? 'end' : 'start', class: 'lb-best', text: '★ best corner' }));
  plot.appendChild(g);
  pts.forEach((p, i) => {
    const cx = sx(p.x), cy = sy(p.y);
    const hue = (i * 137) % 360;
    const dot = svg('circle', { cx, cy, r: 6, class: 'lb-pt' + (p.r.source === 'local' ? '' : ' remote'), fill: `hsl(${hue} 65% 48%)`, 'data-model': p.r.model },
      svg('title', { text: `${p.r.model} (${p.r.source})\n${col.key}: ${fmtScore(col, p.y)}\n${xLabel}: ${xFmt(p.x)}` }));
    dot.dataset.x = String(p.x);
    dot.dataset.y = String(p.y);
    plot.appendChild(dot);
    const right = cx < W - R - 140;
    plot.appendChild(svg('text', { x: right ? cx + 9 : cx - 9, y: cy - 8, 'text-anchor': right ? 'start' : 'end', class: 'lb-label', text: p.r.model }));
  });
  box.replaceChildren(plot);
}

function lbRenderPlots() {
  lbPlot('lb-speed', 'generation tokens/s', (r) => r.tg_tokens_per_s, shortNum, true);
  // RAM in MiB, so that the ticks fall on round sizes
  lbPlot('lb-ram', 'peak RAM', (r) => r.peak_rss_bytes / 2 ** 20, fmtMiB, false);
}

async function lbLoad() {
  $('lb-error').hidden = true;
  let resp;
  try {
    resp = await api('/glassbox/leaderboard');
  } catch (e) {
    lbFail('Could not load the leaderboard: ' + e.message);
    return;
  }
  if (!resp.ok) {
    let msg = resp.status + ' ' + resp.statusText;
    try { msg = (await resp.json()).error.message; } catch (e) { /* not JSON */ }
    lbFail('Could not load the leaderboard: ' + msg);
    return;
  }
  lb.data = await resp.json();
  const empty = lb.data.rows.length === 0;
  $('lb-empty').hidden = !empty;
  $('lb-content').hidden = empty;
  const sel = $('lb-quality');
  sel.replaceChildren(...lb.data.scores.map((c) => lbEl('option', { value: c.key, text: `${c.key} (${c.models} model${c.models > 1 ? 's' : ''})` })));
  if (!lb.data.scores.some((c) => c.key === lb.quality)) lb.quality = lb.data.scores.length ? lb.data.scores[0].key : null;
  if (lb.quality) sel.value = lb.quality;
  if (lb.sort == null) lb.sort = lb.quality || 'tg';
  lbRenderTable();
  lbRenderPlots();
  $('view-board').dataset.loaded = 'true';
}

function lbFail(msg) {
  const e = $('lb-error');
  e.textContent = msg;
  e.hidden = false;
}

document.addEventListener('DOMContentLoaded', () => {
  $('tab-board').addEventListener('click', () => { lbLoad(); });
  $('lb-reload').addEventListener('click', () => { lbLoad(); });
  $('lb-quality').addEventListener('change', () => { lb.quality = $('lb-quality').value; lbRenderPlots(); });
});
