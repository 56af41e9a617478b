// glassbox page: a chat whose tokens open their dissection. Vanilla JS, no
// dependencies; it talks only to the server that served it.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { history: [], turns: [], current: null, models: [], busy: null, epoch: 0, rawChoice: false, heat: null };

// ---------- helpers ----------

// api calls the server, sending the API key when one was given; on 401 it
// asks for the key (kept for this tab only) and retries once.
async function api(path, init) {
  const go = () => {
    const opts = Object.assign({}, init || {});
    opts.headers = Object.assign({}, opts.headers || {});
    const key = sessionStorage.getItem('glassbox-key');
    if (key) opts.headers.Authorization = 'Bearer ' + key;
    return fetch(path, opts);
  };
  let resp = await go();
  if (resp.status === 401) {
    const key = window.prompt('This server needs an API key (glassbox serve --api-key):');
    if (key) {
      sessionStorage.setItem('glassbox-key', key);
      resp = await go();
    }
  }
  return resp;
}

// visible shows a token of the trace: its text (the trace decodes every
// vocabulary piece), with spaces, new lines and tabs made visible.
function visible(tok) {
  const s = tok.text ?? tok.piece ?? '';
  return s.replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/ /g, '␣') || '∅';
}

function pct(p) { return (p * 100).toFixed(1) + '%'; }

function probClass(p) { return p >= 0.7 ? 'p-hi' : p >= 0.3 ? 'p-mid' : 'p-lo'; }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

// readSSE reads a server-sent-event stream, calling onData with each JSON payload.
async function readSSE(resp, onData) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of chunk.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        onData(JSON.parse(data));
      }
    }
  }
}

async function apiError(resp) {
  try {
    const j = await resp.json();
    return (j.error && j.error.message) || resp.statusText;
  } catch (e) {
    return resp.status + ' ' + resp.statusText;
  }
}

// ---------- models ----------

async function loadModels() {
  const resp = await api('v1/models');
  if (!resp.ok) throw new Error(await apiError(resp));
  const j = await resp.json();
  state.models = j.data || [];
  const sel = $('model');
  sel.replaceChildren(...state.models.map((m) => el('option', { value: m.id, text: m.id })));
  updateMode();
  await renderModelPage();
}

function currentModel() { return state.models.find((m) => m.id === $('model').value); }

// hasTemplate tells whether the model can hold a conversation: /v1/models
// says whether its file carries a chat template (meta.chat_template).
function hasTemplate(m) { return !m || !m.meta || m.meta.chat_template !== false; }

// updateMode puts the page in completion mode, and says why, when the chosen
// model has no chat template (the server refuses chat messages for it); for
// a model that has one, the user's own choice comes back.
function updateMode() {
  const m = currentModel();
  const raw = $('raw'), note = $('mode-note');
  if (m && !hasTemplate(m)) {
    if (!raw.disabled) state.rawChoice = raw.checked;
    raw.checked = true;
    raw.disabled = true;
    note.replaceChildren(
      el('b', { text: 'Completion mode. ' }),
      'The model “' + m.id + '” was not taught to chat (its file has no chat template), so it cannot answer messages. ' +
      'Instead it continues the text you write, as an autocomplete would; each message starts afresh.');
    note.hidden = false;
  } else {
    if (raw.disabled) { raw.disabled = false; raw.checked = state.rawChoice; }
    note.hidden = true;
  }
  updatePlaceholder();
}

function updatePlaceholder() {
  $('prompt').placeholder = $('raw').checked
    ? 'Écrivez le début d’un texte à continuer… / Write the start of a text to continue…'
    : 'Écrivez un message… / Write a message…';
}

async function renderModelPage() {
  const box = $('model-info');
  const id = $('model').value;
  if (!id) { box.textContent = 'No model loaded.'; return; }
  const resp = await api('glassbox/models/' + encodeURIComponent(id));
  if (!resp.ok) { box.textContent = await apiError(resp); return; }
  const m = await resp.json();
  const rows = [
    ['name', m.id], ['file', m.path], ['architecture', m.arch], ['parameters', Number(m.params).toLocaleString()],
    ['layers', m.layers], ['attention heads', m.heads + ' (' + m.kv_heads + ' key/value)'], ['embedding width', m.dim],
    ['feed-forward width', m.hidden_dim], ['head width', m.head_dim], ['vocabulary', m.vocab + ' tokens (' + m.tokenizer + ')'],
    ['training context', m.context_length], ['context in use', m.context], ['file type', m.file_type],
    ['tensor types', Object.entries(m.tensor_types || {}).map(([t, n]) => t + ' ×' + n).join(', ')],
    ['file size', (m.file_bytes / 1048576).toFixed(1) + ' MiB (memory-mapped)'],
    ['KV cache', m.kv_cache + ', ' + (m.kv_cache_bytes / 1048576).toFixed(1) + ' MiB per slot'],
    ['process memory', (m.memory.heap_bytes / 1048576).toFixed(1) + ' MiB heap, ' + (m.memory.rss_bytes / 1048576).toFixed(1) + ' MiB resident'],
  ];
  const table = el('table', { class: 'kv' }, ...rows.filter(([, v]) => v != null && v !== '').map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { text: String(v) }))));
  const tmpl = m.chat_template ? el('pre', { class: 'template', text: m.chat_template })
    : el('p', { text: 'This model has no chat template: the chat page uses it in completion mode, where it continues your text as written.' });
  box.replaceChildren(el('h2', { text: m.id }), table, el('h3', { text: 'Chat template' }), tmpl);
}

