# baton wire protocol: one schema for every RPC between coordinators and nodes.
# Version: bump `protocolVersion` on any incompatible change. Since version 2 every
# connection starts with a SPAKE2 handshake on the cluster secret that carries the
# version (transport/secure_channel.h) and all of this runs inside its encrypted channel.
@0xadebd449665f4bd8;

$import "/capnp/c++.capnp".namespace("baton::rpc");
using Cxx = import "/capnp/c++.capnp";

const protocolVersion :UInt32 = 2;

# ---------------------------------------------------------------- joining

# The only interface served on a fresh connection, once the handshake has proved the
# secret both ways and encrypted the channel. (clientNonce, nonce, mac and proof are
# protocol 1's HMAC exchange; unused since then.)
interface Gate {
  hello @0 (protocolVersion :UInt32, clientNonce :Data) -> (protocolVersion :UInt32, nonce :Data, nodeName :Text);
  # A node process answers with `node`; a coordinator process with `coordinator`.
  join @1 (mac :Data, role :Text) -> (node :Node, coordinator :Coordinator, proof :Data);
}

# ---------------------------------------------------------------- nodes

struct NodeInfo {
  name @0 :Text;
  nodeId @1 :Text;
  kind @2 :Text;                # phone, tablet, pc, ...
  memoryMib @3 :UInt64;         # accelerator memory usable for weights + KV
  computeGflops @4 :Float64;
  bandwidthGbs @5 :Float64;
  modelHash @6 :Text;           # hash of the GGUF the node holds ("" if none)
  protocolVersion @7 :UInt32;
  rangeFirst @8 :Int32;         # loaded layer range, [first, last); -1 if none
  rangeLast @9 :Int32;
  usedMib @10 :UInt64;          # weights + KV reserved now
  sessions @11 :UInt32;         # KV caches (sessions) the stage holds now
  telemetryEndpoint @12 :Text;  # ZeroMQ PUB endpoint of its heartbeats ("" if none);
                                # host 0.0.0.0 means "the host you reached me at"
  heartbeatMillis @13 :UInt32;  # how often it publishes one
  servingCoordinator @14 :Text; # the other coordinator this node serves, if not the caller
                                # ("" when free): a node serves one coordinator at a time
  detected @15 :Text;           # which figures the node measured ("mem,gflops,bw,kind" or a
                                # subset); the others were configured by its owner
  heartbeatKey @16 :Data;       # AES-256-GCM key its heartbeats are sealed with (random per
                                # process; only ever sent inside the encrypted channel)
}

# One heartbeat, published by every node on its ZeroMQ PUB socket (one frame, this
# struct as a flat Cap'n Proto message). Its arrival is the node's liveness; its content
# the node's telemetry.
struct Telemetry {
  nodeName @0 :Text;
  sequence @1 :UInt64;          # increases by one per heartbeat
  uptimeMillis @2 :UInt64;
  sessions @3 :UInt32;          # KV caches held
  usedMib @4 :UInt64;           # weights + KV reserved (the node's own accounting)
  rssMib @5 :UInt64;            # resident memory now
  peakRssMib @6 :UInt64;
  framesComputed @7 :UInt64;    # since the current layers were loaded
  batchesRun @8 :UInt64;
  computeMicros @9 :UInt64;     # time spent computing since then
  offeredMib @10 :UInt64;       # memory the node offers the planner (0: no limit)
  temperatureCelsius @11 :Float32;  # hottest thermal zone, when hasTemperature
  hasTemperature @12 :Bool;
  throttled @13 :Bool;          # the kernel is slowing the CPU down (cooling device, trip point)
  batteryPercent @14 :Int8 = -1;  # -1: no battery
  charging @15 :Bool;           # on external power (charging, full, mains/USB online)
}

