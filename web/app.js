// baton's web page: a chat over /v1/chat/completions (SSE streaming) and a view of the
// cluster from /v1/cluster. No dependencies. Text from the server (replies, device names
// from discovery) only ever goes into textContent or DOM nodes built by markdown.js, never
// into HTML. An API key, when the coordinator asks for one, is kept in localStorage.
'use strict';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { history: [], replies: 0, controller: null, clusterTimer: null, clusterBusy: false,
  apiKey: localStorage.getItem('baton.apiKey') || '' };
const DEFAULT_TEMPERATURE = 0.8;  // the same default as `baton run` and the HTTP API
const PALETTE = ['#4f6bed', '#e0803a', '#2fa57a', '#c0508e', '#8a63d2', '#c9a227', '#3a9fbf', '#d2544b'];

// h('div', {className: 'x'}, 'text', child): a DOM element; strings become text nodes.
function h(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function num(x, digits = 1) {
  return typeof x === 'number' && isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';
}

// The message of an OpenAI-style error body, else the HTTP status.
async function errorText(res) {
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return `HTTP ${res.status} ${res.statusText}`;
}

// Headers for the API: the key when there is one.
function apiHeaders(extra = {}) {
  return state.apiKey ? { ...extra, Authorization: 'Bearer ' + state.apiKey } : extra;
}

// The coordinator wants a key (401): ask for it once, in the page, and keep it.
function askForKey(message) {
  $('key-form').hidden = false;
  $('key-message').textContent = message || 'This coordinator needs an API key.';
  $('api-key').focus();
}

// ---- tabs -------------------------------------------------------------------------------

function showView(name) {
  for (const view of ['chat', 'cluster']) {
    $('tab-' + view).setAttribute('aria-selected', String(view === name));
    $('view-' + view).hidden = view !== name;
  }
  clearInterval(state.clusterTimer);
  state.clusterTimer = null;
  if (name === 'cluster') {
    refreshCluster();
    state.clusterTimer = setInterval(refreshCluster, 2000);
  }
}

// ---- chat -------------------------------------------------------------------------------

function addMessage(role, text) {
  $('empty').hidden = true;
  const body = h('div', { className: 'text' + (role === 'user' ? ' plain' : '') }, text);
  const meta = h('div', { className: 'meta' });
  const actions = h('div', { className: 'actions' });
  const box = h('article', { className: 'msg ' + role },
    h('div', { className: 'who' }, role === 'user' ? 'You' : 'baton'), body, h('div', { className: 'footer' }, meta, actions));
  $('messages').append(box);
  box.scrollIntoView({ block: 'end' });
  return { box, body, meta, actions, raw: text };
}

// Replies are Markdown; rendering is throttled while tokens stream in.
function renderReply(reply, final) {
  const draw = () => {
    reply.pending = null;
    reply.body.replaceChildren(renderMarkdown(reply.raw));
  };
  if (final) {
    clearTimeout(reply.pending);
    draw();
  } else if (!reply.pending) {
    reply.pending = setTimeout(draw, 40);
  }
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    // No clipboard API outside secure contexts (plain http from another device).
    const area = h('textarea', { value: text });
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}

// Copy on every finished reply; Regenerate on the last one.
function addReplyActions(reply) {
  const copy = h('button', { type: 'button', className: 'link', textContent: 'Copy' });
  copy.addEventListener('click', () => copyText(reply.raw, copy));
  const again = h('button', { type: 'button', className: 'link regenerate', textContent: 'Regenerate' });
  again.addEventListener('click', regenerate);
  reply.actions.replaceChildren(copy, again);
}

function regenerate() {
  if (state.controller) return;
  const last = [...$('messages').querySelectorAll('.msg.assistant')].pop();
  if (!last) return;
  last.remove();
  if (state.history.length && state.history[state.history.length - 1].role === 'assistant') state.history.pop();
  generate();
}

// Yields the payload of each SSE `data:` line of a fetch body.
async function* sseData(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      if (line.startsWith('data:')) yield line.slice(line.startsWith('data: ') ? 6 : 5);
    }
  }
}

function statsLine(stats, pieces, startedMs) {
  if (stats) {
    const parts = [`${num(stats.tokens_per_s)} tokens/s`, `KV cache ${num(stats.kv_cache_mib, 2)} MB`];
    if (typeof stats.ttft_ms === 'number') parts.push(`first token ${num(stats.ttft_ms, 0)} ms`);
    return parts.join(' · ');
  }
  // An older coordinator sends no `baton` object: say what the browser saw.
  const seconds = (performance.now() - startedMs) / 1000;
  return `${pieces} pieces in ${num(seconds, 2)} s`;
}

function setBusy(busy) {
  $('send').disabled = busy;
  $('stop').disabled = !busy;
}

