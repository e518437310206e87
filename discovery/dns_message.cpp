#include "discovery/dns_message.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace baton::discovery {
namespace {

// Minimum wire sizes, used to reject header counts the packet cannot possibly hold before
// any allocation happens: a question is at least root(1)+type(2)+class(2), a record at least
// root(1)+type(2)+class(2)+ttl(4)+rdlength(2).
constexpr std::size_t kMinQuestionSize = 5;
constexpr std::size_t kMinRecordSize = 11;
constexpr std::size_t kHeaderSize = 12;

class Parser {
 public:
  explicit Parser(std::span<const std::uint8_t> packet) : p_(packet) {}

  DnsParseResult run() {
    if (p_.size() > kMaxDnsMessageSize) return fail(DnsParseError::packet_too_large, 0);
    if (p_.size() < kHeaderSize) return fail(DnsParseError::truncated_header, p_.size());
    DnsMessage m;
    m.id = u16(0);
    m.flags = u16(2);
    const std::size_t qd = u16(4), an = u16(6), ns = u16(8), ar = u16(10);
    const std::size_t needed = qd * kMinQuestionSize + (an + ns + ar) * kMinRecordSize;
    if (needed > p_.size() - kHeaderSize) return fail(DnsParseError::count_exceeds_packet, 4);

    std::size_t pos = kHeaderSize;
    m.questions.reserve(qd);
    for (std::size_t i = 0; i < qd; ++i) {
      Question q;
      if (!read_name(pos, p_.size(), q.name)) return *failure_;
      if (pos + 4 > p_.size()) return fail(DnsParseError::truncated_question, pos);
      q.type = u16(pos);
      std::uint16_t cls = u16(pos + 2);
      q.unicast_response = (cls & kClassTopBit) != 0;
      q.qclass = cls & ~kClassTopBit;
      pos += 4;
      m.questions.push_back(std::move(q));
    }
    for (auto [count, section] : {std::pair{an, &m.answers}, std::pair{ns, &m.authorities},
                                  std::pair{ar, &m.additionals}}) {
      section->reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        ResourceRecord rr;
        if (!read_record(pos, rr)) return *failure_;
        section->push_back(std::move(rr));
      }
    }
    // Trailing bytes after the last record are ignored, as most resolvers do.
    return m;
  }

 private:
  std::uint16_t u16(std::size_t at) const {
    return static_cast<std::uint16_t>((p_[at] << 8) | p_[at + 1]);
  }
  std::uint32_t u32(std::size_t at) const {
    return (std::uint32_t{p_[at]} << 24) | (std::uint32_t{p_[at + 1]} << 16) |
           (std::uint32_t{p_[at + 2]} << 8) | std::uint32_t{p_[at + 3]};
  }
  DnsParseFailure fail(DnsParseError e, std::size_t at) {
    failure_ = DnsParseFailure{e, at};
    return *failure_;
  }
  bool fail_bool(DnsParseError e, std::size_t at) {
    failure_ = DnsParseFailure{e, at};
    return false;
  }

  // Reads a possibly compressed name at `pos`; the uncompressed part must end before `limit`
  // (the end of the rdata for names inside rdata). Afterwards `pos` is just past the name's
  // own bytes. Every compression pointer must point strictly before the previous jump point,
  // so the walk always terminates; the hop count is a second, independent bound.
  bool read_name(std::size_t& pos, std::size_t limit, DnsName& out) {
    out.labels.clear();
    std::size_t cursor = pos;
    std::size_t boundary = pos;  // pointers must target offsets below this
    bool jumped = false;
    int hops = 0;
    std::size_t wire_length = 1;
    for (;;) {
      if (cursor >= limit) return fail_bool(DnsParseError::truncated_name, cursor);
      const std::uint8_t len = p_[cursor];
      const std::uint8_t kind = len & 0xC0;
      if (kind == 0xC0) {
        if (cursor + 1 >= limit) return fail_bool(DnsParseError::truncated_name, cursor);
        const std::size_t target = static_cast<std::size_t>(((len & 0x3F) << 8) | p_[cursor + 1]);
        if (target >= p_.size()) return fail_bool(DnsParseError::pointer_out_of_range, cursor);
        if (target >= cursor) return fail_bool(DnsParseError::pointer_forward, cursor);
        if (jumped && target >= boundary) return fail_bool(DnsParseError::pointer_loop, cursor);
        if (++hops > kMaxCompressionHops) return fail_bool(DnsParseError::pointer_loop, cursor);
        if (!jumped) pos = cursor + 2;
        jumped = true;
        boundary = target;
        cursor = target;
        limit = p_.size();  // a pointer may lead anywhere earlier in the packet
        continue;
      }
      if (kind == 0x40) return fail_bool(DnsParseError::label_too_long, cursor);
      if (kind == 0x80) return fail_bool(DnsParseError::bad_label_type, cursor);
      if (len == 0) {
        if (!jumped) pos = cursor + 1;
        return true;
      }
      wire_length += 1 + len;
      if (wire_length > kMaxNameWireLength) return fail_bool(DnsParseError::name_too_long, cursor);
      if (cursor + 1 + len > limit) return fail_bool(DnsParseError::truncated_name, cursor);
      out.labels.emplace_back(reinterpret_cast<const char*>(&p_[cursor + 1]), len);
      cursor += 1 + len;
    }
  }

