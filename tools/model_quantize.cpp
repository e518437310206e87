// `baton model quantize IN OUT --type T [--mixed]`: writes IN's model with its weights in
// another type, metadata kept, one tensor in memory at a time (model/quantize.h has the rules).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <stdexcept>

#include "model/quantize.h"
#include "tensor/thread_pool.h"
#include "tools/model_commands.h"
#include "tools/progress.h"

namespace baton::cli {

namespace {

namespace fs = std::filesystem;

struct QuantizeArgs {
  std::string in;
  std::string out;
  std::string type;
  bool mixed = false;
  std::string mixed_type = "q8_0";
  bool plan_only = false;
  unsigned threads = 0;
};

DType target_type(const std::string& name, const char* option) {
  const auto t = parse_dtype(name);
  const auto targets = quantize_target_types();
  if (!t || std::find(targets.begin(), targets.end(), *t) == targets.end()) {
    throw std::invalid_argument(fmt::format("{} '{}' is not a type baton can write; use one of: {}", option, name,
                                            quantize_target_names()));
  }
  return *t;
}

// Refuses what would fail late or destroy the input: the output over the input, into a
// folder that does not exist.
void check_paths(const QuantizeArgs& a) {
  std::error_code ec;
  if (fs::exists(a.out, ec) && fs::equivalent(a.in, a.out, ec)) {
    throw std::invalid_argument(fmt::format("OUT '{}' is the input file: write the quantised model to another path", a.out));
  }
  const fs::path dir = fs::path(a.out).parent_path();
  if (!dir.empty() && !fs::is_directory(dir, ec)) {
    throw std::invalid_argument(fmt::format("the output folder '{}' does not exist: create it first", dir.string()));
  }
  if (fs::is_directory(a.out, ec)) {
    throw std::invalid_argument(fmt::format("OUT '{}' is a folder: give a file name, e.g. {}/model.gguf", a.out, a.out));
  }
}

std::string mb(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

void print_plan(const QuantizePlan& plan, bool every_tensor) {
  if (every_tensor) {
    fmt::print("{:<32} {:>16}  {:<6}    {:<6} {:>10}  {}\n", "tensor", "dims", "from", "to", "bytes", "why");
    for (const TensorPlan& t : plan.tensors) {
      fmt::print("{:<32} {:>16}  {:<6} -> {:<6} {:>10}  {}\n", t.name, fmt::format("[{}]", fmt::join(t.dims, ", ")),
                 dtype_name(t.from), dtype_name(t.to), t.bytes_out, t.reason);
    }
  } else {
    for (const TensorPlan& t : plan.tensors) {
      if (t.fell_back) fmt::print("{}: {}\n", t.name, t.reason);
    }
  }
  if (plan.requantised > 0) {
    fmt::print("note: {} tensor(s) are already quantised and are quantised again, which adds both errors; "
               "quantise from an f32, f16 or bf16 file when there is one\n", plan.requantised);
  }
}

// "26 q4_K, 8 q8_0, 9 f32"
std::string type_counts(const QuantizePlan& plan) {
  std::map<std::string_view, int> counts;
  for (const TensorPlan& t : plan.tensors) ++counts[dtype_name(t.to)];
  std::vector<std::string> parts;
  for (const auto& [name, n] : counts) parts.push_back(fmt::format("{} {}", n, name));
  return fmt::format("{}", fmt::join(parts, ", "));
}

int quantize(const QuantizeArgs& a) {
  QuantizeOptions o;
  o.type = target_type(a.type, "--type");
  o.mixed = a.mixed;
  o.sensitive_type = target_type(a.mixed_type, "--mixed-type");
  if (!a.plan_only && a.out.empty()) throw std::invalid_argument("OUT is missing: give the file to write (or --plan to see the plan)");
  if (!a.plan_only) check_paths(a);
  const GgufFile in = GgufFile::open(a.in);
  const QuantizePlan plan = plan_quantization(in, o);
  print_plan(plan, a.mixed || a.plan_only);
  fmt::print("{} tensors: {}; {} -> {}\n", plan.tensors.size(), type_counts(plan), mb(plan.bytes_in), mb(plan.bytes_out));
  if (a.plan_only) return 0;

  ThreadPool pool(a.threads);
  ProgressBar bar(fmt::format("quantising to {}", a.out));
  GgufWriter writer = quantized_model_writer(in, plan, &pool, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
  writer.write(a.out);
  bar.finish();
  const GgufFile written = GgufFile::open(a.out);  // what a reader will see: validated again
  fmt::print("wrote {} ({}, {} tensors, general.file_type {})\n", a.out, mb(written.file_size()), written.tensors().size(),
             written.opt_u64("general.file_type").has_value() ? std::to_string(*written.opt_u64("general.file_type")) : "unset");
  return 0;
}

}  // namespace

void register_model_quantize(CLI::App& group, CommandRunner& runner) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = group.add_subcommand("quantize", "Write a model with its weights in another type (q8_0, q4_K, ...)");
  cmd->add_option("in", a->in, "GGUF model to read (any type baton reads)")->required()->check(CLI::ExistingFile);
  cmd->add_option("out", a->out, "GGUF file to write (not needed with --plan)");
  cmd->add_option("-t,--type", a->type, "Weight type: " + quantize_target_names())->required();
  cmd->add_flag("--mixed", a->mixed,
                "Keep the token embedding, output head, first and last blocks and attention tensors at --mixed-type");
  cmd->add_option("--mixed-type", a->mixed_type, "Type for the tensors --mixed keeps (q8_0 or f16)")->capture_default_str();
  cmd->add_flag("--plan", a->plan_only, "Print the per-tensor plan and write nothing");
  cmd->add_option("--threads", a->threads, "Threads (0: one per core)")->capture_default_str();
  cmd->callback([a, &runner] { runner = [a] { return quantize(*a); }; });
}

}  // namespace baton::cli