// ---------- chat ----------

function addMessage(role, text) {
  const body = el('div', { class: 'body', text: text || '' });
  const msg = el('div', { class: 'msg ' + role }, el('div', { class: 'role', text: role }), body);
  $('messages').append(msg);
  msg.scrollIntoView({ block: 'end' });
  return body;
}

function settings() {
  const num = (id) => Number($(id).value);
  const req = {
    temperature: num('temperature'), top_k: num('top_k'), top_p: num('top_p'), min_p: num('min_p'),
    max_tokens: num('max_tokens'), seed: num('seed'),
  };
  const grammar = $('grammar').value;
  if (grammar.trim()) req.grammar = grammar;
  return req;
}

// setBusy switches the composer between idle and streaming: while a reply
// streams, Send (button or Enter) is blocked and Stop cancels the reply.
function setBusy(ctrl) {
  state.busy = ctrl;
  $('send').disabled = !!ctrl;
  $('stop').hidden = !ctrl;
}

function stop() { if (state.busy) state.busy.abort(); }

async function send(ev) {
  ev.preventDefault();
  if (state.busy) return; // one reply at a time: the next turn needs this one
  const text = $('prompt').value.trim();
  if (!text) return;
  $('prompt').value = '';
  const ctrl = new AbortController();
  const epoch = state.epoch;
  setBusy(ctrl);
  const raw = $('raw').checked;
  addMessage('user', text);
  const body = addMessage('assistant', '');
  body.classList.add('streaming');
  const turn = { meta: null, tokenization: null, embeddings: [], steps: [], spans: [] };
  state.turns.push(turn);
  const req = Object.assign({ model: $('model').value, stream: true,
    trace: { top: 5, attention: true, logit_lens: true, embeddings: true } }, settings());
  if (raw) req.prompt = text;
  else req.messages = state.history.concat([{ role: 'user', content: text }]);
  let reply = '', stopped = false, failed = false;
  try {
    const resp = await api('v1/dissect', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req), signal: ctrl.signal });
    if (!resp.ok) throw new Error(await apiError(resp));
    await readSSE(resp, (e) => {
      switch (e.type) {
        case 'meta': turn.meta = e.meta; break;
        case 'tokenization': turn.tokenization = e.tokenization; break;
        case 'embeddings': turn.embeddings = e.embeddings; break;
        case 'step': {
          const s = e.step;
          turn.steps.push(s);
          reply += s.text;
          const span = el('span', {
            class: 'tok ' + probClass(s.sampling.raw_prob), text: s.text || '',
            title: visible(s.token) + ' · ' + pct(s.sampling.raw_prob), tabindex: '0', 'data-index': String(s.index),
            onclick: () => openDissection(turn, s.index), onkeydown: (k) => { if (k.key === 'Enter') openDissection(turn, s.index); },
          });
          if (!s.text) span.classList.add('empty');
          turn.spans.push(span);
          body.append(span);
          body.parentElement.scrollIntoView({ block: 'end' });
          break;
        }
        case 'done': break;
        case 'error': throw new Error(e.error.message);
      }
    });
  } catch (err) {
    if (ctrl.signal.aborted) stopped = true;
    else { failed = true; body.append(el('div', { class: 'error', text: String(err.message || err) })); }
  } finally {
    body.classList.remove('streaming');
    setBusy(null);
  }
  if (stopped) body.append(el('div', { class: 'small stopped', text: '(stopped)' }));
  // a finished reply can be judged (feedback.js adds thumbs to it)
  if (!failed && reply) {
    document.dispatchEvent(new CustomEvent('glassbox:reply', { detail: { msg: body.parentElement, request: req, reply, stopped } }));
  }
  // the exchange joins the conversation, a stopped reply as far as it went
  if (!raw && epoch === state.epoch && (reply || !stopped)) {
    state.history.push({ role: 'user', content: text }, { role: 'assistant', content: reply.trim() });
  }
}

// ---------- dissection ----------

function contextToken(turn, pos) {
  const n = turn.tokenization.tokens.length;
  return pos < n ? turn.tokenization.tokens[pos] : turn.steps[pos - n].token;
}

