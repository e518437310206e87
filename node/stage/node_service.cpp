#include "node/stage/node_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/frame_cost.h"
#include "model/kv_cache.h"
#include "node/stage/device_health.h"
#include "node/model_identity.h"
#include "node/stage/process_memory.h"
#include "node/stage/shard_fetch.h"

namespace baton {

namespace {
constexpr double kMiB = 1048576.0;
}

std::string check_fits(const StageFootprint& need, uint64_t memory_mib, const StageAssignment& a) {
  if (memory_mib == 0 || need.total() <= memory_mib * 1048576ull) return "";
  return fmt::format(
      "layers [{}, {}) need {:.1f} MiB (weights {:.1f} MiB + KV cache {:.1f} MiB for {} session(s) x {} tokens) "
      "but this node offers {} MiB (--memory)",
      a.range.first, a.range.last, need.total() / kMiB, need.weight_bytes / kMiB, need.kv_bytes / kMiB,
      a.max_sessions, a.context, memory_mib);
}

StageAssignment parse_assignment(rpc::Assignment::Reader a) {
  StageAssignment s;
  s.range = LayerRange{a.getFirst(), a.getLast()};
  if (s.range.first < 0 || s.range.first >= s.range.last) {
    throw std::invalid_argument(fmt::format("assignment has an empty or negative layer range [{}, {})", s.range.first, s.range.last));
  }
  s.with_embedding = a.getWithEmbedding();
  s.with_head = a.getWithHead();
  s.stage_index = a.getStageIndex();
  s.context = a.getContextLength();
  if (s.context <= 0 || s.context > (1 << 20)) throw std::invalid_argument(fmt::format("context {} is out of range", s.context));
  s.max_sessions = a.getMaxSessions();
  if (s.max_sessions == 0 || s.max_sessions > 1024) {
    throw std::invalid_argument(fmt::format("maxSessions {} is out of range 1..1024", s.max_sessions));
  }
  s.kv_dtype = parse_kv_dtype(a.getKvDtype());
  s.max_frame_rows = a.getMaxFrameRows();
  if (s.max_frame_rows == 0 || s.max_frame_rows > 4096) {
    throw std::invalid_argument(fmt::format("maxFrameRows {} is out of range 1..4096", s.max_frame_rows));
  }
  int previous = s.range.first;
  for (const int32_t layer : a.getQuantizeAfter()) {
    if (layer <= previous || layer >= s.range.last) {
      throw std::invalid_argument(fmt::format("quantizeAfter must rise strictly inside the layer range ({}, {}), got {}",
                                              s.range.first, s.range.last, layer));
    }
    s.quantize_after.push_back(layer);
    previous = layer;
  }
  s.exact_output = a.getExactOutput();
  return s;
}

NodeServer::NodeServer(kj::AsyncIoContext& io, NodeConfig config)
    : io_(io), config_(std::move(config)), stage_cap_(kj::heap<StageServer>(&runtime_)) {
  shaping_ = std::make_unique<NodeShaping>(io_, config_.shaping);
  stage_cap_ = shaping_->wrap_incoming(kj::mv(stage_cap_));
  if (config_.model_path) {
    model_hash_ = model_file_hash(*config_.model_path);
    spdlog::info("holding model {} ({})", *config_.model_path, model_hash_.substr(0, 12));
  }
  if (!config_.telemetry_host.empty()) {
    try {
      telemetry_ = std::make_unique<TelemetryPublisher>(config_.telemetry_host);
      spdlog::info("heartbeats every {} ms on {}", config_.heartbeat_ms, telemetry_->endpoint());
      heartbeats_ = heartbeat_loop().eagerlyEvaluate([](kj::Exception&& e) {
        spdlog::warn("heartbeats stopped: {}", e.getDescription().cStr());
      });
    } catch (const std::exception& e) {
      // Liveness then rests on the RPC connection alone; the node still serves.
      spdlog::warn("no ZeroMQ heartbeats ({})", e.what());
    }
  }
}

kj::Promise<void> NodeServer::heartbeat_loop() {
  return io_.provider->getTimer().afterDelay(config_.heartbeat_ms * kj::MILLISECONDS).then([this] {
    Telemetry t;
    t.node = config_.name;
    t.sequence = ++heartbeats_sent_;
    t.uptime_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_).count());
    t.used_mib = used_bytes_ / 1048576;
    const ProcessMemory mem = read_process_memory();
    t.rss_mib = mem.rss_bytes / 1048576;
    t.peak_rss_mib = mem.peak_bytes / 1048576;
    t.offered_mib = config_.memory_mib;
    const HealthReading health = read_health(config_.sysfs_root);
    t.temperature_c = health.temperature_c;
    t.throttled = health.throttled;
    t.battery_percent = health.battery_percent;
    t.charging = health.charging;
    if (runtime_) {
      t.sessions = static_cast<uint32_t>(runtime_->sessions());
      t.frames = runtime_->frames_batched();
      t.batches = runtime_->batches_run();
      t.compute_us = runtime_->compute_micros();
    }
    telemetry_->publish(t);
    return heartbeat_loop();
  });
}

