// glassbox page: a chat whose tokens open their dissection. Vanilla JS, no
// dependencies; it talks only to the server that served it.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { history: [], turns: [], current: null, models: [] };

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

// GPT-2's byte-to-unicode table, inverted: byte-level BPE pieces spell bytes
// with printable characters.
const gpt2Bytes = (() => {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map = new Map();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (bs.includes(b)) map.set(String.fromCodePoint(b), b);
    else map.set(String.fromCodePoint(256 + n++), b);
  }
  return map;
})();

// show turns a vocabulary piece into the text it stands for, following the
// tokenizer model of the current trace (state.tokenizer).
function show(piece) {
  if (piece == null) return '';
  if (state.tokenizer === 'gpt2') {
    const bytes = [];
    for (const ch of piece) {
      const b = gpt2Bytes.get(ch);
      if (b === undefined) return piece;
      bytes.push(b);
    }
    return new TextDecoder('utf-8', { fatal: false }).decode(new Uint8Array(bytes));
  }
  return piece.replace(/▁/g, ' ');
}

function visible(piece) {
  const s = show(piece);
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
  await renderModelPage();
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
  const table = el('table', { class: 'kv' }, ...rows.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { text: String(v) }))));
  const tmpl = el('pre', { class: 'template', text: m.chat_template || '(no chat template: prompts are used as they are)' });
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
  return {
    temperature: num('temperature'), top_k: num('top_k'), top_p: num('top_p'), min_p: num('min_p'),
    max_tokens: num('max_tokens'), seed: num('seed'),
  };
}

