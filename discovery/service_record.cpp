#include "discovery/service_record.h"

#include <charconv>
#include <cmath>
#include <map>

namespace baton::discovery {
namespace {

constexpr std::size_t kMaxNodeIdLength = 64;
constexpr std::size_t kMaxKindLength = 32;
constexpr std::size_t kMaxModelHashLength = 128;
constexpr std::uint64_t kMaxMemoryMib = std::uint64_t{1} << 40;  // a million TiB: a sanity cap
constexpr double kMaxScore = 1e9;

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}
bool printable_without_equals(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == '=') return false;
  return true;
}

std::string format_number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that round-trips
  return ec == std::errc{} ? std::string(buf, end) : std::string("0");
}

template <typename T>
bool parse_whole(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

bool parse_score(std::string_view text, double& out) {
  if (text.empty() || text[0] == '-' || text[0] == '+') return false;
  if (!parse_whole(text, out)) return false;
  return std::isfinite(out) && out >= 0 && out <= kMaxScore;
}

ResourceRecord make_record(DnsName name, std::uint16_t type, bool unique, std::uint32_t ttl,
                           RecordData data) {
  ResourceRecord r;
  r.name = std::move(name);
  r.type = type;
  r.rclass = kClassIn;
  r.cache_flush = unique;
  r.ttl = ttl;
  r.data = std::move(data);
  return r;
}

}  // namespace

const char* to_string(NodeRole role) { return role == NodeRole::coordinator ? "coordinator" : "node"; }

std::optional<NodeRole> parse_node_role(std::string_view text) {
  if (text == "node") return NodeRole::node;
  if (text == "coordinator") return NodeRole::coordinator;
  return std::nullopt;
}

std::string validate_node_name(const std::string& name) {
  if (name.empty()) return "node name is empty";
  if (name.size() > kMaxLabelLength)
    return "node name '" + name + "' is " + std::to_string(name.size()) +
           " bytes; a DNS label holds at most 63";
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return "node name contains a control character";
  return {};
}

std::string validate_attributes(const NodeAttributes& a) {
  if (a.node_id.empty() || a.node_id.size() > kMaxNodeIdLength)
    return "node id must be 1..64 characters";
  for (char c : a.node_id)
    if (!is_id_char(c)) return "node id '" + a.node_id + "' may only hold letters, digits and -_.:";
  if (a.kind.empty() || a.kind.size() > kMaxKindLength || !printable_without_equals(a.kind))
    return "device kind must be 1..32 printable characters without '='";
  if (a.memory_mib > kMaxMemoryMib) return "memory in MiB is implausibly large";
  if (!std::isfinite(a.compute_gflops) || a.compute_gflops < 0 || a.compute_gflops > kMaxScore)
    return "compute score must be a finite number in 0..1e9";
  if (!std::isfinite(a.bandwidth_gbps) || a.bandwidth_gbps < 0 || a.bandwidth_gbps > kMaxScore)
    return "memory bandwidth must be a finite number in 0..1e9";
  if (a.model_hash.size() > kMaxModelHashLength || !printable_without_equals(a.model_hash))
    return "model hash must be at most 128 printable characters";
  if (a.detected.size() > 32 || a.detected.find_first_not_of("abcdefghijklmnopqrstuvwxyz,") != std::string::npos)
    return "detected must list figures (mem,gflops,bw,kind) in at most 32 characters";
  return {};
}

std::string validate_advert(const ServiceAdvert& advert) {
  if (auto e = validate_node_name(advert.node_name); !e.empty()) return e;
  if (advert.port == 0) return "RPC port must not be 0";
  return validate_attributes(advert.attributes);
}

DnsName baton_service_name() { return DnsName({"_baton", "_tcp", "local"}); }
DnsName service_enumeration_name() { return DnsName({"_services", "_dns-sd", "_udp", "local"}); }
DnsName instance_name(const std::string& node_name) { return baton_service_name().prepend(node_name); }

std::string host_label_for(const std::string& node_name) {
  std::string out;
  for (char c : node_name) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (keep) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > kMaxLabelLength) out.resize(kMaxLabelLength);
  if (out.empty()) out = "baton-node";
  return out;
}

DnsName host_name_for(const std::string& node_name) { return DnsName({host_label_for(node_name), "local"}); }

std::optional<std::string> node_name_of_instance(const DnsName& name) {
  const DnsName service = baton_service_name();
  if (name.labels.size() != service.labels.size() + 1 || !name.ends_with(service)) return std::nullopt;
  return name.labels.front();
}

TxtRecordData encode_txt(const NodeAttributes& a) {
  // txtvers first, as RFC 6763 §6.7 recommends.
  TxtRecordData txt;
  txt.strings.push_back("txtvers=" + std::to_string(kTxtFormatVersion));
  txt.strings.push_back("proto=" + std::to_string(a.protocol_version));
  txt.strings.push_back("id=" + a.node_id);
  txt.strings.push_back("kind=" + a.kind);
  txt.strings.push_back("mem=" + std::to_string(a.memory_mib));
  txt.strings.push_back("gflops=" + format_number(a.compute_gflops));
  txt.strings.push_back("bw=" + format_number(a.bandwidth_gbps));
  if (!a.model_hash.empty()) txt.strings.push_back("model=" + a.model_hash);
  txt.strings.push_back(std::string("role=") + to_string(a.role));
  if (!a.detected.empty()) txt.strings.push_back("detected=" + a.detected);
  if (a.temperature_c) txt.strings.push_back("temp=" + std::to_string(*a.temperature_c));
  if (a.battery_percent) txt.strings.push_back("battery=" + std::to_string(*a.battery_percent));
  if (a.charging) txt.strings.push_back("charging=1");
  if (a.throttled) txt.strings.push_back("throttled=1");
  return txt;
}