function openDissection(turn, index) {
  state.current = { turn, index };
  for (const t of state.turns) for (const sp of t.spans) sp.classList.remove('selected');
  turn.spans[index].classList.add('selected');
  const s = turn.steps[index];
  const aside = $('dissection');
  const opening = aside.classList.contains('hidden');
  aside.classList.remove('hidden');
  // on a narrow screen the panel sits below the chat: bring it into view
  if (opening && window.matchMedia('(max-width: 820px)').matches) aside.scrollIntoView({ block: 'start' });
  $('d-title').textContent = 'Token ' + (index + 1) + ': ' + visible(s.token);

  // tokenization strip: the prompt as the model saw it, then the generated tokens so far
  const strip = [];
  turn.tokenization.tokens.forEach((t) => strip.push(el('span', { class: 'chip' + (t.special ? ' special' : ''), text: visible(t), title: 'id ' + t.id })));
  turn.steps.slice(0, index + 1).forEach((st, i) => strip.push(el('span', {
    class: 'chip gen ' + probClass(st.sampling.raw_prob) + (i === index ? ' selected' : ''), text: visible(st.token), title: 'id ' + st.token.id })));
  $('d-tokens').replaceChildren(...strip);

  // embeddings
  const emb = turn.embeddings.map((e) => el('tr', {},
    el('td', { text: String(e.position) }), el('td', { class: 'mono', text: visible(e.token) }),
    el('td', { text: e.norm.toFixed(3) }),
    el('td', {}, ...e.neighbors.flatMap((n, i) => [i ? ' · ' : null, el('span', { class: 'nb', text: visible(n) + ' ' + n.cosine.toFixed(3) })]))));
  $('d-embeddings').replaceChildren(el('tr', {}, ...['pos', 'token', 'norm', 'nearest (cosine)'].map((h) => el('th', { text: h }))), ...emb);

  // attention selectors
  const layers = [...new Set(s.attention.map((h) => h.layer))];
  const heads = [...new Set(s.attention.map((h) => h.head))];
  fillSelect($('d-layer'), layers, $('d-layer').value);
  fillSelect($('d-head'), heads, $('d-head').value);
  drawHeatmap();

  // candidates
  const bars = s.prediction.top.map((c) => el('div', { class: 'bar-row' + (c.id === s.token.id ? ' chosen' : '') },
    el('span', { class: 'mono label', text: visible(c) }),
    el('span', { class: 'bar' }, fill(c.prob)),
    el('span', { class: 'val', text: pct(c.prob) }),
    capped(c)));
  // final soft-capping (gemma2): the header says the cap, and the chosen
  // token's logits are shown even when it is not among the candidates
  const fcap = turn.meta && turn.meta.final_softcap;
  if (fcap && s.prediction.chosen) {
    const ch = s.prediction.chosen;
    bars.push(el('div', { id: 'd-chosen', class: 'small', text: 'chosen ' + visible(s.token) + ': p ' + pct(ch.prob) + ', ' + logitText(ch) }));
  }
  bars.unshift(el('div', { class: 'small', text: 'entropy ' + s.prediction.entropy.toFixed(3) + ' nats' +
    (fcap ? ' · final logits soft-capped at ' + fcap + ' (logit = ' + fcap + '·tanh(x/' + fcap + '))' : '') }));
  $('d-bars').replaceChildren(...bars);

  // mixture of experts (trace version 2): the router's choice per layer
  const experts = s.experts || [];
  $('d-experts-section').hidden = experts.length === 0;
  const erows = experts.map((e) => el('tr', {}, el('td', { text: 'L' + e.layer }),
    ...e.ids.map((id, j) => el('td', { class: 'expert', title: 'router probability ' + pct(e.probs[j]) },
      el('span', { class: 'mono', text: '#' + id + ' ' }), el('span', { class: 'bar' }, fill(e.weights[j])),
      el('span', { class: 'val', text: ' ' + e.weights[j].toFixed(3) }))),
    el('td', { class: 'small', text: 'entropy ' + e.entropy.toFixed(3) })));
  $('d-experts').replaceChildren(el('tr', {}, el('th', { text: 'layer' }),
    el('th', { colspan: String(experts.length ? experts[0].ids.length : 1), text: 'expert · weight (its output is multiplied by it)' }),
    el('th', { text: 'router' })), ...erows);

  // logit lens
  const lens = s.logit_lens.map((l) => el('tr', {}, el('td', { text: 'L' + l.layer }),
    ...l.top.slice(0, 5).map((c) => el('td', { class: 'mono ' + (c.id === s.token.id ? 'hit' : ''), text: visible(c) + ' ' + pct(c.prob) }))));
  $('d-lens').replaceChildren(el('tr', {}, el('th', { text: 'layer' }), el('th', { colspan: '5', text: 'top tokens if the model stopped here' })), ...lens);

  // sampler
  const smp = s.sampling;
  const stepsEls = [];
  for (const st of smp.steps) {
    stepsEls.push(el('div', { class: 'sstep' },
      el('b', { text: st.name }), el('span', { text: ' kept ' + st.kept + ': ' }),
      el('span', { class: 'mono', text: (st.top || []).map((c) => visible(c) + ' ' + pct(c.prob)).join(' · ') })));
    if (st.name === 'grammar' && smp.grammar) {
      // the candidates the grammar removed, with their probabilities before it
      const g = smp.grammar;
      const removed = g.removed.length ? g.removed.map((c) => visible(c) + ' ' + pct(c.prob)).join(' · ') : 'none of the best ones';
      stepsEls.push(el('div', { class: 'sstep grammar', id: 'd-grammar' },
        el('b', { text: 'grammar removed' }), el('span', { text: ' (p before the grammar, ' + g.checked + ' checked): ' }),
        el('span', { class: 'mono', text: removed })));
    }
  }
  stepsEls.push(el('div', { class: 'sstep final', text: (smp.draw < 0 ? 'greedy: no draw' : 'draw ' + smp.draw.toFixed(4)) +
    ' → ' + visible(s.token) + ', rank ' + smp.chosen_rank + ', p ' + pct(smp.chosen_prob) + ' after the chain (' + pct(smp.raw_prob) + ' raw)' }));
  $('d-sampler').replaceChildren(...stepsEls);
}

