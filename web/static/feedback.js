// glassbox page: judgements of replies, kept as preference data. Every chat
// reply gets thumbs up and down; the Compare view samples two replies to one
// prompt with two seeds, side by side, and records which one the person
// prefers (or a tie, or both bad). Each judgement is one record of the
// server's feedback file (POST glassbox/feedback), in the shapes of TRL's
// preference datasets: see docs/alignment.md. Uses app.js's helpers.
'use strict';

const fb = { pair: null, loaded: false };

// samplingRecord is the sampling settings of a request as a feedback record
// keeps them.
function samplingRecord(s, withSeed) {
  const r = { temperature: s.temperature, top_k: s.top_k, top_p: s.top_p, min_p: s.min_p, max_tokens: s.max_tokens };
  if (withSeed) r.seed = s.seed;
  return r;
}

async function postFeedback(rec) {
  const resp = await api('glassbox/feedback', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(Object.assign({ source: 'web' }, rec)) });
  if (!resp.ok) throw new Error(await apiError(resp));
  return resp.json();
}

// ---------- thumbs on chat replies ----------

// addThumbs puts a thumbs up and a thumbs down under a finished reply. The
// record keeps the prompt as the model got it: the text (completion mode)
// or the conversation so far, and the reply in the same shape.
function addThumbs(ev) {
  const { msg, request, reply } = ev.detail;
  const conv = Array.isArray(request.messages);
  const prompt = conv ? request.messages : request.prompt;
  const completion = conv ? [{ role: 'assistant', content: reply.trim() }] : reply;
  const status = el('span', { class: 'small fb-status', role: 'status' });
  const box = el('div', { class: 'fb-thumbs' });
  const vote = async (label, btn) => {
    for (const b of box.querySelectorAll('button')) b.disabled = true;
    status.classList.remove('error');
    try {
      const rec = await postFeedback({ kind: 'thumbs', prompt, completion, label, model: request.model, sampling: samplingRecord(request, true) });
      btn.classList.add('chosen');
      status.textContent = 'recorded: ' + (label ? 'good reply' : 'bad reply');
      status.dataset.id = rec.id;
      refreshRecent();
    } catch (err) {
      status.textContent = 'not recorded: ' + err.message;
      status.classList.add('error');
      for (const b of box.querySelectorAll('button')) b.disabled = false;
    }
  };
  const up = el('button', { type: 'button', class: 'secondary fb-up', title: 'a good reply', 'aria-label': 'good reply', text: '👍' });
  const down = el('button', { type: 'button', class: 'secondary fb-down', title: 'a bad reply', 'aria-label': 'bad reply', text: '👎' });
  up.addEventListener('click', () => vote(true, up));
  down.addEventListener('click', () => vote(false, down));
  box.append(up, down, status);
  msg.append(box);
}

// ---------- A/B comparison ----------

// fillModelSelect lists the served models in sel, keeping its choice.
function fillModelSelect(sel, pick) {
  const keep = sel.value;
  sel.replaceChildren(...state.models.map((m) => el('option', { value: m.id, text: m.id })));
  if (state.models.some((m) => m.id === keep)) sel.value = keep;
  else if (pick != null && state.models[pick]) sel.value = state.models[pick].id;
}

function abError(msg) {
  $('ab-error').textContent = msg;
  $('ab-error').hidden = !msg;
}