TxtDecodeResult decode_txt(const TxtRecordData& txt) {
  std::size_t total = 0;
  for (const auto& s : txt.strings) total += 1 + s.size();
  if (total > kMaxTxtRdataSize) return {std::nullopt, "TXT record over 8900 bytes"};

  std::map<std::string, std::string> values;  // lower-case key -> value, first one wins
  for (const auto& s : txt.strings) {
    if (s.empty() || s[0] == '=') continue;  // RFC 6763 §6.4: no key, ignore
    auto eq = s.find('=');
    std::string key = s.substr(0, eq);
    for (char& c : key)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    std::string value = eq == std::string::npos ? std::string() : s.substr(eq + 1);
    values.emplace(std::move(key), std::move(value));
  }
  auto get = [&](const char* key) -> const std::string* {
    auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
  };

  NodeAttributes a;
  const std::string* v = get("txtvers");
  std::uint32_t txtvers = 0;
  if (!v || !parse_whole(*v, txtvers)) return {std::nullopt, "missing or bad txtvers"};
  if (txtvers != kTxtFormatVersion) return {std::nullopt, "unsupported txtvers " + *v};
  if (!(v = get("proto")) || !parse_whole(*v, a.protocol_version))
    return {std::nullopt, "missing or bad proto"};
  if (!(v = get("id"))) return {std::nullopt, "missing id"};
  a.node_id = *v;
  if (!(v = get("role"))) return {std::nullopt, "missing role"};
  auto role = parse_node_role(*v);
  if (!role) return {std::nullopt, "unknown role '" + *v + "'"};
  a.role = *role;
  if ((v = get("kind"))) a.kind = *v;
  if ((v = get("mem")) && !parse_whole(*v, a.memory_mib)) return {std::nullopt, "bad mem '" + *v + "'"};
  if ((v = get("gflops")) && !parse_score(*v, a.compute_gflops))
    return {std::nullopt, "bad gflops '" + *v + "'"};
  if ((v = get("bw")) && !parse_score(*v, a.bandwidth_gbps)) return {std::nullopt, "bad bw '" + *v + "'"};
  if ((v = get("model"))) a.model_hash = *v;
  if ((v = get("detected"))) a.detected = *v;
  int number = 0;
  if ((v = get("temp"))) {
    if (!parse_whole(*v, number) || number < -100 || number > 300) return {std::nullopt, "bad temp '" + *v + "'"};
    a.temperature_c = number;
  }
  if ((v = get("battery"))) {
    if (!parse_whole(*v, number) || number < 0 || number > 100) return {std::nullopt, "bad battery '" + *v + "'"};
    a.battery_percent = number;
  }
  a.charging = (v = get("charging")) && *v == "1";
  a.throttled = (v = get("throttled")) && *v == "1";
  if (auto e = validate_attributes(a); !e.empty()) return {std::nullopt, e};
  return {a, {}};
}

std::vector<ResourceRecord> ServiceRecords::all() const {
  return {ptr, srv, txt, a, host_nsec, instance_nsec, enumeration_ptr};
}

ServiceRecords build_service_records(const ServiceAdvert& advert, std::array<std::uint8_t, 4> ipv4,
                                     RecordTtls ttls) {
  const DnsName instance = instance_name(advert.node_name);
  const DnsName host = host_name_for(advert.node_name);
  ServiceRecords r;
  r.ptr = make_record(baton_service_name(), dns_type::PTR, false, ttls.other_records,
                      PtrRecordData{instance});
  r.srv = make_record(instance, dns_type::SRV, true, ttls.host_records,
                      SrvRecordData{0, 0, advert.port, host});
  r.txt = make_record(instance, dns_type::TXT, true, ttls.other_records, encode_txt(advert.attributes));
  r.a = make_record(host, dns_type::A, true, ttls.host_records, ARecordData{ipv4});
  r.host_nsec = make_record(host, dns_type::NSEC, true, ttls.host_records,
                            NsecRecordData{host, {dns_type::A}});
  r.instance_nsec = make_record(instance, dns_type::NSEC, true, ttls.other_records,
                                NsecRecordData{instance, {dns_type::TXT, dns_type::SRV}});
  r.enumeration_ptr = make_record(service_enumeration_name(), dns_type::PTR, false,
                                  ttls.other_records, PtrRecordData{baton_service_name()});
  return r;
}

std::string next_conflict_name(const std::string& original, int attempt) {
  std::string suffix = " (" + std::to_string(attempt) + ")";
  std::string base = original;
  if (base.size() + suffix.size() > kMaxLabelLength) {
    base.resize(kMaxLabelLength - suffix.size());
    // Do not cut a UTF-8 sequence in half: if the last sequence lost bytes, drop it whole.
    std::size_t start = base.size();
    while (start > 0 && (static_cast<unsigned char>(base[start - 1]) & 0xC0) == 0x80) --start;
    if (start > 0) {
      const unsigned char lead = static_cast<unsigned char>(base[start - 1]);
      const std::size_t expected = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      if (base.size() - (start - 1) < expected) base.resize(start - 1);
    }
  }
  return base + suffix;
}

}  // namespace baton::discovery
