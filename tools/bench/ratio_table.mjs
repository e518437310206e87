// Reads the JSON lines tools/bench/against-llama-cpp.sh collected and prints, per weight
// type and thread count, the range of each engine's tokens/s over the rounds and the
// ratio baton / llama.cpp of the medians (above 1: baton is faster).
import fs from "node:fs";
import path from "node:path";

const file = process.argv[2];
if (!file) {
  console.error("usage: node ratio_table.mjs RESULTS.jsonl");
  process.exit(2);
}
const rows = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim().startsWith("{")).map((l) => JSON.parse(l));

const groups = new Map();  // "model|threads" -> {engine -> [{prefill, decode}]}
for (const r of rows) {
  const key = `${path.basename(r.model)}|${r.threads}`;
  if (!groups.has(key)) groups.set(key, { "llama.cpp": [], baton: [], "baton-before": [] });
  groups.get(key)[r.engine].push(r);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const range = (xs) => {
  if (xs.length === 0) return "-";
  const lo = Math.min(...xs), hi = Math.max(...xs);
  const f = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return lo === hi ? f(lo) : `${f(lo)}-${f(hi)}`;
};
const ratio = (b, l) => (b.length && l.length ? `${(median(b) / median(l)).toFixed(2)}x` : "-");

const withBefore = rows.some((r) => r.engine === "baton-before");
console.log(`\ntokens/s (range over rounds); ratio = baton / llama.cpp (medians; above 1: baton is faster)\n`);
const engines = withBefore ? ["llama.cpp", "baton-before", "baton"] : ["llama.cpp", "baton"];
const header = ["model", "threads"];
for (const what of ["decode", "prefill"]) {
  for (const e of engines) header.push(`${what} ${e}`);
  if (withBefore) header.push(`${what} ratio before`);
  header.push(`${what} ratio`);
}
console.log(`| ${header.join(" | ")} |`);
console.log(`|${header.map(() => "---").join("|")}|`);
for (const [key, g] of groups) {
  const [model, threads] = key.split("|");
  const cells = [model, threads];
  for (const what of ["decode_tps", "prefill_tps"]) {
    const v = (e) => g[e].map((r) => r[what]);
    for (const e of engines) cells.push(range(v(e)));
    if (withBefore) cells.push(ratio(v("baton-before"), v("llama.cpp")));
    cells.push(ratio(v("baton"), v("llama.cpp")));
  }
  console.log(`| ${cells.join(" | ")} |`);
}
