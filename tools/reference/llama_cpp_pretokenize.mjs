// llama.cpp's pre-tokenization of a list of texts, for every tokenizer.ggml.pre name asked
// for, through node-llama-cpp's prebuilt llama.cpp: writes tests/model/data/
// pretokenizer-reference.json, read by tests/model/pretokenizer_reference_test.cpp.
//
// llama.cpp does not expose its pre-tokenizer, so this makes it visible through the ids:
// a vocabulary-only GGUF whose tokens are every byte string of up to MAX_BYTES bytes that
// occurs in a text (and the 256 single bytes), with a merge for every way to cut each of
// them in two. Byte-level BPE never merges across the pieces the pre-tokenizer made, and
// within a piece every two neighbouring symbols are a substring of the text with a merge,
// so each piece of at most MAX_BYTES bytes comes out as exactly one token, and the tokens'
// bytes are llama.cpp's pieces. Texts longer than MAX_BYTES are refused (a longer piece
// would come out as several tokens).
//
// The output gives, for each name and text, the length in bytes of each piece in order.
//
// usage: node llama_cpp_pretokenize.mjs CASES.json OUT.json WORK_DIR NAME...
//   CASES.json: a JSON array of texts; each NAME is a tokenizer.ggml.pre value.
// LLAMA_REF_DIR must name the folder node-llama-cpp was installed into.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [casesPath, outPath, workDir, ...names] = process.argv.slice(2);
if (!casesPath || !outPath || !workDir || names.length === 0) {
  console.error("usage: node llama_cpp_pretokenize.mjs CASES.json OUT.json WORK_DIR NAME...");
  process.exit(2);
}
const MAX_BYTES = 40;
const texts = JSON.parse(fs.readFileSync(casesPath, "utf8"));
const cases = texts.map((t) => Buffer.from(t, "utf8"));
for (const [i, c] of cases.entries()) {
  if (c.length > MAX_BYTES) throw new Error(`case ${i} has ${c.length} bytes; at most ${MAX_BYTES}`);
}

// GPT-2's byte-to-character table: what a byte-level vocabulary spells each byte as.
const byteChar = new Array(256);
{
  let n = 0;
  for (let b = 0; b < 256; ++b) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byteChar[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
}
const spell = (bytes) => Array.from(bytes, (b) => byteChar[b]).join("");

// Tokens: the single bytes, then every substring of every case (by length, then spelling).
const tokenBytes = [];
const idOf = new Map();
function addToken(bytes) {
  const key = Buffer.from(bytes).toString("hex");
  if (idOf.has(key)) return;
  idOf.set(key, tokenBytes.length);
  tokenBytes.push(Buffer.from(bytes));
}
for (let b = 0; b < 256; ++b) addToken([b]);
const substrings = new Map();
for (const c of cases) {
  for (let i = 0; i < c.length; ++i) {
    for (let j = i + 2; j <= c.length; ++j) substrings.set(c.subarray(i, j).toString("hex"), c.subarray(i, j));
  }
}
const longer = [...substrings.values()].sort((a, b) => a.length - b.length || Buffer.compare(a, b));
for (const s of longer) addToken(s);
const merges = [];
for (const s of longer) {
  for (let k = 1; k < s.length; ++k) merges.push(`${spell(s.subarray(0, k))} ${spell(s.subarray(k))}`);
}

// ---- A vocabulary-only GGUF (v3) ----
const GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9;
function u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; }
function u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; }
function str(s) { const b = Buffer.from(s, "utf8"); return Buffer.concat([u64(b.length), b]); }
function kv(key, type, value) {
  const parts = [str(key), u32(type)];
  if (type === GGUF_U32) parts.push(u32(value));
  else if (type === GGUF_F32) { const b = Buffer.alloc(4); b.writeFloatLE(value); parts.push(b); }
  else if (type === GGUF_BOOL) parts.push(Buffer.from([value ? 1 : 0]));
  else if (type === GGUF_STRING) parts.push(str(value));
  else if (type === GGUF_ARRAY) {
    const [elemType, items] = value;
    parts.push(u32(elemType), u64(items.length));
    for (const item of items) parts.push(elemType === GGUF_STRING ? str(item) : u32(item >>> 0));
  }
  return Buffer.concat(parts);
}
// Small Llama hyper-parameters: llama.cpp reads them even for a vocabulary-only load.
const fixed = [
  kv("general.architecture", GGUF_STRING, "llama"),
  kv("llama.context_length", GGUF_U32, 256),
  kv("llama.embedding_length", GGUF_U32, 64),
  kv("llama.block_count", GGUF_U32, 1),
  kv("llama.feed_forward_length", GGUF_U32, 128),
  kv("llama.attention.head_count", GGUF_U32, 1),
  kv("llama.attention.head_count_kv", GGUF_U32, 1),
  kv("llama.attention.layer_norm_rms_epsilon", GGUF_F32, 1e-5),
  kv("llama.rope.dimension_count", GGUF_U32, 64),
  kv("llama.vocab_size", GGUF_U32, tokenBytes.length),
  kv("tokenizer.ggml.model", GGUF_STRING, "gpt2"),
  kv("tokenizer.ggml.tokens", GGUF_ARRAY, [GGUF_STRING, tokenBytes.map(spell)]),
  kv("tokenizer.ggml.token_type", GGUF_ARRAY, [GGUF_I32, tokenBytes.map(() => 1)]),
  kv("tokenizer.ggml.merges", GGUF_ARRAY, [GGUF_STRING, merges]),
  kv("tokenizer.ggml.bos_token_id", GGUF_U32, 0),
  kv("tokenizer.ggml.eos_token_id", GGUF_U32, 0),
  kv("tokenizer.ggml.add_bos_token", GGUF_BOOL, false),
  kv("tokenizer.ggml.add_eos_token", GGUF_BOOL, false),
];
function gguf(pre) {
  const body = Buffer.concat([...fixed, kv("tokenizer.ggml.pre", GGUF_STRING, pre)]);
  const head = Buffer.concat([Buffer.from("GGUF"), u32(3), u64(0), u64(fixed.length + 1)]);
  const size = head.length + body.length;
  return Buffer.concat([head, body, Buffer.alloc((32 - (size % 32)) % 32)]);
}

