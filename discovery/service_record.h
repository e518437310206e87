#pragma once
// The baton DNS-SD service description and its mapping to DNS records (RFC 6763).
//
//   _baton._tcp.local                 PTR  <node name>._baton._tcp.local   (shared)
//   <node name>._baton._tcp.local     SRV  0 0 <rpc port> <host label>.local
//   <node name>._baton._tcp.local     TXT  txtvers=1 proto=.. id=.. kind=.. mem=.. gflops=..
//                                          bw=.. [model=..] role=node|coordinator
//                                          [detected=mem,gflops,bw,kind] [temp=..]
//                                          [battery=..] [charging=1] [throttled=1]
//   <host label>.local                A    <interface address>
//
// The node name is one DNS label (spaces, dots and UTF-8 allowed, at most 63 bytes); the
// host label is the node name reduced to letters, digits and '-' because host names are.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/dns_message.h"

namespace baton::discovery {

inline constexpr std::uint32_t kTxtFormatVersion = 1;   // "txtvers": layout of these keys
inline constexpr std::uint32_t kBatonProtocolVersion = 1;  // "proto": the RPC protocol spoken
// RFC 6762 §10: 120 s for records naming a host (SRV, A), 75 minutes for the others.
inline constexpr std::uint32_t kDefaultHostRecordTtl = 120;
inline constexpr std::uint32_t kDefaultOtherRecordTtl = 4500;
// RFC 6763 §6.2 asks TXT records to stay under 1300 bytes to fit one packet with the rest.
inline constexpr std::size_t kMaxBatonTxtSize = 1300;

enum class NodeRole { node, coordinator };
const char* to_string(NodeRole role);
std::optional<NodeRole> parse_node_role(std::string_view text);

// What a node tells the network about itself (the TXT keys).
struct NodeAttributes {
  std::uint32_t protocol_version = kBatonProtocolVersion;  // proto
  std::string node_id;          // id: 1..64 of [A-Za-z0-9._:-]
  std::string kind = "unknown"; // kind: phone, tablet, pc ... (1..32 printable, no '=')
  std::uint64_t memory_mib = 0; // mem: accelerator (or usable) memory in MiB
  double compute_gflops = 0;    // gflops: compute score
  double bandwidth_gbps = 0;    // bw: memory bandwidth in GB/s
  std::string model_hash;       // model: hash of the model held, empty if none (<= 128)
  NodeRole role = NodeRole::node;
  std::string detected;         // detected: which of mem,gflops,bw,kind the node measured
                                // (the others were configured); absent from older nodes
  std::optional<int> temperature_c;   // temp: hottest thermal zone, whole °C (absent: no sensor)
  std::optional<int> battery_percent; // battery: 0..100 (absent: no battery)
  bool charging = false;              // charging=1: on external power
  bool throttled = false;             // throttled=1: the kernel slows the CPU down

  bool operator==(const NodeAttributes&) const = default;
};

// A complete advert: name, RPC port and attributes.
struct ServiceAdvert {
  std::string node_name;  // the instance label
  std::uint16_t port = 0; // RPC port
  NodeAttributes attributes;
};

// Empty string when valid, else a sentence naming the problem.
std::string validate_node_name(const std::string& node_name);
std::string validate_attributes(const NodeAttributes& attributes);
std::string validate_advert(const ServiceAdvert& advert);

DnsName baton_service_name();            // _baton._tcp.local
DnsName service_enumeration_name();      // _services._dns-sd._udp.local (RFC 6763 §9)
DnsName instance_name(const std::string& node_name);
std::string host_label_for(const std::string& node_name);
DnsName host_name_for(const std::string& node_name);
// The node name of an instance of our service, or nullopt if `name` is not one.
std::optional<std::string> node_name_of_instance(const DnsName& name);

TxtRecordData encode_txt(const NodeAttributes& attributes);

// Parsed TXT or the reason it was refused (a bad number, a missing key ...).
struct TxtDecodeResult {
  std::optional<NodeAttributes> attributes;
  std::string error;
};
// RFC 6763 §6.4: keys compare case-insensitively, only the first occurrence of a key
// counts, unknown keys are ignored. txtvers, proto, id and role are required.
TxtDecodeResult decode_txt(const TxtRecordData& txt);

struct RecordTtls {
  std::uint32_t host_records = kDefaultHostRecordTtl;   // SRV, A, NSEC
  std::uint32_t other_records = kDefaultOtherRecordTtl; // PTR, TXT
  // Test mode: both TTLs set to `seconds`.
  static RecordTtls uniform(std::uint32_t seconds) { return {seconds, seconds}; }
};

struct ServiceRecords {
  ResourceRecord ptr;   // shared
  ResourceRecord srv;   // unique (cache-flush)
  ResourceRecord txt;   // unique
  ResourceRecord a;     // unique
  ResourceRecord host_nsec;      // "<host>.local has only A" (RFC 6762 §6.1)
  ResourceRecord instance_nsec;  // "<instance> has only SRV and TXT"
  ResourceRecord enumeration_ptr;  // _services._dns-sd._udp.local PTR _baton._tcp.local

  std::vector<ResourceRecord> all() const;
  std::vector<ResourceRecord> unique_records() const { return {srv, txt, a}; }
};

ServiceRecords build_service_records(const ServiceAdvert& advert, std::array<std::uint8_t, 4> ipv4,
                                     RecordTtls ttls);

// "my node" -> "my node (2)" and so on, for name conflicts (RFC 6762 §9).
std::string next_conflict_name(const std::string& original_name, int attempt);

}  // namespace baton::discovery
