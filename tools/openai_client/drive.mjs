// One case per line: what a program written against OpenAI's API asks, and what it got.
// Usage: node drive.mjs BASE_URL [API_KEY]  (run.sh installs the client and calls this)
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const OpenAI = require('openai').default ?? require('openai');

const base = (process.argv[2] || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const key = process.argv[3] || 'no-key';
const client = new OpenAI({ baseURL: base + '/v1', apiKey: key, maxRetries: 0, timeout: 120_000 });
const user = (content) => [{ role: 'user', content }];
let failures = 0;

async function check(name, fn) {
  try {
    const { ok, note } = await fn();
    if (!ok) failures++;
    console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}: ${note}`);
  } catch (e) {
    failures++;
    const status = e.status ? `HTTP ${e.status} ` : '';
    console.log(`FAIL  ${name}: ${status}${(e.message || String(e)).split('\n')[0].slice(0, 160)}`);
  }
}
const refused = async (fn, status) => {
  try {
    await fn();
    return { ok: false, note: 'accepted' };
  } catch (e) {
    return { ok: e.status === status && !!e.error, note: `HTTP ${e.status}: ${(e.error && e.error.message) || e.message}`.slice(0, 160) };
  }
};

const models = await client.models.list().catch(() => null);
const model = models && models.data && models.data[0] ? models.data[0].id : 'unknown';

await check('models.list', async () => ({ ok: !!models && models.data.length === 1, note: model }));
await check('models.retrieve(id)', async () => {
  const m = await client.models.retrieve(model);
  return { ok: m.id === model, note: JSON.stringify(m) };
});
await check('models.retrieve(unknown) is a 404 with a body', () => refused(() => client.models.retrieve('gpt-4o'), 404));
await check('chat.completions.create', async () => {
  const r = await client.chat.completions.create({ model, messages: user('Tell me a fortune.'), max_tokens: 16 });
  return { ok: r.choices.length === 1 && r.choices[0].message.content.length > 0, note: JSON.stringify(r.choices[0].message.content) };
});
await check('chat stream', async () => {
  const s = await client.chat.completions.create({ model, messages: user('Tell me a fortune.'), max_tokens: 16, stream: true });
  let text = '', finish = null;
  for await (const c of s) {
    text += c.choices[0]?.delta?.content || '';
    finish = c.choices[0]?.finish_reason || finish;
  }
  return { ok: text.length > 0 && !!finish, note: `${JSON.stringify(text)} (${finish})` };
});
await check('completions.create (legacy)', async () => {
  const r = await client.completions.create({ model, prompt: 'In the beginning', max_tokens: 8 });
  return { ok: r.choices[0].text.length > 0, note: JSON.stringify(r.choices[0].text) };
});
await check('n: 2 gives two choices', async () => {
  const r = await client.chat.completions.create({ model, messages: user('Tell me a fortune.'), max_tokens: 12, n: 2, temperature: 1 });
  return { ok: r.choices.length === 2, note: `${r.choices.length} choice(s)` };
});
await check('content as an array of text parts', async () => {
  const r = await client.chat.completions.create({ model, max_tokens: 8,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me' }, { type: 'text', text: 'a fortune.' }] }] });
  return { ok: r.choices[0].message.content.length > 0, note: 'accepted' };
});
await check('an image part is refused with a 400 naming it', () => refused(() => client.chat.completions.create({ model, max_tokens: 8,
  messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] }), 400));
await check('developer role', async () => {
  const r = await client.chat.completions.create({ model, max_tokens: 8,
    messages: [{ role: 'developer', content: 'Answer briefly.' }, ...user('Tell me a fortune.')] });
  return { ok: r.choices[0].message.content.length > 0, note: 'accepted' };
});
await check('assistant tool_calls with content null', async () => {
  const r = await client.chat.completions.create({ model, max_tokens: 8, messages: [
    ...user('Weather?'),
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
    ...user('Thanks')] });
  return { ok: r.choices.length === 1, note: 'accepted' };
});
await check('three unseeded requests at temperature 1 differ', async () => {
  const texts = [];
  for (let i = 0; i < 3; i++) {
    const r = await client.chat.completions.create({ model, messages: user('Tell me a fortune.'), max_tokens: 16, temperature: 1 });
    texts.push(r.choices[0].message.content);
  }
  return { ok: new Set(texts).size > 1, note: `${new Set(texts).size} different of 3` };
});
await check('a given seed repeats', async () => {
  const ask = () => client.chat.completions.create({ model, messages: user('Tell me a fortune.'), max_tokens: 16, temperature: 1, seed: 42 });
  const [a, b] = [await ask(), await ask()];
  return { ok: a.choices[0].message.content === b.choices[0].message.content, note: 'same text twice' };
});
await check('logprobs + top_logprobs', async () => {
  const r = await client.chat.completions.create({ model, messages: user('Hi'), max_tokens: 4, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0].logprobs;
  return { ok: !!lp && Array.isArray(lp.content) && lp.content.length > 0 && lp.content[0].top_logprobs.length === 3,
    note: lp ? `${lp.content.length} tokens, first ${JSON.stringify(lp.content[0]).slice(0, 80)}` : 'logprobs: null' };
});
await check('presence/frequency penalties change greedy text', async () => {
  const ask = (extra) => client.chat.completions.create({ model, messages: user('Tell me a fortune.'), max_tokens: 32,
    temperature: 0, ...extra });
  const [plain, penalised] = [await ask({}), await ask({ presence_penalty: 1.5, frequency_penalty: 2 })];
  return { ok: plain.choices[0].message.content !== penalised.choices[0].message.content,
    note: JSON.stringify(penalised.choices[0].message.content).slice(0, 60) };
});
await check('logit_bias +100 forces a token', async () => {
  const r = await client.chat.completions.create({ model, messages: user('Hi'), max_tokens: 3, temperature: 0,
    logit_bias: { '300': 100 }, logprobs: true });
  const toks = (r.choices[0].logprobs?.content ?? []).map((t) => t.token);
  return { ok: toks.length === 3 && toks.every((t) => t === toks[0]), note: JSON.stringify(toks) };
});
await check('response_format json_object gives JSON', async () => {
  const r = await client.chat.completions.create({ model, messages: user('Describe a dog in JSON.'), max_tokens: 48,
    response_format: { type: 'json_object' } });
  try { JSON.parse(r.choices[0].message.content); return { ok: true, note: 'parses' }; } catch (_) {
    return { ok: false, note: `not JSON: ${JSON.stringify(r.choices[0].message.content).slice(0, 60)}` };
  }
});
const person = { type: 'object', additionalProperties: false, required: ['name', 'age', 'mood'],
  properties: { name: { type: 'string' }, age: { type: 'integer' }, mood: { enum: ['calm', 'loud'] } } };
const isPerson = (v) => v && typeof v === 'object' && Object.keys(v).length === 3 && typeof v.name === 'string' &&
  Number.isInteger(v.age) && ['calm', 'loud'].includes(v.mood);
const personFormat = { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: person } };
await check('response_format json_schema follows the schema (4 seeds)', async () => {
  const got = [];
  for (const seed of [1, 2, 3, 4]) {
    const r = await client.chat.completions.create({ model, messages: user('Describe Moses as JSON.'), max_tokens: 64,
      temperature: 1, seed, response_format: personFormat });
    got.push(r.choices[0].message.content);
  }
  const bad = got.filter((t) => { try { return !isPerson(JSON.parse(t)); } catch (_) { return true; } });
  return { ok: bad.length === 0, note: bad.length ? `not a person: ${JSON.stringify(bad[0]).slice(0, 80)}` : got[0].slice(0, 80) };
});
await check('response_format json_schema streamed', async () => {
  const s = await client.chat.completions.create({ model, messages: user('Describe Moses as JSON.'), max_tokens: 64,
    response_format: personFormat, stream: true });
  let text = '';
  for await (const c of s) text += c.choices[0]?.delta?.content || '';
  let ok = false;
  try { ok = isPerson(JSON.parse(text)); } catch (_) { /* not JSON */ }
  return { ok, note: text.slice(0, 80) };
});
await check('json_schema with an unsupported keyword is a 400 naming it', () => refused(() => client.chat.completions.create({
  model, messages: user('Hi'), max_tokens: 32, response_format: { type: 'json_schema', json_schema: { name: 'x',
    schema: { type: 'object', properties: { d: { type: 'string', format: 'date' } } } } } }), 400));
const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'The weather in a city',
    parameters: { type: 'object', additionalProperties: false, required: ['city', 'unit'],
      properties: { city: { type: 'string' }, unit: { enum: ['celsius', 'fahrenheit'] } } } } },
  { type: 'function', function: { name: 'add', description: 'Adds two integers',
    parameters: { type: 'object', additionalProperties: false, required: ['a', 'b'],
      properties: { a: { type: 'integer' }, b: { type: 'integer' } } } } },
];
const validCall = (call) => {
  const args = JSON.parse(call.function.arguments);
  if (call.function.name === 'get_weather') return typeof args.city === 'string' && ['celsius', 'fahrenheit'].includes(args.unit);
  return call.function.name === 'add' && Number.isInteger(args.a) && Number.isInteger(args.b);
};
await check('tools, tool_choice required: a valid call', async () => {
  const r = await client.chat.completions.create({ model, messages: user('What is the weather in Jerusalem?'),
    max_tokens: 64, tools, tool_choice: 'required' });
  const c = r.choices[0];
  const calls = c.message.tool_calls ?? [];
  return { ok: c.finish_reason === 'tool_calls' && c.message.content === null && calls.length === 1 &&
    calls[0].type === 'function' && !!calls[0].id && validCall(calls[0]),
    note: calls.length ? `${calls[0].function.name}(${calls[0].function.arguments})` : JSON.stringify(c.message) };
});
await check('tools, a named function, streamed as delta.tool_calls', async () => {
  const s = await client.chat.completions.create({ model, messages: user('Add 2 and 3.'), max_tokens: 48, tools,
    tool_choice: { type: 'function', function: { name: 'add' } }, stream: true });
  const calls = [];
  let finish = null;
  for await (const c of s) {
    for (const d of c.choices[0]?.delta?.tool_calls ?? []) {
      calls[d.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
      if (d.id) calls[d.index].id = d.id;
      if (d.function?.name) calls[d.index].function.name += d.function.name;
      if (d.function?.arguments) calls[d.index].function.arguments += d.function.arguments;
    }
    finish = c.choices[0]?.finish_reason || finish;
  }
  return { ok: finish === 'tool_calls' && calls.length === 1 && calls[0].function.name === 'add' && validCall(calls[0]),
    note: calls.length ? `${calls[0].function.name}(${calls[0].function.arguments}), ${finish}` : `no calls (${finish})` };
});
await check('tools, tool_choice auto: a reply or a call', async () => {
  const r = await client.chat.completions.create({ model, messages: user('What is the weather in Jerusalem?'),
    max_tokens: 32, tools });
  const m = r.choices[0].message;
  const calls = m.tool_calls ?? [];
  return { ok: calls.length > 0 ? calls.every(validCall) && r.choices[0].finish_reason === 'tool_calls' : typeof m.content === 'string',
    note: calls.length ? `called ${calls[0].function.name}` : `text: ${JSON.stringify(m.content).slice(0, 60)}` };
});
await check('a tool result goes back in', async () => {
  const r = await client.chat.completions.create({ model, max_tokens: 16, tools, messages: [
    ...user('What is the weather in Jerusalem?'),
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Jerusalem","unit":"celsius"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 21}' }] });
  return { ok: r.choices.length === 1 && (r.usage?.prompt_tokens ?? 0) > 0, note: `prompt ${r.usage?.prompt_tokens} tokens` };
});
await check('embeddings.create', async () => {
  const r = await client.embeddings.create({ model, input: ['hello', 'world'] });
  return { ok: r.data.length === 2 && r.data[0].embedding.length > 0, note: `${r.data.length} x ${r.data[0].embedding.length}` };
});
await check('unknown route answers JSON', () => refused(() => client.get('/nothing'), 404));
await check('wrong API key', async () => {
  const bad = new OpenAI({ baseURL: base + '/v1', apiKey: 'wrong-' + key, maxRetries: 0 });
  const r = await refused(() => bad.models.list(), 401);
  return { ok: r.ok, note: r.note + (key === 'no-key' ? ' (server started without --api-key?)' : '') };
});
await check('abandoned non-streaming request stops generating', async () => {
  const active = async () => {
    const r = await fetch(base + '/v1/cluster', { headers: { Authorization: 'Bearer ' + key } });
    return r.ok ? (await r.json()).sessions.active : -1;
  };
  const ac = new AbortController();
  const p = client.completions.create({ model, prompt: 'And God said', max_tokens: 1500, temperature: 0 },
    { signal: ac.signal }).catch(() => null);
  await new Promise((r) => setTimeout(r, 300));
  const before = await active();
  ac.abort();
  await p;
  const t0 = Date.now();
  let now = before;
  while (now > 0 && Date.now() - t0 < 10_000) {
    await new Promise((r) => setTimeout(r, 50));
    now = await active();
  }
  return { ok: before === 1 && now === 0 && Date.now() - t0 < 2000,
    note: `generating before the abort: ${before}; stopped after ${Date.now() - t0} ms` };
});
console.log(`\n${failures} case(s) failed`);
process.exit(failures ? 1 : 0);