// logitText is a candidate's logit and, with final soft-capping, its
// value before capping.
function logitText(c) {
  return 'logit ' + c.logit.toFixed(3) + (c.logit_uncapped != null ? ' (before capping ' + c.logit_uncapped.toFixed(3) + ')' : '');
}

// capped is the line under a candidate's bar giving its logit before and
// after final soft-capping; null for a model that does not cap.
function capped(c) {
  return c.logit_uncapped != null ? el('span', { class: 'logit small mono', text: logitText(c) }) : null;
}

// fill is a probability bar's filled part (sized through the CSSOM, which the
// page's content security policy allows, unlike style attributes).
function fill(p) {
  const f = el('span', { class: 'fill ' + probClass(p) });
  f.style.width = (p * 100).toFixed(1) + '%';
  return f;
}

function fillSelect(sel, values, keep) {
  const opts = [el('option', { value: 'all', text: 'all' }), ...values.map((v) => el('option', { value: String(v), text: String(v) }))];
  sel.replaceChildren(...opts);
  sel.value = values.map(String).includes(keep) ? keep : 'all';
}

// The heatmap's colour scale: weights map to colours through their square
// root (attention is mostly small weights), light blue at 0 to navy at 1.
const heatStops = [[0, [239, 246, 255]], [0.5, [59, 130, 246]], [1, [23, 37, 84]]];
const legendTicks = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1];

function heatColor(w) {
  const t = Math.sqrt(Math.min(1, Math.max(0, w)));
  for (let i = 1; i < heatStops.length; i++) {
    const [t1, c1] = heatStops[i];
    if (t <= t1 || i === heatStops.length - 1) {
      const [t0, c0] = heatStops[i - 1];
      const f = (t - t0) / (t1 - t0);
      return 'rgb(' + c0.map((v, k) => Math.round(v + (c1[k] - v) * f)).join(',') + ')';
    }
  }
  return 'rgb(0,0,0)';
}

// drawLegend shows the colour scale with tick values.
function drawLegend(windows) {
  const bar = el('div', { class: 'legend-bar' });
  bar.style.backgroundImage = 'linear-gradient(to right, ' +
    heatStops.map(([t, c]) => 'rgb(' + c.join(',') + ') ' + (t * 100) + '%').join(', ') + ')';
  const ticks = el('div', { class: 'legend-ticks' }, ...legendTicks.map((w) => {
    const tk = el('span', { text: String(w).replace(/^0\./, '.') });
    tk.style.left = (Math.sqrt(w) * 100).toFixed(1) + '%';
    return tk;
  }));
  const out = windows.length ? el('div', { class: 'legend-outside' }, el('span', { class: 'swatch outside' }),
    ' outside the sliding window of ' + windows.join(' / ') + ' positions (weight 0)') : null;
  $('d-legend').replaceChildren(el('div', { class: 'legend-title', text: 'attention weight (colours on a square-root scale)' }),
    el('div', { class: 'legend-scale' }, bar, ticks), out);
}

// outsideColor greys the heatmap's positions outside a sliding window.
const outsideColor = '#d4d4d8';

// drawScores lists, for one selected head of a model with attention
// soft-capping or a sliding window, each position's score before and after
// capping and its weight, the positions outside the window greyed; for
// other selections and models it stays empty and hidden.
function drawScores(turn, rows, n) {
  const box = $('d-scores');
  const h = rows.length === 1 ? rows[0] : null;
  if (!h || (!h.scores && !(h.window && h.window < n))) { box.hidden = true; box.replaceChildren(); return; }
  const first = h.window ? Math.max(0, n - h.window) : 0;
  const cap = turn.meta && turn.meta.attn_softcap;
  const head = ['pos', 'token'].concat(h.scores ? ['score before capping', 'score after capping (' + cap + '·tanh(x/' + cap + '))'] : [], ['weight']);
  const trs = [];
  for (let c = 0; c < n; c++) {
    const tok = visible(contextToken(turn, c));
    if (c < first) {
      trs.push(el('tr', { class: 'outside', 'data-pos': String(c) }, el('td', { text: String(c) }), el('td', { class: 'mono', text: tok }),
        el('td', { colspan: String(head.length - 2), text: 'outside the sliding window of ' + h.window })));
      continue;
    }
    trs.push(el('tr', { 'data-pos': String(c) }, el('td', { text: String(c) }), el('td', { class: 'mono', text: tok }),
      ...(h.scores ? [el('td', { class: 'val uncapped', text: h.scores_uncapped[c].toFixed(3) }), el('td', { class: 'val capped', text: h.scores[c].toFixed(3) })] : []),
      el('td', { class: 'val', text: h.weights[c].toFixed(4) })));
  }
  box.replaceChildren(el('caption', { text: 'layer ' + h.layer + ', head ' + h.head + (h.window ? ', sliding window of ' + h.window : '') }),
    el('tr', {}, ...head.map((t) => el('th', { text: t }))), ...trs);
  box.hidden = false;
}