  bool read_record(std::size_t& pos, ResourceRecord& rr) {
    if (!read_name(pos, p_.size(), rr.name)) return false;
    if (pos + 10 > p_.size()) return fail_bool(DnsParseError::truncated_record, pos);
    rr.type = u16(pos);
    const std::uint16_t cls = u16(pos + 2);
    rr.cache_flush = (cls & kClassTopBit) != 0;
    rr.rclass = cls & ~kClassTopBit;
    rr.ttl = u32(pos + 4);
    const std::size_t rdlength = u16(pos + 8);
    pos += 10;
    if (pos + rdlength > p_.size()) return fail_bool(DnsParseError::rdata_out_of_range, pos - 2);
    const std::size_t start = pos;
    const std::size_t end = pos + rdlength;
    if (!read_rdata(rr, start, end)) return false;
    pos = end;
    return true;
  }

  bool read_rdata(ResourceRecord& rr, std::size_t start, std::size_t end) {
    const std::size_t length = end - start;
    std::size_t pos = start;
    switch (rr.type) {
      case dns_type::A: {
        if (length != 4) return fail_bool(DnsParseError::bad_address_length, start);
        ARecordData a;
        std::copy_n(&p_[start], 4, a.address.begin());
        rr.data = a;
        return true;
      }
      case dns_type::AAAA: {
        if (length != 16) return fail_bool(DnsParseError::bad_address_length, start);
        AaaaRecordData a;
        std::copy_n(&p_[start], 16, a.address.begin());
        rr.data = a;
        return true;
      }
      case dns_type::PTR: {
        PtrRecordData d;
        if (!read_name(pos, end, d.target)) return false;
        if (pos != end) return fail_bool(DnsParseError::rdata_length_mismatch, pos);
        rr.data = std::move(d);
        return true;
      }
      case dns_type::SRV: {
        if (length < 7) return fail_bool(DnsParseError::rdata_length_mismatch, start);
        SrvRecordData d;
        d.priority = u16(pos);
        d.weight = u16(pos + 2);
        d.port = u16(pos + 4);
        pos += 6;
        if (!read_name(pos, end, d.target)) return false;
        if (pos != end) return fail_bool(DnsParseError::rdata_length_mismatch, pos);
        rr.data = std::move(d);
        return true;
      }
      case dns_type::TXT: {
        if (length > kMaxTxtRdataSize) return fail_bool(DnsParseError::txt_too_large, start);
        TxtRecordData d;
        // RFC 6763 §6.1: zero-length TXT rdata means the same as one empty string.
        if (length == 0) d.strings.emplace_back();
        while (pos < end) {
          const std::size_t n = p_[pos];
          if (pos + 1 + n > end) return fail_bool(DnsParseError::txt_string_overflow, pos);
          d.strings.emplace_back(reinterpret_cast<const char*>(&p_[pos + 1]), n);
          pos += 1 + n;
        }
        rr.data = std::move(d);
        return true;
      }
      case dns_type::NSEC: {
        NsecRecordData d;
        if (!read_name(pos, end, d.next_name)) return false;
        int previous_window = -1;
        while (pos < end) {
          if (pos + 2 > end) return fail_bool(DnsParseError::bad_nsec_bitmap, pos);
          const int window = p_[pos];
          const std::size_t bitmap_length = p_[pos + 1];
          if (window <= previous_window || bitmap_length == 0 || bitmap_length > 32 ||
              pos + 2 + bitmap_length > end)
            return fail_bool(DnsParseError::bad_nsec_bitmap, pos);
          for (std::size_t i = 0; i < bitmap_length; ++i) {
            const std::uint8_t bits = p_[pos + 2 + i];
            for (int b = 0; b < 8; ++b)
              if (bits & (0x80 >> b))
                d.types.push_back(static_cast<std::uint16_t>(window * 256 + i * 8 + b));
          }
          previous_window = window;
          pos += 2 + bitmap_length;
        }
        rr.data = std::move(d);
        return true;
      }
      default: {
        OpaqueRecordData d;
        d.bytes.assign(p_.begin() + static_cast<std::ptrdiff_t>(start),
                       p_.begin() + static_cast<std::ptrdiff_t>(end));
        rr.data = std::move(d);
        return true;
      }
    }
  }

  std::span<const std::uint8_t> p_;
  std::optional<DnsParseFailure> failure_;
};

}  // namespace

