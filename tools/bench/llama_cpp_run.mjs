// Times llama.cpp (through node-llama-cpp's prebuilt CPU build) on one GGUF file, the
// same way `baton bench` times baton: a deterministic prompt of token ids spread over the
// vocabulary, evaluated as one batch (prefill), then greedy single-token steps (decode).
// Prints one JSON line: {"engine":"llama.cpp","model":...,"threads":...,"prefill_tps":...,"decode_tps":...}.
//
// usage: node llama_cpp_run.mjs MODEL.gguf THREADS PROMPT_TOKENS GEN_TOKENS
// NODE_PATH (or a node_modules next to this file's caller) must reach node-llama-cpp.
import { createRequire } from "node:module";
import path from "node:path";

const [modelPath, threadsArg, promptArg, genArg] = process.argv.slice(2);
if (!modelPath || !threadsArg) {
  console.error("usage: node llama_cpp_run.mjs MODEL.gguf THREADS [PROMPT_TOKENS=128] [GEN_TOKENS=64]");
  process.exit(2);
}
const threads = Number(threadsArg);
const promptTokens = Number(promptArg ?? 128);
const genTokens = Number(genArg ?? 64);

// Resolved from the folder the wrapper installed it into (LLAMA_REF_DIR), so this file
// can live in the source tree while node_modules stays in the build folder.
const refDir = process.env.LLAMA_REF_DIR ?? process.cwd();
const require = createRequire(path.join(path.resolve(refDir), "package.json"));
const { getLlama, LlamaLogLevel } = await import(require.resolve("node-llama-cpp"));

// CPU only, never build from source: the run must measure the prebuilt release.
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const vocab = model.tokens.vocabularySize ?? model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;

// Same ids as tools/bench_command.cpp's bench_once: (i * 7919 + 13) % vocab.
const prompt = [];
for (let i = 0; i < promptTokens; ++i) prompt.push((i * 7919 + 13) % vocab);

async function once(nPrompt, nGen) {
  const context = await model.createContext({
    contextSize: nPrompt + nGen + 8,
    batchSize: Math.max(nPrompt, 8),
    threads: { ideal: threads, min: threads },
  });
  const seq = context.getSequence();
  // Prefill: all but the last prompt token in one batch; the last one starts decoding,
  // so the first generated token costs one single-token step like every later one.
  const t0 = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, nPrompt - 1));
  const t1 = performance.now();
  let n = 0;
  for await (const token of seq.evaluate(prompt.slice(nPrompt - 1, nPrompt), { temperature: 0 })) {
    void token;
    if (++n >= nGen) break;
  }
  const t2 = performance.now();
  await context.dispose();
  return { prefill_tps: (nPrompt - 1) / ((t1 - t0) / 1000), decode_tps: nGen / ((t2 - t1) / 1000) };
}

await once(16, 4);  // warm-up: page cache, thread start
const r = await once(promptTokens, genTokens);
console.log(JSON.stringify({ engine: "llama.cpp", model: modelPath, threads, ...r }));
await model.dispose();
await llama.dispose();