struct Assignment {
  modelHash @0 :Text;           # the coordinator's model; the node loads its own copy if it matches
  first @1 :Int32;
  last @2 :Int32;
  withEmbedding @3 :Bool;
  withHead @4 :Bool;
  contextLength @5 :UInt32;     # per session
  maxSessions @6 :UInt32;       # KV caches the node must reserve room for
  kvDtype @7 :Text;             # "f16" | "q8_0"
  maxFrameRows @8 :UInt32;      # prefill chunk cap the node enforces
  stageIndex @9 :UInt32;        # position in the pipeline, for timings and errors
  # Quantisation points survive failover: a re-plan replays sessions with activations
  # quantised at the same layer boundaries as the plan they started on, so greedy text
  # does not change. Layers inside [first, last) after which the hidden state goes
  # through the frame's wire codec and back, as it did when it crossed a hop there:
  quantizeAfter @10 :List(Int32);
  # The output hop was no hop before: send it exact (f32) whatever the frame's wire.
  exactOutput @11 :Bool;
}

interface Node {
  describe @0 () -> (info :NodeInfo);
  # Loads the assigned range from the node's own GGUF, or fetches exactly the tensors it
  # needs from `source` (chunked, hashed, cached on disk). Refuses a range that does not
  # fit the node's memory with a reason.
  load @1 (assignment :Assignment, source :ModelSource) -> (info :NodeInfo);
  # Wires the pipeline: the node dials `nextAddress` (the next stage) itself, so frames
  # go stage to stage without passing through the coordinator. The last stage gets no
  # address and sends its results to `sink` instead.
  link @2 (nextAddress :Text, sink :ResultSink) -> ();
  stage @3 () -> (stage :Stage);
  ping @4 (sentNanos :UInt64) -> (sentNanos :UInt64);
}

# ---------------------------------------------------------------- the token path

struct Activation {
  rows @0 :UInt32;
  cols @1 :UInt32;
  codec @2 :UInt32;             # 0 f32, 1 f16, 2 int8 (block of 32, f16 scale)
  zstd @3 :Bool;
  checksum @4 :UInt32;          # CRC32C of payload when zstd (which has its own) is off
  payload @5 :Data;
}

struct Frame {
  session @0 :UInt64;
  step @1 :UInt64;              # coordinator's sequence number within the session
  pos0 @2 :UInt64;              # position of the first row; the stage drops cached
                                # positions >= pos0 first (prefix reuse, rollback)
  union {
    tokens @3 :List(Int32);     # to the first stage: token ids
    hidden @4 :Activation;      # between stages
  }
  wire @5 :UInt32;              # codec the sender wants for the next hop (0..2)
  wireZstd @6 :Bool;
  topK @7 :UInt32;              # last stage: 0 = full logits, else only the k best
  timings @8 :List(StageTiming);  # appended by each stage on the way
  batchGroup @9 :UInt32;        # stages batch only frames of one group together: the
                                # coordinator spreads sessions over as many groups as
                                # there are stages, so groups pipeline instead of
                                # travelling the ring in lockstep
  sampling @10 :Sampling;       # when set, the last stage samples the next token here
                                # and returns it (Logits.sampled) instead of logits
  rowTokens @11 :List(Int32);   # between stages: the token id of every row, so the last
                                # stage knows the sequence its penalties look at
  verifyRows @12 :UInt32;       # speculative decoding (with `sampling`): the last rows are
                                # the last sampled token then drafts; the last stage samples
                                # after each of these rows in order while the token equals
                                # the next row's (an accepted draft) and returns them all
                                # (Logits.sampled: accepted drafts, then one more). 0 or 1:
                                # sample after the last row only
  embed @13 :Bool;              # embeddings: the last stage returns the sum over every row
                                # of the final norm of the hidden state (Logits.embeddingSum)
                                # and no logits; the coordinator pools the frames' sums
}

# The request's sampling parameters, travelling with every frame so that the last stage
# samples where the logits are. The generator (mt19937_64 seeded with `seed`) continues
# after `rngDraws` numbers, so the output equals a single process's with the same seed.
struct Sampling {
  temperature @0 :Float32;      # <= 0: greedy
  topK @1 :Int32;
  topP @2 :Float32;
  minP @3 :Float32;
  repeatPenalty @4 :Float32;
  repeatLastN @5 :Int32;        # the penalties' window over the sequence (-1: all)
  presencePenalty @6 :Float32;
  frequencyPenalty @7 :Float32;
  seed @8 :UInt64;
  rngDraws @9 :UInt64;
  logitBias @10 :List(LogitBias);
  logprobs @11 :Bool;           # return the chosen token's log-probability
  topLogprobs @12 :UInt32;      # and this many most likely alternatives (<= 20)
  draftQ @13 :List(DraftDistribution);  # a verification of drafts sampled from a draft
                                # model: each draft's distribution q, for the speculative
                                # sampling rule (empty: drafts are point masses)
}