void NodeServer::fill_info(rpc::NodeInfo::Builder info) const {
  info.setName(config_.name);
  info.setNodeId(config_.node_id);
  info.setKind(config_.kind);
  info.setMemoryMib(config_.memory_mib);
  info.setComputeGflops(config_.compute_gflops);
  info.setBandwidthGbs(config_.bandwidth_gbs);
  info.setDetected(config_.detected);
  info.setModelHash(model_hash_);
  info.setProtocolVersion(rpc::PROTOCOL_VERSION);
  info.setRangeFirst(runtime_ ? runtime_->assignment().range.first : -1);
  info.setRangeLast(runtime_ ? runtime_->assignment().range.last : -1);
  info.setUsedMib(used_bytes_ / 1048576);
  info.setSessions(runtime_ ? static_cast<uint32_t>(runtime_->sessions()) : 0);
  if (telemetry_) {
    info.setTelemetryEndpoint(telemetry_->endpoint());
    info.setHeartbeatMillis(config_.heartbeat_ms);
    info.setHeartbeatKey(kj::arrayPtr(telemetry_->key().data(), telemetry_->key().size()));
  }
}

kj::Promise<void> NodeServer::describe(DescribeContext context) {
  fill_info(context.getResults().initInfo());
  return kj::READY_NOW;
}

void NodeServer::install(const std::string& path, const StageAssignment& a, bool own_file) {
  ModelOpenOptions opt;
  opt.range = a.range;
  opt.with_embedding = a.with_embedding;
  opt.with_head = a.with_head;
  opt.with_tokenizer = false;
  opt.prefault = false;
  auto model = Model::open(path, opt);
  StageFootprint need;
  need.weight_bytes = model->weights().bytes;
  need.kv_bytes = KVCache::bytes_for(a.kv_dtype, a.range, a.context, model->hparams().kv_dim(),
                                     model->hparams().sliding_windows()) *
                  a.max_sessions;
  if (const std::string why = check_fits(need, config_.memory_mib, a); !why.empty()) throw std::runtime_error(why);
  int last_decile = -1;
  model->prefault([&](uint64_t done, uint64_t total) {
    const int decile = total ? static_cast<int>(done * 10 / total) : 10;
    if (decile != last_decile && total > (64u << 20)) {
      last_decile = decile;
      spdlog::info("loading layers [{}, {}): {}%", a.range.first, a.range.last, decile * 10);
    }
  });
  runtime_.reset();  // free the previous range before holding the new one
  ++load_generation_;
  shaping_->set_stage(stage_work(model->weights(), model->hparams(), a.kv_dtype));
  runtime_ = std::make_shared<StageRuntime>(std::move(model), a, config_.threads, &io_.provider->getTimer());
  used_bytes_ = need.total();
  spdlog::info("stage {}: layers [{}, {}){}{} from {} ({}), {:.1f} MiB weights + {:.1f} MiB KV", a.stage_index,
               a.range.first, a.range.last, a.with_embedding ? " +embedding" : "", a.with_head ? " +head" : "",
               own_file ? "own file" : "fetched shard", path, need.weight_bytes / kMiB, need.kv_bytes / kMiB);
}