// generatePair asks for two replies in one request (n = 2): the server
// samples choice i with seed + i, so A has the seed and B the next one.
async function generatePair(ev) {
  ev.preventDefault();
  const text = $('ab-prompt').value.trim();
  if (!text) return;
  abError('');
  const model = $('ab-model').value;
  const m = state.models.find((x) => x.id === model);
  const raw = $('ab-raw').checked || (m && !hasTemplate(m));
  const s = settings();
  const seed = Number($('ab-seed').value);
  const body = { model, n: 2, seed, temperature: s.temperature, top_k: s.top_k, top_p: s.top_p, min_p: s.min_p, max_tokens: s.max_tokens };
  if (raw) body.prompt = text;
  else body.messages = [{ role: 'user', content: text }];
  $('ab-generate').disabled = true;
  $('ab-choices').hidden = true;
  $('ab-status').textContent = 'generating A and B…';
  fb.pair = null;
  try {
    const resp = await api(raw ? 'v1/completions' : 'v1/chat/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!resp.ok) throw new Error(await apiError(resp));
    const j = await resp.json();
    const choices = j.choices.slice().sort((a, b) => a.index - b.index);
    const texts = choices.map((c) => (raw ? c.text : c.message.content));
    fb.pair = {
      prompt: raw ? text : body.messages,
      completions: raw ? texts : texts.map((t) => [{ role: 'assistant', content: t }]),
      seeds: [seed, seed + 1], model, sampling: samplingRecord(s, false),
    };
    $('ab-a').textContent = texts[0];
    $('ab-b').textContent = texts[1];
    $('ab-pair').hidden = false;
    $('ab-choices').hidden = false;
    for (const b of $('ab-choices').querySelectorAll('button')) b.disabled = false;
    $('ab-status').textContent = texts[0] === texts[1]
      ? 'A and B are the same text' + (s.temperature === 0 ? ' (the temperature is 0: sampling is greedy)' : '') + '; you can still record a judgement.'
      : 'Which reply is better?';
  } catch (err) {
    abError('Could not generate the replies: ' + err.message);
    $('ab-status').textContent = '';
  } finally {
    $('ab-generate').disabled = false;
  }
}

const choiceWords = { a: 'A is better', b: 'B is better', tie: 'a tie', both_bad: 'both bad' };

// pick records the person's choice for the pair shown.
async function pick(choice) {
  if (!fb.pair) return;
  const buttons = $('ab-choices').querySelectorAll('button');
  for (const b of buttons) b.disabled = true;
  try {
    const rec = await postFeedback(Object.assign({ kind: 'ab', choice }, fb.pair));
    $('ab-status').textContent = 'Recorded: ' + choiceWords[choice] + '.';
    $('ab-status').dataset.id = rec.id;
    $('ab-choices').hidden = true;
    fb.pair = null;
    // the next pair gets two new seeds
    $('ab-seed').value = String(Number($('ab-seed').value) + 2);
    refreshRecent();
  } catch (err) {
    abError('Not recorded: ' + err.message);
    for (const b of buttons) b.disabled = false;
  }
}

// ---------- recent judgements ----------

function verdictOf(r) {
  if (r.kind === 'thumbs') return r.label ? 'up' : 'down';
  if (r.kind === 'ab') return { a: 'A > B', b: 'B > A', tie: 'tie', both_bad: 'both bad' }[r.choice] || r.choice;
  return 'chosen > rejected';
}

function textOf(c) {
  return Array.isArray(c) ? c.map((m) => m.role + ': ' + m.content).join(' | ') : String(c);
}

async function refreshRecent() {
  const resp = await api('glassbox/feedback?limit=8');
  if (!resp.ok) {
    $('fb-count').textContent = await apiError(resp);
    return;
  }
  const j = await resp.json();
  $('fb-count').textContent = j.total + ' recorded' + (j.warnings.length ? ', ' + j.warnings.length + ' bad lines in the file' : '');
  const rows = j.data.slice().reverse().map((r) => el('tr', { 'data-id': r.id },
    el('td', { class: 'small', text: new Date(r.time).toLocaleTimeString() }),
    el('td', { text: r.kind }), el('td', { text: verdictOf(r) }), el('td', { text: r.model || '' }),
    el('td', { class: 'fb-prompt', text: textOf(r.prompt) })));
  $('fb-recent').replaceChildren(el('tr', {}, ...['time', 'kind', 'verdict', 'model', 'prompt'].map((h) => el('th', { text: h }))), ...rows);
}

// openCompare fills the view's model list when it is shown.
function openCompare() {
  fillModelSelect($('ab-model'), 0);
  if (!fb.loaded) {
    fb.loaded = true;
    refreshRecent().catch((e) => { $('fb-count').textContent = e.message; });
  }
}

document.addEventListener('glassbox:reply', addThumbs);
document.addEventListener('DOMContentLoaded', () => {
  $('ab-form').addEventListener('submit', generatePair);
  for (const b of $('ab-choices').querySelectorAll('button')) b.addEventListener('click', () => pick(b.dataset.choice));
  $('tab-compare').addEventListener('click', openCompare);
});
