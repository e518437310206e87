// Replays saved inputs through a fuzz target's LLVMFuzzerTestOneInput in the normal build
// (no libFuzzer): the committed corpora and crash files under fuzz/corpus/ run in ctest, so
// an input that once crashed keeps being checked. A crash or a trap fails the run.
//
// usage: <target>_replay FILE_OR_DIRECTORY...   (directories are read recursively)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// The fuzzers run with -max_len of a few KiB; a saved input is never near this.
constexpr std::uintmax_t kMaxInputBytes = std::uintmax_t{1} << 20;

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_regular_file(root)) return {root};
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());  // a stable order: a failure names the same file every run
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
    return 2;
  }
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path root(argv[i]);
    if (!std::filesystem::exists(root)) {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 2;
    }
    for (const auto& file : inputs_under(root)) {
      if (std::filesystem::file_size(file) > kMaxInputBytes) {
        std::fprintf(stderr, "%s: larger than %ju bytes, not a fuzz input\n", file.c_str(), kMaxInputBytes);
        return 2;
      }
      std::ifstream in(file, std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++replayed;
    }
  }
  if (replayed == 0) {
    std::fprintf(stderr, "no inputs found: an empty corpus checks nothing\n");
    return 1;
  }
  std::printf("replayed %zu inputs without a crash\n", replayed);
  return 0;
}