// ---- llama.cpp ----
const refDir = process.env.LLAMA_REF_DIR ?? process.cwd();
const require = createRequire(path.join(path.resolve(refDir), "package.json"));
const { getLlama, LlamaLogLevel } = await import(require.resolve("node-llama-cpp"));
const packageJson = path.join(path.resolve(refDir), "node_modules", "node-llama-cpp", "package.json");
const version = JSON.parse(fs.readFileSync(packageJson, "utf8")).version;
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });

fs.mkdirSync(workDir, { recursive: true });
const file = path.join(workDir, "pretokenizer-vocab.gguf");
const pieces = {};
const refused = {};
for (const name of names) {
  fs.writeFileSync(file, gguf(name));
  let model;
  try {
    model = await llama.loadModel({ modelPath: file, vocabOnly: true });
  } catch (e) {
    refused[name] = String(e.message ?? e).split("\n")[0];
    console.error(`${name}: refused by llama.cpp: ${refused[name]}`);
    continue;
  }
  pieces[name] = texts.map((text, i) => {
    const ids = model.tokenize(text, false);
    const out = ids.map((id) => {
      if (id >= tokenBytes.length) throw new Error(`${name}: case ${i}: id ${id} outside the vocabulary`);
      return tokenBytes[id];
    });
    if (!Buffer.concat(out).equals(cases[i])) throw new Error(`${name}: case ${i}: pieces do not cover the text`);
    return out.map((piece) => piece.length);
  });
  await model.dispose();
  console.error(`${name}: done`);
}
fs.rmSync(file);

// One line per text and per name, so that a change shows as a readable diff.
const lines = [
  "{",
  `"reference": ${JSON.stringify(`llama.cpp through node-llama-cpp ${version} (prebuilt linux-x64 CPU build), ` +
    "tools/reference/make-pretokenizer-references.sh")},`,
  `"texts": [\n${texts.map((t) => " " + JSON.stringify(t)).join(",\n")}\n],`,
  `"piece_bytes": {\n${Object.entries(pieces).map(([n, p]) => ` ${JSON.stringify(n)}: ${JSON.stringify(p)}`).join(",\n")}\n},`,
  `"refused": ${JSON.stringify(refused)}`,
  "}",
];
fs.writeFileSync(outPath, lines.join("\n") + "\n");
