// glassbox page: the Diff view. Two served models that share a tokenizer —
// a base and its tuned version — compared token by token on a text one of
// them writes (POST glassbox/diff): both probabilities of each token, their
// top alternatives, the shift, and the KL divergence of the two next-token
// distributions. Uses app.js's helpers.
'use strict';

function dfError(msg) {
  $('df-error').textContent = msg;
  $('df-error').hidden = !msg;
}

// openDiff fills the model lists: base first, tuned second by default.
function openDiff() {
  fillModelSelect($('df-base'), 0);
  fillModelSelect($('df-tuned'), Math.min(1, state.models.length - 1));
}

async function runDiff(ev) {
  ev.preventDefault();
  const prompt = $('df-prompt').value;
  if (!prompt.trim()) return;
  dfError('');
  const body = { base: $('df-base').value, tuned: $('df-tuned').value, generator: $('df-generator').value,
    prompt, max_tokens: Number($('df-n').value), raw: $('df-raw').checked };
  $('df-run').disabled = true;
  try {
    const resp = await api('glassbox/diff', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!resp.ok) throw new Error(await apiError(resp));
    renderDiff(await resp.json());
  } catch (err) {
    dfError('Could not compare: ' + err.message);
  } finally {
    $('df-run').disabled = false;
  }
}

function signedPt(d) { return (d >= 0 ? '+' : '−') + Math.abs(d * 100).toFixed(1) + ' pt'; }

// shiftColor tints a token by its shift: green when the tuned model likes it
// more, red when less, stronger for bigger shifts (set through the CSSOM,
// which the page's content security policy allows).
function shiftColor(e, d) {
  const a = Math.min(0.75, Math.abs(d) * 1.5);
  e.style.backgroundColor = d >= 0 ? 'rgba(21, 128, 61, ' + a.toFixed(3) + ')' : 'rgba(185, 28, 28, ' + a.toFixed(3) + ')';
}

function altList(alts, chosen, own) {
  return el('td', { class: 'mono df-alts' }, ...alts.flatMap((a, i) => [i ? ' · ' : null,
    el('span', { class: a.id === chosen ? 'df-chosen' : '', title: 'base ' + pct(a.base) + ', tuned ' + pct(a.tuned),
      text: visible(a) + ' ' + pct(a[own]) })]));
}

function renderDiff(r) {
  const n = r.tokens.length;
  let maxAt = 0;
  r.tokens.forEach((t, i) => { if (t.kl > r.tokens[maxAt].kl) maxAt = i; });
  $('df-summary').replaceChildren(
    el('b', { text: r.tuned }), ' against ', el('b', { text: r.base }), ', text written by the ' + r.generator + ' model: ',
    el('span', { id: 'df-meankl', text: 'mean KL(tuned‖base) ' + r.mean_kl.toFixed(4) + ' nats' }),
    n ? ', max ' + r.max_kl.toFixed(4) + ' at token ' + maxAt : '',
    ' · the most likely token differs at ', el('span', { id: 'df-argmax', text: r.argmax_differs + ' of ' + n }), ' tokens',
    ' · mean |shift| ' + (r.mean_abs_shift * 100).toFixed(1) + ' pt',
    ' · log p(text): base ' + r.base_logprob.toFixed(2) + ', tuned ' + r.tuned_logprob.toFixed(2));
  const strip = r.tokens.map((t) => {
    const s = el('span', { class: 'df-tok' + (t.highlight ? ' hl' : ''), text: t.text, tabindex: '0', 'data-index': String(t.index),
      title: visible(t) + ': ' + pct(t.base) + ' → ' + pct(t.tuned) + ' (' + signedPt(t.shift) + '), KL ' + t.kl.toFixed(4) });
    shiftColor(s, t.shift);
    const go = () => {
      const row = $('df-table').querySelector('tr[data-index="' + t.index + '"]');
      if (row) { row.scrollIntoView({ block: 'center' }); row.classList.add('flash'); setTimeout(() => row.classList.remove('flash'), 1200); }
    };
    s.addEventListener('click', go);
    s.addEventListener('keydown', (k) => { if (k.key === 'Enter') go(); });
    return s;
  });
  $('df-text').replaceChildren(el('span', { class: 'df-prompt', text: r.prompt }), ...strip);
  const head = el('tr', {}, ...['#', 'token', 'base', 'tuned', 'shift', 'KL(t‖b)', 'base top', 'tuned top'].map((h) => el('th', { text: h })));
  const rows = r.tokens.map((t) => {
    const shift = el('td', { class: 'val ' + (t.shift > 0.005 ? 'df-up' : t.shift < -0.005 ? 'df-down' : ''), text: signedPt(t.shift) });
    return el('tr', { class: (t.highlight ? 'hl' : '') + (t.argmax_differs ? ' differs' : ''), 'data-index': String(t.index) },
      el('td', { text: t.index + (t.argmax_differs ? ' ≠' : '') }), el('td', { class: 'mono', text: visible(t) }),
      el('td', { class: 'val', text: pct(t.base) }), el('td', { class: 'val', text: pct(t.tuned) }), shift,
      el('td', { class: 'val', text: t.kl.toFixed(4) }), altList(t.base_top, t.id, 'base'), altList(t.tuned_top, t.id, 'tuned'));
  });
  $('df-table').replaceChildren(head, ...rows);
  $('df-table').dataset.rows = String(n);
  $('df-result').hidden = false;
}

document.addEventListener('DOMContentLoaded', () => {
  $('df-form').addEventListener('submit', runDiff);
  $('tab-diff').addEventListener('click', openDiff);
});