struct DraftDistribution {
  ids @0 :List(Int32);          # at most 64 tokens
  probs @1 :List(Float32);      # their probabilities, summing to 1
}

struct LogitBias {
  id @0 :Int32;
  bias @1 :Float32;
}

struct SampledToken {
  id @0 :Int32;
  logprob @1 :Float32;          # NaN unless asked
  topIds @2 :List(Int32);       # empty unless asked
  topLogprobs @3 :List(Float32);
}

struct StageTiming {
  stage @0 :UInt32;
  computeMicros @1 :UInt64;
  decodeMicros @2 :UInt64;      # frame decode + decompress
  rawBytes @3 :UInt64;          # bytes of the outgoing activation before encoding (f32)
  wireBytes @4 :UInt64;         # bytes actually sent
  # Steady-clock stamps (ns) when the frame reached the stage and when the stage sent its
  # output on. Comparable only between processes on one machine (a simulated cluster),
  # where they time each hop; elsewhere only their difference means anything.
  receivedNanos @5 :UInt64;
  sentNanos @6 :UInt64;
}

interface Stage {
  # Runs the stage's layers for the frame and passes the result on (next stage or sink).
  # A malformed frame is refused with an exception naming the problem; the node keeps
  # serving other sessions.
  forward @0 (frame :Frame) -> ();
  dropSession @1 (session :UInt64) -> ();
}

struct Logits {
  session @0 :UInt64;
  step @1 :UInt64;
  union {
    full @2 :List(Float32);
    top :group {
      ids @3 :List(Int32);
      values @4 :List(Float32);
    }
  }
  timings @5 :List(StageTiming);
  sampled @6 :List(SampledToken);  # the frame asked to sample: the chosen token
  rngDraws @7 :UInt64;             # the generator's numbers drawn after choosing it
  embeddingSum @8 :List(Float32);  # the frame asked to embed: dim floats
}

interface ResultSink {
  deliver @0 (logits :Logits) -> ();
  failed @1 (session :UInt64, step :UInt64, stage :UInt32, message :Text) -> ();
}

# ---------------------------------------------------------------- model shards

struct TensorEntry {
  name @0 :Text;
  dims @1 :List(UInt64);
  dtype @2 :UInt32;             # ggml type id
  size @3 :UInt64;
  sha256 @4 :Data;
}

struct ModelManifest {
  modelHash @0 :Text;
  metadata @1 :Data;            # a GGUF image with the metadata and no tensors
  tensors @2 :List(TensorEntry);
}

interface ModelSource {
  manifest @0 (first :Int32, last :Int32, withEmbedding :Bool, withHead :Bool) -> (manifest :ModelManifest);
  read @1 (name :Text, offset :UInt64, length :UInt32) -> (data :Data);
}

# ---------------------------------------------------------------- clients

struct GenerateParams {
  maxTokens @0 :Int32;
  temperature @1 :Float32;
  topK @2 :Int32;
  topP @3 :Float32;
  minP @4 :Float32;
  repeatPenalty @5 :Float32;
  seed @6 :UInt64;
  stop @7 :List(Text);
  chat @8 :Bool;                # apply the model's chat template to `prompt`
  promptIds @9 :List(Int32);    # when non-empty: the prompt as token ids (text ignored)
}

struct GenerateSummary {
  promptTokens @0 :Int32;
  completionTokens @1 :Int32;
  finishReason @2 :Text;
  text @3 :Text;
  completionIds @4 :List(Int32);
}

interface TokenStream {
  token @0 (text :Text, id :Int32) -> stream;
  done @1 (summary :GenerateSummary) -> ();
}

interface Coordinator {
  generate @0 (prompt :Text, params :GenerateParams, stream :TokenStream) -> (summary :GenerateSummary);
}