// labelStep is how many positions apart the column labels are: every
// position when the cells are wide enough, else 2, 5, 10, 20, 50… so that
// labels (10 px text, drawn vertically) stay at least minGap pixels apart.
function labelStep(cellW, minGap) {
  for (let step = 1; ; step *= 10) {
    for (const k of [1, 2, 5]) if (k * step * cellW >= minGap) return k * step;
  }
}

function drawHeatmap() {
  if (!state.current) return;
  const { turn, index } = state.current;
  const s = turn.steps[index];
  const lsel = $('d-layer').value, hsel = $('d-head').value;
  const rows = s.attention.filter((h) => (lsel === 'all' || String(h.layer) === lsel) && (hsel === 'all' || String(h.head) === hsel));
  const cv = $('d-heatmap');
  $('d-tip').hidden = true;
  const n = s.position + 1;
  // the grid scrolls sideways under its row labels, drawn apart (#d-heatrows)
  const top = 4, minGap = 13, cellH = Math.max(11, Math.min(18, Math.floor(360 / Math.max(rows.length, 1))));
  const cellW = Math.max(4, Math.min(48, Math.floor((cv.parentElement.clientWidth - 4) / n)));
  // column labels: thinned to every step-th position, the query's own
  // position always shown
  const step = labelStep(cellW, minGap);
  const cols = [];
  for (let c = 0; c < n; c += step) cols.push(c);
  if (cols[cols.length - 1] !== n - 1) {
    if ((n - 1 - cols[cols.length - 1]) * cellW < minGap) cols.pop();
    cols.push(n - 1);
  }
  const label = (c) => (step === 1 ? '' : c + ' ') + visible(contextToken(turn, c)).slice(0, 10);
  const g0 = cv.getContext('2d');
  g0.font = '10px monospace';
  const labelH = 8 + Math.max(...cols.map((c) => g0.measureText(label(c)).width));
  const gridH = rows.length * cellH;
  const W = n * cellW + 4, H = top + gridH + labelH;
  const gr = sizeCanvas($('d-heatrows'), 64, H);
  gr.fillStyle = '#555';
  rows.forEach((h, r) => gr.fillText('L' + h.layer + ' H' + h.head + (h.window ? ' w' + h.window : ''), 2, top + r * cellH + cellH - 3));
  const g = sizeCanvas(cv, W, H);
  rows.forEach((h, r) => {
    const first = h.window ? Math.max(0, n - h.window) : 0;
    h.weights.forEach((w, c) => {
      g.fillStyle = c < first ? outsideColor : heatColor(w);
      g.fillRect(c * cellW, top + r * cellH, cellW - (cellW > 4 ? 1 : 0), cellH - 1);
    });
  });
  g.fillStyle = '#333';
  g.strokeStyle = '#999';
  g.textBaseline = 'middle';
  const xs = [];
  for (const c of cols) {
    const x = c * cellW + cellW / 2;
    xs.push(x);
    g.beginPath();
    g.moveTo(x, top + gridH);
    g.lineTo(x, top + gridH + 3);
    g.stroke();
    g.save();
    g.translate(x, top + gridH + 5);
    g.rotate(Math.PI / 2);
    g.fillText(label(c), 0, 0);
    g.restore();
  }
  // when the map is wider than its box, show the latest positions first
  if (state.heat === null || state.heat.turn !== turn || state.heat.n !== n) cv.parentElement.scrollLeft = cv.parentElement.scrollWidth;
  state.heat = { turn, rows, n, top, cellW, cellH };
  cv.dataset.rows = String(rows.length);
  cv.dataset.labelX = xs.map((x) => x.toFixed(1)).join(',');
  const windows = [...new Set(rows.filter((h) => h.window && h.window < n).map((h) => h.window))];
  cv.dataset.outside = rows.map((h) => h.window ? Math.max(0, n - h.window) : 0).join(',');
  drawLegend(windows);
  drawScores(turn, rows, n);
  const best = rows.slice().sort((a, b) => a.entropy - b.entropy).slice(0, 3);
  $('d-attn-top').replaceChildren(...best.map((h) => el('div', {
    text: 'L' + h.layer + ' H' + h.head + ' (kv ' + h.kv_head + '), entropy ' + h.entropy.toFixed(3) + ': ' +
      h.top.slice(0, 3).map((a) => visible(a.token) + '@' + a.position + ' ' + a.weight.toFixed(3)).join(' · ') })));
}

// sizeCanvas sizes a canvas to w×h CSS pixels, sharp on high-density
// screens, and returns its cleared drawing context.
function sizeCanvas(cv, w, h) {
  const dpr = window.devicePixelRatio || 1;
  cv.width = Math.round(w * dpr);
  cv.height = Math.round(h * dpr);
  cv.style.width = w + 'px';
  cv.style.height = h + 'px';
  const g = cv.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '10px monospace';
  return g;
}