function send(text) {
  if (state.controller || !text.trim()) return;
  addMessage('user', text);
  state.history.push({ role: 'user', content: text });
  generate();
}

function requestBody() {
  const maxTokens = parseInt($('max-tokens').value, 10) || 128;
  const temperature = parseFloat($('temperature').value);
  const topP = parseFloat($('top-p').value);
  const system = $('system-prompt').value.trim();
  const messages = system ? [{ role: 'system', content: system }, ...state.history] : state.history;
  return {
    messages, stream: true, max_tokens: maxTokens,
    temperature: isFinite(temperature) ? temperature : DEFAULT_TEMPERATURE,
    top_p: isFinite(topP) ? topP : 1,
  };
}

// Streams a reply to the conversation so far.
async function generate() {
  for (const b of $('messages').querySelectorAll('.regenerate')) b.remove();
  const reply = addMessage('assistant', '');
  reply.body.id = 'reply-' + state.replies++;
  reply.box.classList.add('streaming');
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  const started = performance.now();
  let pieces = 0;
  let stats = null;
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: apiHeaders({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(requestBody()),
      signal: controller.signal,
    });
    if (res.status === 401) {
      const message = await errorText(res);
      askForKey(message);
      throw new Error(message);
    }
    if (!res.ok) throw new Error(await errorText(res));
    // Headless Chromium's --virtual-time-budget (tests/integration/web_test.cpp) waits for a
    // body that is read whole but not for one read as a stream: reading a copy whole keeps an
    // automated run alive until the reply is finished. It costs one copy of the reply text.
    res.clone().text().catch(() => {});
    for await (const data of sseData(res.body)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message || 'the server reported an error');
      const piece = chunk.choices && chunk.choices[0] && chunk.choices[0].delta && chunk.choices[0].delta.content;
      if (piece) {
        reply.raw += piece;
        renderReply(reply, false);
        pieces++;
        reply.box.scrollIntoView({ block: 'end' });
      }
      if (chunk.baton) stats = chunk.baton;
    }
    renderReply(reply, true);
    reply.body.dataset.done = '1';
    reply.body.dataset.text = reply.raw;
    reply.meta.textContent = statsLine(stats, pieces, started);
    state.history.push({ role: 'assistant', content: reply.raw });
    addReplyActions(reply);
  } catch (e) {
    renderReply(reply, true);
    if (e.name === 'AbortError') {
      reply.body.dataset.state = 'stopped';
      reply.meta.textContent = 'Stopped';
      if (reply.raw) {
        state.history.push({ role: 'assistant', content: reply.raw });
        addReplyActions(reply);
      }
    } else {
      // The reply's place says what went wrong; Regenerate tries again.
      reply.body.dataset.state = 'error';
      reply.box.classList.add('failed');
      reply.body.replaceChildren(h('p', { className: 'error-text' }, 'Error: ' + e.message));
      reply.meta.textContent = '';
      const again = h('button', { type: 'button', className: 'link regenerate', textContent: 'Try again' });
      again.addEventListener('click', regenerate);
      reply.actions.replaceChildren(again);
    }
  } finally {
    reply.box.classList.remove('streaming');
    if (state.controller === controller) {
      state.controller = null;
      setBusy(false);
    }
  }
}

function clearChat() {
  if (state.controller) state.controller.abort();
  state.history = [];
  for (const m of [...$('messages').querySelectorAll('.msg')]) m.remove();
  $('empty').hidden = false;
  $('prompt').focus();
}

// ---- cluster ----------------------------------------------------------------------------

function deviceColours(cluster) {
  const colours = new Map();
  const ids = [...cluster.plan.map((s) => s.device), ...cluster.nodes.map((n) => n.id)];
  for (const id of ids) if (!colours.has(id)) colours.set(id, PALETTE[colours.size % PALETTE.length]);
  return colours;
}

function layerText(first, last) {
  return last - first === 1 ? `layer ${first}` : `layers ${first}–${last - 1}`;
}

function renderSummary(c) {
  const card = (label, value, sub) => h('div', { className: 'card' },
    h('div', { className: 'card-label' }, label), h('div', { className: 'card-value' }, value),
    sub ? h('div', { className: 'card-sub' }, sub) : null);
  const s = c.sessions || {};
  $('cluster-summary').replaceChildren(
    card('Model', c.model.id, `${c.model.layers} layers`),
    card('Predicted speed', `${num(c.predicted_tokens_per_s)} tokens/s`, `strategy: ${c.strategy}`),
    card('Wire format', c.wire, `${c.plan.length} stage${c.plan.length === 1 ? '' : 's'}`),
    card('Sessions', `${s.active ?? 0} / ${s.max ?? '–'}`, `${s.queued ?? 0} queued`));
}

