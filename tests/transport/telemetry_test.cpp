// Heartbeats over ZeroMQ on loopback: what a node publishes arrives, keyed by the socket
// it came in on; malformed and oversized messages are refused with a reason.
#include "transport/telemetry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <zmq.hpp>

namespace baton {
namespace {

Telemetry sample(uint64_t seq) {
  Telemetry t;
  t.node = "phone";
  t.sequence = seq;
  t.uptime_ms = 1234;
  t.sessions = 2;
  t.used_mib = 300;
  t.rss_mib = 410;
  t.peak_rss_mib = 512;
  t.frames = 77;
  t.batches = 70;
  t.compute_us = 9000;
  return t;
}

TEST(Telemetry, RoundTripsEveryField) {
  const Telemetry t = sample(5);
  const Telemetry back = decode_telemetry(encode_telemetry(t));
  EXPECT_EQ(back.node, t.node);
  EXPECT_EQ(back.sequence, 5u);
  EXPECT_EQ(back.uptime_ms, t.uptime_ms);
  EXPECT_EQ(back.sessions, t.sessions);
  EXPECT_EQ(back.used_mib, t.used_mib);
  EXPECT_EQ(back.rss_mib, t.rss_mib);
  EXPECT_EQ(back.peak_rss_mib, t.peak_rss_mib);
  EXPECT_EQ(back.frames, t.frames);
  EXPECT_EQ(back.batches, t.batches);
  EXPECT_EQ(back.compute_us, t.compute_us);
}

TEST(Telemetry, CarriesOfferedMemoryHeatAndBattery) {
  Telemetry t = sample(6);
  EXPECT_FALSE(decode_telemetry(encode_telemetry(t)).temperature_c) << "no sensor: nothing claimed";
  EXPECT_FALSE(decode_telemetry(encode_telemetry(t)).battery_percent) << "no battery: nothing claimed";
  t.offered_mib = 5120;
  t.temperature_c = 71.5;
  t.throttled = true;
  t.battery_percent = 0;
  t.charging = true;
  const Telemetry back = decode_telemetry(encode_telemetry(t));
  EXPECT_EQ(back.offered_mib, 5120u);
  ASSERT_TRUE(back.temperature_c);
  EXPECT_DOUBLE_EQ(*back.temperature_c, 71.5);
  EXPECT_TRUE(back.throttled);
  EXPECT_EQ(back.battery_percent, 0);
  EXPECT_TRUE(back.charging);
  t.temperature_c = 1e6;
  EXPECT_THROW(decode_telemetry(encode_telemetry(t)), TelemetryError);
  t.temperature_c = std::nan("");
  EXPECT_THROW(decode_telemetry(encode_telemetry(t)), TelemetryError);
  t.temperature_c.reset();
  t.battery_percent = 101;
  EXPECT_THROW(decode_telemetry(encode_telemetry(t)), TelemetryError);
}

TEST(Telemetry, MalformedOversizedAndLongNamesAreRefusedWithAReason) {
  auto why = [](std::vector<uint8_t> bytes) {
    try {
      decode_telemetry(bytes);
    } catch (const TelemetryError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(why({}).find("8-byte words"), std::string::npos);
  EXPECT_NE(why(std::vector<uint8_t>(13, 0)).find("8-byte words"), std::string::npos);
  EXPECT_NE(why(std::vector<uint8_t>(kMaxTelemetryBytes + 8, 0)).find("larger than"), std::string::npos);
  // A segment table claiming more words than the message has.
  std::vector<uint8_t> lying = {0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_NE(why(lying).find("malformed heartbeat"), std::string::npos);
  Telemetry t = sample(1);
  t.node = std::string(kMaxTelemetryNameBytes + 1, 'x');
  EXPECT_NE(why(encode_telemetry(t)).find("names a node of"), std::string::npos);
}

TEST(Telemetry, WildcardHostsBecomeTheHostTheNodeWasReachedAt) {
  EXPECT_EQ(reachable_endpoint("tcp://0.0.0.0:5001", "192.168.1.7"), "tcp://192.168.1.7:5001");
  EXPECT_EQ(reachable_endpoint("tcp://127.0.0.1:5001", "10.0.0.2"), "tcp://127.0.0.1:5001");
  EXPECT_EQ(reachable_endpoint("tcp://[::]:5001", "fe80::1"), "tcp://[fe80::1]:5001");
}

TEST(Telemetry, HeartbeatsArriveKeyedByTheSocketTheyCameInOn) {
  TelemetryPublisher a("127.0.0.1"), b("127.0.0.1");
  ASSERT_EQ(a.endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << a.endpoint();
  TelemetrySubscriber sub;
  sub.follow({{"node-a", {a.endpoint(), a.key()}}, {"node-b", {b.endpoint(), b.key()}}});
  // PUB/SUB joins asynchronously: publish until heard (bounded).
  std::map<std::string, TelemetrySubscriber::Sample> heard;
  for (uint64_t i = 1; i <= 200 && heard.size() < 2; ++i) {
    a.publish(sample(i));
    Telemetry tb = sample(i);
    tb.node = "claims-to-be-a";  // the key comes from the socket, not this claim
    b.publish(tb);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    heard = sub.latest();
  }
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard.at("node-a").telemetry.node, "phone");
  EXPECT_EQ(heard.at("node-b").telemetry.node, "claims-to-be-a");
  EXPECT_EQ(heard.at("node-a").telemetry.rss_mib, 410u);
}

TEST(Telemetry, GarbageOnTheWireIsCountedAndDoesNotStopTheSubscriber) {
  zmq::context_t ctx;
  zmq::socket_t rogue(ctx, zmq::socket_type::pub);
  rogue.set(zmq::sockopt::linger, 0);
  rogue.bind("tcp://127.0.0.1:*");
  TelemetryPublisher good("127.0.0.1");
  TelemetrySubscriber sub;
  sub.follow({{"rogue", {rogue.get(zmq::sockopt::last_endpoint), random_bytes(kAeadKeyBytes)}},
              {"good", {good.endpoint(), good.key()}}});
  const std::string junk = "not a heartbeat";
  for (int i = 1; i < 200 && (sub.rejected() == 0 || sub.latest().count("good") == 0); ++i) {
    rogue.send(zmq::buffer(junk), zmq::send_flags::dontwait);
    good.publish(sample(static_cast<uint64_t>(i)));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(sub.rejected(), 0u);
  EXPECT_EQ(sub.latest().count("rogue"), 0u);
  EXPECT_EQ(sub.latest().count("good"), 1u);
}

// A neighbour on the LAN knows the endpoint but not the key: a well-formed heartbeat it
// publishes in the clear, or seals under a key of its own, is refused; so is a replay of
// a genuine sealed heartbeat captured earlier.
TEST(Telemetry, ForgedAndReplayedHeartbeatsAreRefused) {
  zmq::context_t ctx;
  zmq::socket_t forger(ctx, zmq::socket_type::pub);
  forger.set(zmq::sockopt::linger, 0);
  forger.bind("tcp://127.0.0.1:*");
  const std::vector<uint8_t> node_key = random_bytes(kAeadKeyBytes);
  TelemetrySubscriber sub;
  sub.follow({{"node", {forger.get(zmq::sockopt::last_endpoint), node_key}}});
  Aead wrong(random_bytes(kAeadKeyBytes));
  for (int i = 1; i <= 100 && sub.rejected() < 20; ++i) {
    const auto plain = encode_telemetry(sample(static_cast<uint64_t>(i)));
    forger.send(zmq::buffer(plain), zmq::send_flags::dontwait);
    const auto sealed_wrong = seal_message(wrong, plain);
    forger.send(zmq::buffer(sealed_wrong), zmq::send_flags::dontwait);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(sub.rejected(), 20u);
  EXPECT_EQ(sub.latest().count("node"), 0u) << "no forged heartbeat counts as the node's liveness";

  // The genuine key works; replaying what was captured does not refresh liveness.
  Aead right(node_key);
  const auto genuine = seal_message(right, encode_telemetry(sample(7)));
  for (int i = 0; i < 100 && sub.latest().count("node") == 0; ++i) {
    forger.send(zmq::buffer(genuine), zmq::send_flags::dontwait);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(sub.latest().count("node"), 1u);
  const auto first_heard = sub.latest().at("node").received;
  const uint64_t rejected_before = sub.rejected();
  for (int i = 0; i < 10; ++i) {
    forger.send(zmq::buffer(genuine), zmq::send_flags::dontwait);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(sub.latest().at("node").received, first_heard) << "a replayed heartbeat refreshed liveness";
  EXPECT_GT(sub.rejected(), rejected_before);
}

}  // namespace
}  // namespace baton