// heatTip shows, under the pointer, which head looks at which token and
// with what weight.
function heatTip(ev) {
  const tip = $('d-tip'), hm = state.heat;
  if (!hm) return;
  const r = Math.floor((ev.offsetY - hm.top) / hm.cellH), c = Math.floor(ev.offsetX / hm.cellW);
  if (r < 0 || r >= hm.rows.length || c < 0 || c >= hm.n) { tip.hidden = true; return; }
  const h = hm.rows[r];
  tip.replaceChildren(
    el('div', { text: 'layer ' + h.layer + ', head ' + h.head }),
    el('div', { class: 'mono', text: 'position ' + c + ' · ' + visible(contextToken(hm.turn, c)) }),
    el('div', { text: 'weight ' + h.weights[c].toFixed(4) }),
    ...(h.scores && c >= hm.n - (h.window || hm.n) ? [el('div', { text: 'score ' + h.scores_uncapped[c].toFixed(3) + ' before capping, ' + h.scores[c].toFixed(3) + ' after' })] : []),
    ...(h.window ? [el('div', { class: 'small', text: 'sliding window of ' + h.window + ' positions (earlier ones weigh 0)' })] : []),
    ...(h.sink ? [el('div', { class: 'small', text: 'attention sink took ' + h.sink.toFixed(4) + ' of the softmax' })] : []));
  tip.hidden = false;
  const wrap = $('d-heatmap').parentElement;
  let x = ev.offsetX + 14;
  if (x + tip.offsetWidth > wrap.scrollLeft + wrap.clientWidth) x = Math.max(wrap.scrollLeft, ev.offsetX - 14 - tip.offsetWidth);
  let y = ev.offsetY + 14;
  if (y + tip.offsetHeight > wrap.scrollHeight) y = Math.max(0, ev.offsetY - 14 - tip.offsetHeight);
  tip.style.left = x + 'px';
  tip.style.top = y + 'px';
}

// ---------- vectors ----------

// The vectors view queries word vectors (glassbox serve --vectors) or a
// model's token embedding table: nearest neighbours, analogies, and a PCA
// projection of the words shown, drawn on a canvas.
const vec = { sources: [], plot: null, loaded: false };

async function loadVectorSources() {
  const resp = await api('glassbox/vectors');
  if (!resp.ok) throw new Error(await apiError(resp));
  vec.sources = (await resp.json()).data || [];
  const sel = $('v-source');
  sel.replaceChildren(...vec.sources.map((v, i) => el('option', { value: String(i),
    text: v.name + (v.kind === 'model' ? ' (token embeddings)' : ' (word vectors)') })));
  vec.loaded = true;
  sourceInfo();
}

function currentSource() { return vec.sources[Number($('v-source').value)]; }

function sourceInfo() {
  const v = currentSource();
  if (!v) { $('v-source-info').textContent = 'No vectors on this server.'; return; }
  $('v-source-info').textContent = v.words.toLocaleString() + ' ' + (v.kind === 'model' ? 'tokens' : 'words') + ' of dimension ' + v.dim +
    (v.kind === 'model' ? ': the model’s first layer. A word is looked up as the token that starts a word (▁word or Ġword), else as a piece; type the marker to choose.' : '.');
}

// vecPost sends a vectors request for the chosen source and returns its answer.
async function vecPost(path, body) {
  const v = currentSource();
  if (v) body[v.kind === 'model' ? 'model' : 'vectors'] = v.name;
  const resp = await api('glassbox/vectors/' + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!resp.ok) throw new Error(await apiError(resp));
  return resp.json();
}

function vecError(err) {
  const e = $('v-error');
  e.textContent = err ? String(err.message || err) : '';
  e.hidden = !err;
}

// showNeighbors lists the answer's words with their scores (cosines, or the
// 3CosMul score), each a link to its own neighbours.
function showNeighbors(title, neighbors, cosmul) {
  $('v-results-title').textContent = title;
  const rows = neighbors.map((n, i) => {
    const f = el('span', { class: 'fill ' + (n.cosine >= 0 ? 'pos' : 'neg') });
    f.style.width = (Math.min(1, Math.abs(cosmul ? n.cosine / (neighbors[0].cosine || 1) : n.cosine)) * 100).toFixed(1) + '%';
    return el('tr', {}, el('td', { text: String(i + 1) }),
      el('td', { class: 'word', text: n.word, tabindex: '0', title: 'neighbours of ' + n.word,
        onclick: () => lookUp(n.word), onkeydown: (k) => { if (k.key === 'Enter') lookUp(n.word); } }),
      el('td', { class: 'cos' }, el('span', { class: 'val', text: n.cosine.toFixed(4) }), el('span', { class: 'bar' }, f)));
  });
  $('v-results').replaceChildren(el('tr', {}, el('th', { text: '#' }), el('th', { text: 'word' }), el('th', { text: cosmul ? '3CosMul score' : 'cosine' })), ...rows);
  $('v-results-card').hidden = false;
}

function lookUp(word) {
  $('v-word').value = word;
  similar();
}

async function similar(ev) {
  if (ev) ev.preventDefault();
  const word = $('v-word').value.trim();
  if (!word) return;
  vecError(null);
  $('v-similar').disabled = true;
  try {
    const a = await vecPost('similar', { word, n: Number($('v-n').value) || 15 });
    const w = a.words[0];
    showNeighbors('Nearest to “' + w + '” in ' + a.source, a.neighbors, false);
    await project([w, ...a.neighbors.map((n) => n.word)], { highlight: [w], title: '“' + w + '” and its ' + a.neighbors.length + ' nearest neighbours' });
  } catch (err) {
    vecError(err);
  } finally {
    $('v-similar').disabled = false;
  }
}