DnsParseResult parse_dns_message(std::span<const std::uint8_t> packet) {
  return Parser(packet).run();
}

const char* to_string(DnsParseError error) {
  switch (error) {
    case DnsParseError::packet_too_large: return "packet larger than 65535 bytes";
    case DnsParseError::truncated_header: return "packet shorter than the 12-byte header";
    case DnsParseError::count_exceeds_packet: return "record counts exceed what the packet can hold";
    case DnsParseError::truncated_name: return "name runs past the end of its data";
    case DnsParseError::label_too_long: return "label length over 63";
    case DnsParseError::name_too_long: return "name longer than 255 bytes";
    case DnsParseError::bad_label_type: return "unsupported label type";
    case DnsParseError::pointer_out_of_range: return "compression pointer beyond the packet";
    case DnsParseError::pointer_forward: return "compression pointer does not point backwards";
    case DnsParseError::pointer_loop: return "compression pointer loop";
    case DnsParseError::truncated_question: return "question cut off";
    case DnsParseError::truncated_record: return "resource record header cut off";
    case DnsParseError::rdata_out_of_range: return "rdata length runs past the packet";
    case DnsParseError::rdata_length_mismatch: return "rdata does not match its length";
    case DnsParseError::bad_address_length: return "address record of the wrong length";
    case DnsParseError::txt_too_large: return "TXT record over 8900 bytes";
    case DnsParseError::txt_string_overflow: return "TXT string runs past the rdata";
    case DnsParseError::bad_nsec_bitmap: return "malformed NSEC type bitmap";
  }
  return "unknown parse error";
}

std::string DnsParseFailure::describe() const {
  return std::string(to_string(error)) + " at byte " + std::to_string(offset);
}

std::string dns_type_name(std::uint16_t type) {
  switch (type) {
    case dns_type::A: return "A";
    case dns_type::PTR: return "PTR";
    case dns_type::TXT: return "TXT";
    case dns_type::AAAA: return "AAAA";
    case dns_type::SRV: return "SRV";
    case dns_type::NSEC: return "NSEC";
    case dns_type::ANY: return "ANY";
    default: return "TYPE" + std::to_string(type);
  }
}

namespace {

struct RecordDataEqual {
  template <typename T, typename U>
  bool operator()(const T&, const U&) const { return false; }
  bool operator()(const OpaqueRecordData& a, const OpaqueRecordData& b) const { return a.bytes == b.bytes; }
  bool operator()(const ARecordData& a, const ARecordData& b) const { return a.address == b.address; }
  bool operator()(const AaaaRecordData& a, const AaaaRecordData& b) const { return a.address == b.address; }
  bool operator()(const PtrRecordData& a, const PtrRecordData& b) const { return a.target == b.target; }
  bool operator()(const TxtRecordData& a, const TxtRecordData& b) const { return a.strings == b.strings; }
  bool operator()(const SrvRecordData& a, const SrvRecordData& b) const {
    return a.priority == b.priority && a.weight == b.weight && a.port == b.port && a.target == b.target;
  }
  bool operator()(const NsecRecordData& a, const NsecRecordData& b) const {
    return a.next_name == b.next_name && a.types == b.types;
  }
};

}  // namespace

bool ResourceRecord::same_record(const ResourceRecord& other) const {
  return type == other.type && rclass == other.rclass && name == other.name &&
         std::visit(RecordDataEqual{}, data, other.data);
}

std::string describe_record(const ResourceRecord& r) {
  std::string out = r.name.to_string() + " " + dns_type_name(r.type) + " ttl=" + std::to_string(r.ttl);
  if (r.cache_flush) out += " flush";
  out += " ";
  std::visit(
      [&](const auto& d) {
        using T = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<T, ARecordData>) {
          for (int i = 0; i < 4; ++i) {
            if (i) out.push_back('.');
            out.append(std::to_string(d.address[i]));
          }
        } else if constexpr (std::is_same_v<T, AaaaRecordData>) {
          out += "<ipv6>";
        } else if constexpr (std::is_same_v<T, PtrRecordData>) {
          out += d.target.to_string();
        } else if constexpr (std::is_same_v<T, SrvRecordData>) {
          out += std::to_string(d.priority) + " " + std::to_string(d.weight) + " " +
                 std::to_string(d.port) + " " + d.target.to_string();
        } else if constexpr (std::is_same_v<T, TxtRecordData>) {
          for (const auto& s : d.strings) out.append("\"").append(s).append("\" ");
        } else if constexpr (std::is_same_v<T, NsecRecordData>) {
          out += d.next_name.to_string();
          for (auto t : d.types) {
            out.push_back(' ');
            out.append(dns_type_name(t));
          }
        } else {
          out.append("<").append(std::to_string(d.bytes.size())).append(" bytes>");
        }
      },
      r.data);
  return out;
}

}  // namespace baton::discovery
