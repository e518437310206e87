// llama.cpp's logits on one GGUF file (through node-llama-cpp's prebuilt CPU build), for
// the architecture references in tests/model/data/arch-reference/. Evaluates the prompt in
// one batch, then continues greedily one token at a time, and prints one JSON object:
//   {...META, "reference": "...", "tokens": [prompt..., generated...], "n_prompt": N,
//    "rows": [[[id, logit], ...], ...]}   (row i: the logits after tokens[0..i])
// A row keeps the TOP largest logits and every STRIDE-th vocabulary id (STRIDE 1: all),
// rounded to 1e-5. Keys and values in float32 and no flash attention, so the only
// differences from an exact float32 engine are the order of additions and, for quantised
// weights, the quantisation of activations.
//
// CONTEXT (default: the prompt and continuation plus 8) is the context size asked for;
// llama.cpp rounds it up to a multiple of 256, and the output's "context" is the size it
// ran with (the per-sequence context LongRoPE chooses its factors by).
//
// usage: node llama_cpp_logits.mjs MODEL.gguf PROMPT_IDS(comma-separated) GEN_TOKENS STRIDE TOP [META_JSON] [CONTEXT]
// LLAMA_REF_DIR must name the folder node-llama-cpp was installed into.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [modelPath, promptArg, genArg, strideArg, topArg, metaArg, contextArg] = process.argv.slice(2);
if (!modelPath || !promptArg || !genArg || !strideArg || !topArg) {
  console.error("usage: node llama_cpp_logits.mjs MODEL.gguf PROMPT_IDS GEN_TOKENS STRIDE TOP [META_JSON] [CONTEXT]");
  process.exit(2);
}
const prompt = promptArg.split(",").map(Number);
const genTokens = Number(genArg);
const stride = Number(strideArg);
const top = Number(topArg);
const meta = metaArg ? JSON.parse(metaArg) : {};
const contextSize = contextArg ? Number(contextArg) : prompt.length + genTokens + 8;

const refDir = process.env.LLAMA_REF_DIR ?? process.cwd();
const require = createRequire(path.join(path.resolve(refDir), "package.json"));
const { getLlama, LlamaLogLevel } = await import(require.resolve("node-llama-cpp"));
const packageJson = path.join(path.resolve(refDir), "node_modules", "node-llama-cpp", "package.json");
const version = JSON.parse(fs.readFileSync(packageJson, "utf8")).version;

// One thread: the order of additions is then fixed, so a rerun gives the same file.
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 1 });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({
  contextSize,
  batchSize: prompt.length + genTokens + 8,
  threads: { ideal: 1, min: 1 },
  flashAttention: false,
  experimentalKvCacheKeyType: "F32",
  experimentalKvCacheValueType: "F32",
});
const vocab = model.tokens.vocabularySize ?? model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;
const seq = context.getSequence();

function row(result) {
  const logits = result?.next?.logits;
  if (!logits || logits.size !== vocab) throw new Error(`expected ${vocab} logits, got ${logits?.size}`);
  const out = new Array(vocab);
  for (const [id, value] of logits) out[id] = value;
  return out;
}
function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; ++i) if (values[i] > values[best]) best = i;
  return best;
}

const wantLogits = (t) => [t, { generateNext: { logits: true } }];
const rows = (await seq.controlledEvaluate(prompt.map(wantLogits))).map(row);
const tokens = [...prompt];
for (let i = 0; i < genTokens; ++i) {
  const next = argmax(rows[rows.length - 1]);
  tokens.push(next);
  if (i + 1 < genTokens) rows.push(row((await seq.controlledEvaluate([wantLogits(next)]))[0]));
}

// The ids a row keeps: its TOP largest, then every STRIDE-th id.
function kept(values) {
  const ids = new Set([...values.keys()].sort((a, b) => values[b] - values[a]).slice(0, top));
  for (let id = 0; id < values.length; id += stride) ids.add(id);
  return [...ids].sort((a, b) => a - b).map((id) => [id, Math.round(values[id] * 1e5) / 1e5]);
}

console.log(JSON.stringify({
  ...meta,
  reference: `llama.cpp ${llama.llamaCppRelease?.release ?? "(release unknown)"} through node-llama-cpp ${version}, CPU, 1 thread, f32 KV, no flash attention`,
  tokens,
  n_prompt: prompt.length,
  context: context._ctx.getContextSize(),
  rows: rows.map(kept),
}));
await context.dispose();
await model.dispose();
await llama.dispose();
