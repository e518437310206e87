// llama.cpp's logits on a text, scored the way `baton model perplexity` scores it
// (model/perplexity.h): the text is tokenised by llama.cpp (control tokens parsed when
// SPECIAL is 1, no BOS added), cut into non-overlapping windows of CONTEXT + 1 tokens,
// each evaluated from an empty context with every prediction scored. The log-softmax is
// taken here, in float64. Prints one JSON object:
//   {"reference", "tokens", "windows", "predicted", "mean_nll", "perplexity"}
// This is not llama.cpp's own perplexity tool, which scores the second half of each
// window only; it is llama.cpp's forward pass under baton's scoring, to compare engines.
//
// usage: node llama_cpp_perplexity.mjs MODEL.gguf TEXT_FILE CONTEXT SPECIAL(0|1) [THREADS] [MAX_WINDOWS]
// (MAX_WINDOWS: only the first windows, as `baton model perplexity --max-windows`)
// LLAMA_REF_DIR must name the folder node-llama-cpp was installed into (tools/bench/llama-ref.sh).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [modelPath, textPath, contextArg, specialArg, threadsArg, maxWindowsArg] = process.argv.slice(2);
if (!modelPath || !textPath || !contextArg || !specialArg) {
  console.error("usage: node llama_cpp_perplexity.mjs MODEL.gguf TEXT_FILE CONTEXT SPECIAL(0|1) [THREADS] [MAX_WINDOWS]");
  process.exit(2);
}
const context = Number(contextArg);
const threads = Number(threadsArg ?? 1);

const refDir = process.env.LLAMA_REF_DIR ?? process.cwd();
const require = createRequire(path.join(path.resolve(refDir), "package.json"));
const { getLlama, LlamaLogLevel } = await import(require.resolve("node-llama-cpp"));
const packageJson = path.join(path.resolve(refDir), "node_modules", "node-llama-cpp", "package.json");
const version = JSON.parse(fs.readFileSync(packageJson, "utf8")).version;

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const ctx = await model.createContext({
  contextSize: context,
  batchSize: context,
  threads: { ideal: threads, min: 1 },
  flashAttention: false,
  experimentalKvCacheKeyType: "F32",
  experimentalKvCacheValueType: "F32",
});
const seq = ctx.getSequence();
const tokens = model.tokenize(fs.readFileSync(textPath, "utf8"), specialArg === "1");

// -log softmax(logits)[target] from the Map of every vocabulary id's logit.
function nll(logits, target) {
  let top = -Infinity;
  for (const v of logits.values()) if (v > top) top = v;
  let sum = 0;
  for (const v of logits.values()) sum += Math.exp(v - top);
  return Math.log(sum) + top - logits.get(target);
}

const maxWindows = Number(maxWindowsArg ?? 0);
const allWindows = Math.floor((tokens.length - 1) / context);
const windows = maxWindows > 0 ? Math.min(allWindows, maxWindows) : allWindows;
let total = 0;
let predicted = 0;
for (let w = 0; w < windows; ++w) {
  const window = tokens.slice(w * context, w * context + context + 1);
  await seq.clearHistory();
  const results = await seq.controlledEvaluate(window.slice(0, context).map((t) => [t, { generateNext: { logits: true } }]));
  results.forEach((r, i) => {
    total += nll(r.next.logits, window[i + 1]);
    predicted += 1;
  });
  if ((w + 1) % 10 === 0 || w + 1 === windows) console.error(`window ${w + 1}/${windows}  perplexity so far ${Math.exp(total / predicted).toFixed(3)}`);
}

console.log(JSON.stringify({
  reference: `llama.cpp ${llama.llamaCppRelease?.release ?? "(release unknown)"} through node-llama-cpp ${version}, CPU, f32 KV, no flash attention`,
  tokens: tokens.length,
  windows,
  predicted,
  mean_nll: total / predicted,
  perplexity: Math.exp(total / predicted),
}));
process.exit(0);