function renderPlan(c, colours) {
  const offline = new Set(c.nodes.filter((n) => !n.online).map((n) => n.id));
  const bar = h('div', { className: 'plan-bar' });
  for (const stage of c.plan) {
    const label = layerText(stage.first, stage.last);
    const tags = [stage.embedding ? 'embedding' : null, stage.head ? 'head' : null].filter(Boolean).join(' + ');
    const down = offline.has(stage.device);
    const segment = h('div', { className: 'plan-segment' + (down ? ' offline' : ''),
      title: `stage ${stage.stage}: ${stage.device}, ${label}${down ? ' (offline)' : ''}` },
      h('span', { className: 'seg-device' }, stage.device),
      h('span', { className: 'seg-layers' }, label + (tags ? ` · ${tags}` : '')));
    segment.style.flexGrow = String(Math.max(stage.last - stage.first, 1));
    segment.style.background = colours.get(stage.device);
    segment.dataset.device = stage.device;
    bar.append(segment);
  }
  const axis = h('div', { className: 'plan-axis' }, h('span', {}, '0'), h('span', {}, String(c.model.layers)));
  $('cluster-plan').replaceChildren(c.plan.length ? bar : h('p', { className: 'hint' }, 'No plan yet.'), axis);
  $('cluster-plan').setAttribute('aria-label', 'Layer plan: ' +
    c.plan.map((s) => `${s.device} ${layerText(s.first, s.last)}`).join(', '));
}

// " · 54 °C · battery 80 % charging" from a heartbeat (empty when the device has no sensors).
function healthText(hb) {
  let text = '';
  if (typeof hb.temperature_c === 'number') text += ` · ${hb.temperature_c.toFixed(0)} °C${hb.throttled ? ' (throttled)' : ''}`;
  if (typeof hb.battery_percent === 'number') text += ` · battery ${hb.battery_percent} %${hb.charging ? ' charging' : ''}`;
  return text;
}

function renderDevices(c, colours) {
  const stages = new Map(c.plan.map((s) => [s.device, s]));
  const rows = c.nodes.map((n) => {
    const stage = stages.get(n.id);
    const swatch = h('span', { className: 'swatch' });
    swatch.style.background = colours.get(n.id);
    // data-label names the column when a phone shows each row as a card (style.css).
    const cell = (label, className, ...content) => {
      const td = h('td', { className }, ...content);
      td.dataset.label = label;
      return td;
    };
    return h('tr', { className: n.online ? '' : 'offline' },
      cell('Device', 'device', swatch, h('span', { className: 'device-name' }, n.id), h('div', { className: 'address' }, n.address)),
      cell('Kind', '', n.kind),
      cell('Memory MiB', 'num', n.memory_mib > 0 ? n.memory_mib.toLocaleString('en-US') : 'no limit',
        typeof n.used_mib === 'number' ? h('div', { className: 'sub' }, `${num(n.used_mib)} MiB in use`) : null),
      cell('GFLOP/s', 'num', num(n.compute_gflops),
        h('div', { className: 'sub' }, `${num(n.bandwidth_gbs)} GB/s · ${n.figures || 'configured'}`)),
      cell('RTT ms', 'num', n.rtt_ms == null ? '–' : num(n.rtt_ms, 2)),
      cell('State', '', h('span', { className: 'pill ' + (n.online ? 'ok' : 'down') }, n.online ? 'online' : 'offline'),
        n.stepped_back ? h('span', { className: 'pill down', title: n.stepped_back }, 'stepped back') : null,
        n.stepped_back ? h('div', { className: 'sub' }, n.stepped_back) : null,
        n.heartbeat ? h('div', { className: 'sub' },
          `heartbeat ${(n.heartbeat.age_ms / 1000).toFixed(1)} s ago · RSS ${num(n.heartbeat.rss_mib)} MiB` +
          healthText(n.heartbeat)) : null),
      cell('Layers', '', stage ? `${layerText(stage.first, stage.last)} (stage ${stage.stage})` : (n.in_plan ? 'in plan' : 'idle')));
  });
  $('cluster-devices').tBodies[0].replaceChildren(...rows);
}