kj::Promise<void> NodeServer::load(LoadContext context) {
  auto p = context.getParams();
  StageAssignment a;
  try {
    a = parse_assignment(p.getAssignment());
  } catch (const std::exception& e) {
    throw_rpc_error(e.what());
  }
  const std::string wanted = p.getAssignment().getModelHash();
  auto finish = [this, context](const std::string& path, const StageAssignment& a, bool own) mutable {
    try {
      install(path, a, own);
    } catch (const kj::Exception&) {
      throw;
    } catch (const std::exception& e) {
      spdlog::warn("refused assignment: {}", e.what());
      throw_rpc_error(e.what());
    }
    fill_info(context.getResults().initInfo());
  };
  if (!p.hasSource()) throw_rpc_error("no model source was given: this node checks every tensor it uses against it");
  ShardRequest req;
  req.model_hash = wanted;
  req.first = a.range.first;
  req.last = a.range.last;
  req.with_embedding = a.with_embedding;
  req.with_head = a.with_head;
  req.cache_dir = config_.cache_dir;
  req.cache_max_bytes = config_.cache_max_bytes;
  const uint64_t memory_mib = config_.memory_mib;
  req.check_fits = [a, memory_mib](uint64_t weight_bytes) {
    // KV size needs the model's dims, known only after the shard arrives; weights alone
    // must already fit, and install() checks weights + KV before holding anything.
    StageFootprint need{weight_bytes, 0};
    if (const std::string why = check_fits(need, memory_mib, a); !why.empty()) {
      spdlog::warn("refused assignment: {}", why);
      throw_rpc_error(why);
    }
  };
  rpc::ModelSource::Client source = p.getSource();
  auto manifest = request_manifest(source, req);
  // The node's own copy is used only when every tensor of the range and the metadata match
  // the coordinator's manifest (its name, a hash of its first and last MiB, proves little);
  // otherwise the range is fetched like on a node without the model.
  const bool own_candidate = config_.model_path && wanted == model_hash_;
  return manifest.then([this, own_candidate, source, req = std::move(req), finish, a](ShardManifest m) mutable {
    kj::Promise<std::string> own_check = own_candidate
        ? verify_own_copy(*config_.model_path, config_.cache_dir, m)
        : kj::Promise<std::string>(std::string("no own copy"));
    return own_check.then([this, own_candidate, source, req = std::move(req), m = std::move(m), finish,
                           a](std::string mismatch) mutable -> kj::Promise<void> {
      if (mismatch.empty()) {
        finish(*config_.model_path, a, true);
        return kj::READY_NOW;
      }
      if (own_candidate) {
        spdlog::warn("own model copy {} does not match the coordinator's: {}; fetching layers [{}, {}) instead",
                     *config_.model_path, mismatch, a.range.first, a.range.last);
      }
      return fetch_shard(source, std::move(req), std::move(m)).then([finish, a](std::string path) mutable {
        finish(path, a, false);
      });
    });
  });
}

kj::Promise<void> NodeServer::link(LinkContext context) {
  if (!runtime_) throw_rpc_error("link before load: this node has no layers");
  auto p = context.getParams();
  const std::string next = p.getNextAddress();
  if (next.empty()) {
    if (!p.hasSink()) throw_rpc_error("link needs a next stage address or a result sink");
    runtime_->link_sink(shaping_->wrap_outgoing(p.getSink()));
    spdlog::info("stage {} sends results to the coordinator", runtime_->assignment().stage_index);
    return kj::READY_NOW;
  }
  return dial_and_join(*io_.provider, next, config_.secret, "stage")
      .then([this, next](Joined joined) {
        auto req = joined.node.stageRequest();
        next_peer_ = kj::mv(joined.peer);
        return req.send().then([this, next](capnp::Response<rpc::Node::StageResults> r) {
          if (!runtime_) throw_rpc_error("unloaded while linking");
          runtime_->link_next(shaping_->wrap_outgoing(r.getStage()));
          spdlog::info("stage {} forwards to {}", runtime_->assignment().stage_index, next);
        });
      });
}

kj::Promise<void> NodeServer::stage(StageContext context) {
  context.getResults().setStage(stage_cap_);
  return kj::READY_NOW;
}

kj::Promise<void> NodeServer::ping(PingContext context) {
  // A simulated device answers after a round trip over its link (immediately otherwise).
  return shaping_->round_trip().then([context]() mutable {
    context.getResults().setSentNanos(context.getParams().getSentNanos());
  });
}

void NodeServer::coordinator_gone(uint64_t generation) {
  if (generation != load_generation_ || !runtime_ || runtime_->sessions() == 0) return;
  spdlog::info("the coordinator's connection closed: dropping its {} session(s)", runtime_->sessions());
  runtime_->drop_all_sessions();
}

}  // namespace baton