async function send(ev) {
  ev.preventDefault();
  const text = $('prompt').value.trim();
  if (!text) return;
  $('prompt').value = '';
  $('send').disabled = true;
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
  let reply = '';
  try {
    const resp = await api('v1/dissect', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req) });
    if (!resp.ok) throw new Error(await apiError(resp));
    await readSSE(resp, (e) => {
      switch (e.type) {
        case 'meta': turn.meta = e.meta; state.tokenizer = e.meta.tokenizer; break;
        case 'tokenization': turn.tokenization = e.tokenization; break;
        case 'embeddings': turn.embeddings = e.embeddings; break;
        case 'step': {
          const s = e.step;
          turn.steps.push(s);
          reply += s.text;
          const span = el('span', {
            class: 'tok ' + probClass(s.sampling.raw_prob), text: s.text || '',
            title: visible(s.token.piece) + ' · ' + pct(s.sampling.raw_prob), tabindex: '0', 'data-index': String(s.index),
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
    if (!raw) state.history.push({ role: 'user', content: text }, { role: 'assistant', content: reply.trim() });
  } catch (err) {
    body.append(el('div', { class: 'error', text: String(err.message || err) }));
  } finally {
    body.classList.remove('streaming');
    $('send').disabled = false;
  }
}

// ---------- dissection ----------

function contextToken(turn, pos) {
  const n = turn.tokenization.tokens.length;
  return pos < n ? turn.tokenization.tokens[pos] : turn.steps[pos - n].token;
}

function openDissection(turn, index) {
  state.current = { turn, index };
  state.tokenizer = turn.meta.tokenizer;
  for (const t of state.turns) for (const sp of t.spans) sp.classList.remove('selected');
  turn.spans[index].classList.add('selected');
  const s = turn.steps[index];
  $('dissection').classList.remove('hidden');
  $('d-title').textContent = 'Token ' + (index + 1) + ': ' + visible(s.token.piece);

  // tokenization strip: the prompt as the model saw it, then the generated tokens so far
  const strip = [];
  turn.tokenization.tokens.forEach((t) => strip.push(el('span', { class: 'chip' + (t.special ? ' special' : ''), text: visible(t.piece), title: 'id ' + t.id })));
  turn.steps.slice(0, index + 1).forEach((st, i) => strip.push(el('span', {
    class: 'chip gen ' + probClass(st.sampling.raw_prob) + (i === index ? ' selected' : ''), text: visible(st.token.piece), title: 'id ' + st.token.id })));
  $('d-tokens').replaceChildren(...strip);

  // embeddings
  const emb = turn.embeddings.map((e) => el('tr', {},
    el('td', { text: String(e.position) }), el('td', { class: 'mono', text: visible(e.token.piece) }),
    el('td', { text: e.norm.toFixed(3) }),
    el('td', { text: e.neighbors.map((n) => visible(n.piece) + ' ' + n.cosine.toFixed(3)).join(' · ') })));
  $('d-embeddings').replaceChildren(el('tr', {}, ...['pos', 'token', 'norm', 'nearest (cosine)'].map((h) => el('th', { text: h }))), ...emb);

  // attention selectors
  const layers = [...new Set(s.attention.map((h) => h.layer))];
  const heads = [...new Set(s.attention.map((h) => h.head))];
  fillSelect($('d-layer'), layers, $('d-layer').value);
  fillSelect($('d-head'), heads, $('d-head').value);
  drawHeatmap();

  // candidates
  const bars = s.prediction.top.map((c) => el('div', { class: 'bar-row' + (c.id === s.token.id ? ' chosen' : '') },
    el('span', { class: 'mono label', text: visible(c.piece) }),
    el('span', { class: 'bar' }, fill(c.prob)),
    el('span', { class: 'val', text: pct(c.prob) })));
  bars.unshift(el('div', { class: 'small', text: 'entropy ' + s.prediction.entropy.toFixed(3) + ' nats' }));
  $('d-bars').replaceChildren(...bars);

  // logit lens
  const lens = s.logit_lens.map((l) => el('tr', {}, el('td', { text: 'L' + l.layer }),
    ...l.top.slice(0, 5).map((c) => el('td', { class: 'mono ' + (c.id === s.token.id ? 'hit' : ''), text: visible(c.piece) + ' ' + pct(c.prob) }))));
  $('d-lens').replaceChildren(el('tr', {}, el('th', { text: 'layer' }), el('th', { colspan: '5', text: 'top tokens if the model stopped here' })), ...lens);

  // sampler
  const smp = s.sampling;
  const stepsEls = smp.steps.map((st) => el('div', { class: 'sstep' },
    el('b', { text: st.name }), el('span', { text: ' kept ' + st.kept + ': ' }),
    el('span', { class: 'mono', text: (st.top || []).map((c) => visible(c.piece) + ' ' + pct(c.prob)).join(' · ') })));
  stepsEls.push(el('div', { class: 'sstep final', text: (smp.draw < 0 ? 'greedy: no draw' : 'draw ' + smp.draw.toFixed(4)) +
    ' → ' + visible(s.token.piece) + ', rank ' + smp.chosen_rank + ', p ' + pct(smp.chosen_prob) + ' after the chain (' + pct(smp.raw_prob) + ' raw)' }));
  $('d-sampler').replaceChildren(...stepsEls);
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

function drawHeatmap() {
  if (!state.current) return;
  const { turn, index } = state.current;
  const s = turn.steps[index];
  const lsel = $('d-layer').value, hsel = $('d-head').value;
  const rows = s.attention.filter((h) => (lsel === 'all' || String(h.layer) === lsel) && (hsel === 'all' || String(h.head) === hsel));
  const cv = $('d-heatmap');
  const n = s.position + 1;
  const labelW = 64, top = 4, cellH = Math.max(11, Math.min(18, Math.floor(360 / Math.max(rows.length, 1))));
  const cellW = Math.max(4, Math.min(48, Math.floor((cv.parentElement.clientWidth - labelW - 8) / n)));
  cv.width = labelW + n * cellW + 4;
  cv.height = top + rows.length * cellH + 70;
  const g = cv.getContext('2d');
  g.clearRect(0, 0, cv.width, cv.height);
  g.font = '10px monospace';
  rows.forEach((h, r) => {
    g.fillStyle = '#555';
    g.fillText('L' + h.layer + ' H' + h.head, 2, top + r * cellH + cellH - 3);
    h.weights.forEach((w, c) => {
      const a = Math.sqrt(w);
      g.fillStyle = 'rgba(37, 99, 235,' + a.toFixed(3) + ')';
      g.fillRect(labelW + c * cellW, top + r * cellH, cellW - 1, cellH - 1);
    });
  });
  g.save();
  for (let c = 0; c < n; c++) {
    g.save();
    g.translate(labelW + c * cellW + cellW / 2, top + rows.length * cellH + 4);
    g.rotate(Math.PI / 3);
    g.fillStyle = '#333';
    g.fillText(visible(contextToken(turn, c).piece).slice(0, 10), 0, 0);
    g.restore();
  }
  g.restore();
  cv.dataset.rows = String(rows.length);
  const best = rows.slice().sort((a, b) => a.entropy - b.entropy).slice(0, 3);
  $('d-attn-top').replaceChildren(...best.map((h) => el('div', {
    text: 'L' + h.layer + ' H' + h.head + ' (kv ' + h.kv_head + '), entropy ' + h.entropy.toFixed(3) + ': ' +
      h.top.slice(0, 3).map((a) => visible(a.token.piece) + '@' + a.position + ' ' + a.weight.toFixed(3)).join(' · ') })));
}

// ---------- wiring ----------

function switchView(name) {
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.view === name);
  for (const v of document.querySelectorAll('.view')) v.classList.toggle('active', v.id === 'view-' + name);
  if (name === 'model') renderModelPage();
}

document.addEventListener('DOMContentLoaded', () => {
  $('composer').addEventListener('submit', send);
  $('prompt').addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('composer').requestSubmit(); } });
  $('reset').addEventListener('click', () => { state.history = []; state.turns = []; $('messages').replaceChildren(); $('dissection').classList.add('hidden'); });
  $('d-close').addEventListener('click', () => $('dissection').classList.add('hidden'));
  $('d-layer').addEventListener('change', drawHeatmap);
  $('d-head').addEventListener('change', drawHeatmap);
  $('model').addEventListener('change', renderModelPage);
  for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => switchView(b.dataset.view));
  loadModels().catch((e) => addMessage('error', 'Could not list models: ' + e.message));
});