async function analogy(ev) {
  ev.preventDefault();
  const [a, b, c] = ['v-a', 'v-b', 'v-c'].map((id) => $(id).value.trim());
  if (!a || !b || !c) { vecError('Give the three words: a is to b as c is to ?'); return; }
  vecError(null);
  $('v-analogy').disabled = true;
  try {
    const method = $('v-method').value;
    const r = await vecPost('analogy', { a, b, c, method, n: 10 });
    const [wa, wb, wc] = r.words;
    showNeighbors(wa + ' is to ' + wb + ' as ' + wc + ' is to ?', r.neighbors, method === '3cosmul');
    if (r.neighbors.length) {
      const d = r.neighbors[0].word;
      const extra = r.neighbors.slice(1, 4).map((n) => n.word);
      await project([wa, wb, wc, d, ...extra], { highlight: [d], arrows: [[wa, wb], [wc, d]], title: wa + ' → ' + wb + ' as ' + wc + ' → ' + d });
    }
  } catch (err) {
    vecError(err);
  } finally {
    $('v-analogy').disabled = false;
  }
}

// project asks the server for the PCA of words and draws it.
async function project(words, opts) {
  const p = await vecPost('project', { words, method: $('v-proj').value });
  vec.plot = Object.assign({ words, points: p.points, explained: p.explained, method: p.method }, opts);
  drawProjection();
}

// reproject places the words shown again with the method now chosen.
function reproject() {
  const P = vec.plot;
  if (!P) return;
  vecError(null);
  project(P.words, { highlight: P.highlight, arrows: P.arrows, title: P.title }).catch(vecError);
}

// drawProjection draws the points (equal scale on both axes, the origin at
// the words' mean), the analogy arrows, and labels placed next to their
// point where they overlap no other label.
function drawProjection() {
  const P = vec.plot;
  const cv = $('v-canvas');
  if (!P) return;
  const W = Math.max(200, cv.parentElement.clientWidth - 2), H = Math.round(Math.min(Math.max(W * 0.75, 240), 520));
  const g = sizeCanvas(cv, W, H);
  g.font = '12px system-ui, sans-serif';
  const m = { l: 16, r: 16, t: 16, b: 16 };
  let x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  for (const p of P.points) { x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x); y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y); }
  const labW = Math.min(110, Math.max(...P.points.map((p) => g.measureText(p.word).width)) + 8);
  const iw = W - m.l - m.r - 2 * labW, ih = H - m.t - m.b - 30;
  const sc = Math.min(x1 > x0 ? iw / (x1 - x0) : Infinity, y1 > y0 ? ih / (y1 - y0) : Infinity);
  const scale = isFinite(sc) ? sc : 1;
  const cx = W / 2 - ((x0 + x1) / 2) * scale, cy = H / 2 + ((y0 + y1) / 2) * scale;
  const X = (x) => cx + x * scale, Y = (y) => cy - y * scale;
  // axes through the origin
  g.strokeStyle = '#bbb';
  g.setLineDash([4, 4]);
  g.beginPath(); g.moveTo(0, Y(0)); g.lineTo(W, Y(0)); g.moveTo(X(0), 0); g.lineTo(X(0), H); g.stroke();
  g.setLineDash([]);
  // axis names at the ends of the axes; point labels keep clear of them
  g.fillStyle = '#666';
  g.textBaseline = 'top';
  const tsne = P.method === 'tsne';
  const pc1 = tsne ? 't-SNE 1' : 'PC1 ' + (P.explained[0] * 100).toFixed(1) + '%', pc2 = tsne ? 't-SNE 2' : 'PC2 ' + (P.explained[1] * 100).toFixed(1) + '%';
  const w1 = g.measureText(pc1).width, w2 = g.measureText(pc2).width;
  const ay = Math.min(Y(0) + 4, H - 16), ax = Math.min(X(0) + 4, W - 16);
  g.fillText(pc1, W - w1 - 4, ay);
  g.save(); g.translate(ax + 14, 4); g.rotate(Math.PI / 2); g.fillText(pc2, 0, 0); g.restore();
  const boxes = [{ x0: W - w1 - 6, y0: ay - 2, x1: W, y1: ay + 16 }, { x0: ax - 2, y0: 0, x1: ax + 16, y1: w2 + 6 }];
  const pos = new Map(P.points.map((p) => [p.word, [X(p.x), Y(p.y)]]));
  // analogy arrows: a → b and c → answer
  g.strokeStyle = '#f59e0b';
  g.fillStyle = '#f59e0b';
  g.lineWidth = 1.5;
  for (const [from, to] of P.arrows || []) {
    const a = pos.get(from), b = pos.get(to);
    if (!a || !b) continue;
    const ang = Math.atan2(b[1] - a[1], b[0] - a[0]);
    g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0] - 5 * Math.cos(ang), b[1] - 5 * Math.sin(ang)); g.stroke();
    g.beginPath();
    g.moveTo(b[0] - 5 * Math.cos(ang), b[1] - 5 * Math.sin(ang));
    g.lineTo(b[0] - 13 * Math.cos(ang - 0.4), b[1] - 13 * Math.sin(ang - 0.4));
    g.lineTo(b[0] - 13 * Math.cos(ang + 0.4), b[1] - 13 * Math.sin(ang + 0.4));
    g.fill();
  }
  g.lineWidth = 1;
  // points, then labels (highlighted words first)
  const hl = new Set(P.highlight || []);
  for (const p of P.points) {
    g.fillStyle = hl.has(p.word) ? '#dc2626' : '#2563eb';
    g.beginPath(); g.arc(X(p.x), Y(p.y), 3.5, 0, 2 * Math.PI); g.fill();
  }
  const order = P.points.slice().sort((a, b) => hl.has(b.word) - hl.has(a.word));
  const overlap = (a, b) => Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0)) * Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
  for (const p of order) {
    const px = X(p.x), py = Y(p.y), w = g.measureText(p.word).width + 2, h = 14;
    let best = null, bestCost = Infinity;
    for (const d of [5, 12, 22, 34]) {
      for (const [dx, dy] of [[1, 0], [-1, 0], [0, -1], [0, 1], [1, -1], [1, 1], [-1, -1], [-1, 1]]) {
        const bx = dx > 0 ? px + d : dx < 0 ? px - d - w : px - w / 2;
        const by = dy < 0 ? py - d - h : dy > 0 ? py + d : py - h / 2;
        const b = { x0: bx, y0: by, x1: bx + w, y1: by + h, d };
        let cost = (b.x0 < 0 || b.x1 > W || b.y0 < 0 || b.y1 > H) ? 1e6 : 0;
        for (const o of boxes) cost += overlap(b, o);
        for (const q of P.points) if (q !== p) cost += overlap(b, { x0: X(q.x) - 4, y0: Y(q.y) - 4, x1: X(q.x) + 4, y1: Y(q.y) + 4 });
        cost += d * 1e-3;
        if (cost < bestCost) { best = b; bestCost = cost; }
      }
      if (bestCost < 1) break;
    }
    boxes.push(best);
    if (best.d > 12) {
      g.strokeStyle = '#ccc';
      g.beginPath(); g.moveTo(px, py); g.lineTo(Math.max(best.x0, Math.min(px, best.x1)), Math.max(best.y0, Math.min(py, best.y1))); g.stroke();
    }
    g.font = (hl.has(p.word) ? 'bold ' : '') + '12px system-ui, sans-serif';
    g.fillStyle = '#111';
    g.textBaseline = 'bottom';
    g.fillText(p.word, best.x0 + 1, best.y1 - 1);
  }
  g.textBaseline = 'alphabetic';
  $('v-plot-title').replaceChildren(document.createTextNode('Projection '), el('small', { text: P.title }));
  $('v-plot-axes').textContent = tsne
    ? 't-SNE of these ' + P.points.length + ' words (by cosine): words near each other stay together; distances between groups mean little.'
    : 'PCA of these ' + P.points.length + ' words: PC1 holds ' + (P.explained[0] * 100).toFixed(1) +
      '% of their variance, PC2 ' + (P.explained[1] * 100).toFixed(1) + '%. Both axes have the same scale.';
  cv.dataset.method = P.method;
  cv.dataset.points = String(P.points.length);
  cv.dataset.words = P.points.map((p) => p.word).join('\n');
}

