// The node's speed calibration: whole decode steps of a model-shaped synthetic file, a
// read-bandwidth probe, and the per-binary cache that makes a restart free.
#include "node/stage/host_calibration.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "model/synth.h"
#include "model/weights.h"
#include "tensor/thread_pool.h"

namespace baton {
namespace {

class HostCalibration : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("baton-calibration-test-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST(DecodeWeights, CountsTheSevenLayerMatricesAndTheHeadNotTheEmbedding) {
  // A tiny synthesised model whose matrices are counted by hand.
  SynthOptions opt;
  opt.shape = SynthShape{2, 64, 96, 4, 2, 512, 32};
  opt.dtype = DType::Q8_0;
  const auto path = std::filesystem::temp_directory_path() / ("baton-decode-weights-" + std::to_string(getpid()) + ".gguf");
  synth_model(opt).write(path.string());
  {
    const auto model = Model::open(path.string());
    // Q and O 64x64; K and V 32x64 (2 kv heads of 16); gate, up and down 64x96.
    const uint64_t per_layer = 2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 96;
    const uint64_t want = 2 * per_layer + 512 * 64;  // two layers and the head
    ASSERT_EQ(want, 94208u);
    EXPECT_EQ(decode_weight_elements(model->weights()), want);
    // Q8_0: 34 bytes per 32 weights.
    EXPECT_EQ(decode_weight_bytes(model->weights()), want / 32 * 34);
  }
  std::filesystem::remove(path);
}

TEST_F(HostCalibration, DecodeStepsGiveAFiniteFigureAndLeaveNoScratchFile) {
  ThreadPool pool(1);
  const double gflops = measure_decode_gflops(pool, dir_.string(), 30);
  EXPECT_TRUE(std::isfinite(gflops));
  EXPECT_GT(gflops, 0.0);
  ASSERT_TRUE(std::filesystem::exists(dir_));
  EXPECT_TRUE(std::filesystem::is_empty(dir_)) << "the scratch model must be removed";
}

TEST_F(HostCalibration, ASecondStartReadsTheCacheAndAStaleEntryIsMeasuredAgain) {
  const DeviceSpeed first = calibrate_device(1, dir_.string());
  EXPECT_FALSE(first.from_cache);
  EXPECT_GT(first.gflops, 0.0);
  EXPECT_GT(first.bandwidth_gbs, 0.0);
  const DeviceSpeed second = calibrate_device(1, dir_.string());
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.gflops, first.gflops);
  EXPECT_EQ(second.bandwidth_gbs, first.bandwidth_gbs);

  // Age every entry by eight days: the next start measures again.
  const auto file = dir_ / "device-calibration.json";
  nlohmann::json cache = nlohmann::json::parse(std::ifstream(file));
  ASSERT_EQ(cache.size(), 1u);
  for (auto& [key, entry] : cache.items()) entry["measured_at"] = entry["measured_at"].get<int64_t>() - 8 * 24 * 3600;
  std::ofstream(file) << cache.dump();
  EXPECT_FALSE(calibrate_device(1, dir_.string()).from_cache);
}

}  // namespace
}  // namespace baton
