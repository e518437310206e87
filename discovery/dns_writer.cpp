// DNS message serialisation with name compression (RFC 1035 §4.1.4).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "discovery/dns_message.h"

namespace baton::discovery {
namespace {

constexpr std::size_t kMaxPointerTarget = 0x3FFF;

class Writer {
 public:
  explicit Writer(bool compression = true) : compression_(compression) {}

  std::vector<std::uint8_t> take() { return std::move(out_); }

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void bytes(const void* data, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(data);
    out_.insert(out_.end(), b, b + n);
  }

  // Writes `name`, replacing the longest already-written suffix by a pointer when `compress`.
  // Every suffix written in full is remembered as a target for later names either way.
  void name(const DnsName& n, bool compress) {
    compress = compress && compression_;
    if (!n.valid()) throw std::invalid_argument("invalid DNS name: " + n.to_string());
    for (std::size_t i = 0; i < n.labels.size(); ++i) {
      DnsName suffix(std::vector<std::string>(n.labels.begin() + static_cast<std::ptrdiff_t>(i),
                                              n.labels.end()));
      std::string key = suffix.key();
      if (compress) {
        auto it = offsets_.find(key);
        if (it != offsets_.end()) {
          u16(static_cast<std::uint16_t>(0xC000 | it->second));
          return;
        }
      }
      if (out_.size() <= kMaxPointerTarget && !offsets_.count(key))
        offsets_.emplace(std::move(key), static_cast<std::uint16_t>(out_.size()));
      u8(static_cast<std::uint8_t>(n.labels[i].size()));
      bytes(n.labels[i].data(), n.labels[i].size());
    }
    u8(0);
  }

  void question(const Question& q) {
    name(q.name, true);
    u16(q.type);
    u16(static_cast<std::uint16_t>(q.qclass | (q.unicast_response ? kClassTopBit : 0)));
  }

  void rdata_only(const ResourceRecord& r) {
    std::visit([&](const auto& d) { rdata(d); }, r.data);
  }

  void record(const ResourceRecord& r) {
    name(r.name, true);
    u16(r.type);
    u16(static_cast<std::uint16_t>(r.rclass | (r.cache_flush ? kClassTopBit : 0)));
    u32(r.ttl);
    const std::size_t length_at = out_.size();
    u16(0);  // rdlength, patched below
    const std::size_t start = out_.size();
    std::visit([&](const auto& d) { rdata(d); }, r.data);
    const std::size_t length = out_.size() - start;
    if (length > 0xFFFF) throw std::invalid_argument("rdata over 65535 bytes");
    out_[length_at] = static_cast<std::uint8_t>(length >> 8);
    out_[length_at + 1] = static_cast<std::uint8_t>(length);
  }

 private:
  void rdata(const OpaqueRecordData& d) { bytes(d.bytes.data(), d.bytes.size()); }
  void rdata(const ARecordData& d) { bytes(d.address.data(), 4); }
  void rdata(const AaaaRecordData& d) { bytes(d.address.data(), 16); }
  void rdata(const PtrRecordData& d) { name(d.target, true); }
  void rdata(const SrvRecordData& d) {
    u16(d.priority);
    u16(d.weight);
    u16(d.port);
    name(d.target, false);
  }
  void rdata(const TxtRecordData& d) {
    std::size_t total = 0;
    for (const auto& s : d.strings) {
      if (s.size() > kMaxTxtStringSize) throw std::invalid_argument("TXT string over 255 bytes");
      u8(static_cast<std::uint8_t>(s.size()));
      bytes(s.data(), s.size());
      total += 1 + s.size();
    }
    // RFC 6763 §6.1: an empty TXT record is a single zero-length string, never empty rdata.
    if (d.strings.empty()) u8(0);
    if (total > kMaxTxtRdataSize) throw std::invalid_argument("TXT record over 8900 bytes");
  }
  void rdata(const NsecRecordData& d) {
    name(d.next_name, false);
    std::vector<std::uint16_t> types = d.types;
    std::sort(types.begin(), types.end());
    types.erase(std::unique(types.begin(), types.end()), types.end());
    std::size_t i = 0;
    while (i < types.size()) {
      const int window = types[i] >> 8;
      std::uint8_t bitmap[32] = {};
      std::size_t used = 0;
      for (; i < types.size() && (types[i] >> 8) == window; ++i) {
        const int low = types[i] & 0xFF;
        bitmap[low / 8] |= static_cast<std::uint8_t>(0x80 >> (low % 8));
        used = static_cast<std::size_t>(low / 8 + 1);
      }
      u8(static_cast<std::uint8_t>(window));
      u8(static_cast<std::uint8_t>(used));
      bytes(bitmap, used);
    }
  }

  bool compression_ = true;
  std::vector<std::uint8_t> out_;
  std::unordered_map<std::string, std::uint16_t> offsets_;
};

}  // namespace

std::vector<std::uint8_t> canonical_rdata(const ResourceRecord& record) {
  Writer w(false);
  w.rdata_only(record);
  return w.take();
}

std::vector<std::uint8_t> write_dns_message(const DnsMessage& m) {
  auto count = [](std::size_t n) {
    if (n > 0xFFFF) throw std::invalid_argument("too many records for one DNS message");
    return static_cast<std::uint16_t>(n);
  };
  Writer w;
  w.u16(m.id);
  w.u16(m.flags);
  w.u16(count(m.questions.size()));
  w.u16(count(m.answers.size()));
  w.u16(count(m.authorities.size()));
  w.u16(count(m.additionals.size()));
  for (const auto& q : m.questions) w.question(q);
  for (const auto& r : m.answers) w.record(r);
  for (const auto& r : m.authorities) w.record(r);
  for (const auto& r : m.additionals) w.record(r);
  return w.take();
}

}  // namespace baton::discovery