// ---------- wiring ----------

function switchView(name) {
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.view === name);
  for (const v of document.querySelectorAll('.view')) v.classList.toggle('active', v.id === 'view-' + name);
  if (name === 'model') renderModelPage();
  if (name === 'vectors') {
    if (!vec.loaded) loadVectorSources().catch((e) => vecError('Could not list the vectors: ' + e.message));
    drawProjection();
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('composer').addEventListener('submit', send);
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      if (!state.busy) $('composer').requestSubmit();
    } else if (e.key === 'Escape' && state.busy) {
      e.preventDefault();
      stop();
    }
  });
  $('stop').addEventListener('click', stop);
  $('raw').addEventListener('change', () => { state.rawChoice = $('raw').checked; updatePlaceholder(); });
  $('reset').addEventListener('click', () => {
    stop();
    state.epoch++;
    state.history = []; state.turns = []; state.current = null;
    $('messages').replaceChildren(); $('dissection').classList.add('hidden');
  });
  $('d-close').addEventListener('click', () => $('dissection').classList.add('hidden'));
  $('d-layer').addEventListener('change', drawHeatmap);
  $('d-head').addEventListener('change', drawHeatmap);
  $('d-heatmap').addEventListener('mousemove', heatTip);
  $('d-heatmap').addEventListener('click', heatTip);
  $('d-heatmap').addEventListener('mouseleave', () => { $('d-tip').hidden = true; });
  $('model').addEventListener('change', () => { updateMode(); renderModelPage(); });
  // the heatmap's cells follow the width (a phone turned sideways), not
  // the height (a phone's address bar coming and going)
  let resizing = 0, lastWidth = window.innerWidth;
  window.addEventListener('resize', () => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(() => {
      if (!$('dissection').classList.contains('hidden')) drawHeatmap();
      if ($('view-vectors').classList.contains('active')) drawProjection();
    });
  });
  for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => switchView(b.dataset.view));
  $('v-similar-form').addEventListener('submit', similar);
  $('v-analogy-form').addEventListener('submit', analogy);
  $('v-source').addEventListener('change', sourceInfo);
  $('v-proj').addEventListener('change', reproject);
  loadModels().catch((e) => addMessage('error', 'Could not list models: ' + e.message));
});