function renderTimings(c, colours) {
  const last = c.last_request;
  if (!last) {
    $('cluster-timings').replaceChildren(h('p', { className: 'hint' }, 'No request has finished yet.'));
    return;
  }
  const stages = last.stages || [];
  const scale = Math.max(...stages.map((s) => s.compute_ms + s.transfer_ms), 1e-9);
  const rows = stages.map((s) => {
    const compute = h('div', { className: 'bar-compute' });
    compute.style.width = `${(100 * s.compute_ms) / scale}%`;
    compute.style.background = colours.get(s.device);
    const transfer = h('div', { className: 'bar-transfer' });
    transfer.style.width = `${(100 * s.transfer_ms) / scale}%`;
    return h('div', { className: 'timing-row' },
      h('div', { className: 'timing-label' }, h('span', { className: 'device-name' }, s.device), ` stage ${s.stage}`),
      h('div', { className: 'bar-track', role: 'img',
        ariaLabel: `compute ${num(s.compute_ms, 2)} ms, transfer ${num(s.transfer_ms, 2)} ms` }, compute, transfer),
      h('div', { className: 'timing-values' },
        `${num(s.compute_ms, 2)} ms compute · ${num(s.transfer_ms, 2)} ms transfer · ${num(s.wire_bytes_per_token, 0)} B/token`));
  });
  const legend = h('div', { className: 'legend' },
    h('span', { className: 'key compute' }, 'compute'), h('span', { className: 'key transfer' }, 'transfer'));
  $('cluster-timings').replaceChildren(
    h('p', { className: 'timing-summary' },
      `${last.completion_tokens} tokens at ${num(last.tokens_per_s)} tokens/s · first token after ${num(last.ttft_ms, 0)} ms` +
      (last.drafted_tokens > 0
        ? ` · speculation: ${last.accepted_tokens} of ${last.drafted_tokens} drafts accepted (${num(100 * last.accepted_tokens / last.drafted_tokens, 0)}%)`
        : '')),
    ...rows, legend);
}

function renderCluster(c) {
  const colours = deviceColours(c);
  renderSummary(c);
  renderPlan(c, colours);
  renderDevices(c, colours);
  renderTimings(c, colours);
  const online = c.nodes.filter((n) => n.online).length;
  $('health').textContent = `${online} of ${c.nodes.length} devices online`;
  $('health').className = 'health ' + (online === c.nodes.length ? 'ok' : 'warn');
  if (c.model && c.model.id) $('model-name').textContent = c.model.id;
}

async function refreshCluster() {
  if (state.clusterBusy) return;
  state.clusterBusy = true;
  try {
    const res = await fetch('/v1/cluster', { cache: 'no-store', headers: apiHeaders() });
    if (res.status === 401) askForKey(await errorText(res.clone()));
    if (!res.ok) throw new Error(await errorText(res));
    renderCluster(await res.json());
    $('cluster-error').hidden = true;
    // For automated layout checks (tests/integration/web_test.cpp): wider than the window
    // means something is cut off on a phone.
    document.body.dataset.scrollWidth = String(document.documentElement.scrollWidth);
    document.body.dataset.innerWidth = String(window.innerWidth);
    const wrap = $('cluster-devices').parentElement;  // scrolls sideways when the table does not fit
    document.body.dataset.devicesCut = String(wrap.scrollWidth > wrap.clientWidth + 1);
  } catch (e) {
    $('cluster-error').textContent = 'Cannot read the cluster state: ' + e.message;
    $('cluster-error').hidden = false;
    $('health').textContent = 'coordinator unreachable';
    $('health').className = 'health down';
  } finally {
    state.clusterBusy = false;
  }
}

// ---- start ------------------------------------------------------------------------------

$('tab-chat').addEventListener('click', () => showView('chat'));
$('tab-cluster').addEventListener('click', () => showView('cluster'));
$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('prompt').value;
  if (!text.trim() || state.controller) return;
  $('prompt').value = '';
  send(text);
});
$('prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});
$('stop').addEventListener('click', () => state.controller && state.controller.abort());
$('clear').addEventListener('click', clearChat);
$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.apiKey = $('api-key').value.trim();
  if (state.apiKey) localStorage.setItem('baton.apiKey', state.apiKey);
  else localStorage.removeItem('baton.apiKey');
  $('api-key').value = '';
  $('key-form').hidden = true;
  refreshCluster();
});
for (const [id, key] of [['system-prompt', 'baton.system'], ['top-p', 'baton.topP']]) {
  const saved = localStorage.getItem(key);
  if (saved !== null) $(id).value = saved;
  $(id).addEventListener('change', () => localStorage.setItem(key, $(id).value));
}
$('temperature').value = String(DEFAULT_TEMPERATURE);

// Query string for automated use: ?prompt=TEXT&max_tokens=N&temperature=T&system=S&view=cluster
if (params.has('max_tokens')) $('max-tokens').value = params.get('max_tokens');
if (params.has('temperature')) $('temperature').value = params.get('temperature');
if (params.has('system')) $('system-prompt').value = params.get('system');
showView(params.get('view') === 'cluster' ? 'cluster' : 'chat');
if (params.get('view') !== 'cluster') refreshCluster();  // header and cluster view filled on load
if (params.get('prompt')) send(params.get('prompt'));
