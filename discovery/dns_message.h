#pragma once
// DNS message codec for Multicast DNS (RFC 1035 wire format, RFC 6762 bits).
//
// parse_dns_message() treats its input as hostile: every read is bounded, compression
// pointers must point strictly backwards (which also rules out loops), and each failure
// carries a precise reason and byte offset so the socket layer can log it and drop the packet.
// write_dns_message() produces a packet with name compression.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "discovery/dns_name.h"

namespace baton::discovery {

namespace dns_type {
inline constexpr std::uint16_t A = 1;
inline constexpr std::uint16_t PTR = 12;
inline constexpr std::uint16_t TXT = 16;
inline constexpr std::uint16_t AAAA = 28;
inline constexpr std::uint16_t SRV = 33;
inline constexpr std::uint16_t NSEC = 47;
inline constexpr std::uint16_t ANY = 255;
}  // namespace dns_type
std::string dns_type_name(std::uint16_t type);

inline constexpr std::uint16_t kClassIn = 1;
// Top bit of the class field: "unicast response wanted" in questions (QU, RFC 6762 §5.4),
// "cache flush" in resource records (RFC 6762 §10.2).
inline constexpr std::uint16_t kClassTopBit = 0x8000;

inline constexpr std::uint16_t kFlagResponse = 0x8000;       // QR
inline constexpr std::uint16_t kFlagAuthoritative = 0x0400;  // AA
inline constexpr std::uint16_t kFlagTruncated = 0x0200;      // TC
inline constexpr std::uint16_t kOpcodeMask = 0x7800;

// Limits: RFC 6762 §17 allows mDNS packets up to 9000 bytes; a DNS message cannot exceed
// 65535. DNS-SD TXT records must fit one packet; RFC 6763 §6.1 sets 8900 as a hard ceiling.
inline constexpr std::size_t kMaxDnsMessageSize = 65535;
inline constexpr std::size_t kMaxTxtRdataSize = 8900;
inline constexpr std::size_t kMaxTxtStringSize = 255;
inline constexpr int kMaxCompressionHops = 64;

struct Question {
  DnsName name;
  std::uint16_t type = 0;
  std::uint16_t qclass = kClassIn;  // without the QU bit
  bool unicast_response = false;    // QU bit
};

struct ARecordData { std::array<std::uint8_t, 4> address{}; };
struct AaaaRecordData { std::array<std::uint8_t, 16> address{}; };
struct PtrRecordData { DnsName target; };
struct TxtRecordData { std::vector<std::string> strings; };  // raw character-strings
struct SrvRecordData {
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  DnsName target;
};
struct NsecRecordData {
  DnsName next_name;
  std::vector<std::uint16_t> types;  // sorted, unique
};
struct OpaqueRecordData { std::vector<std::uint8_t> bytes; };  // unknown types, kept as is

using RecordData = std::variant<OpaqueRecordData, ARecordData, AaaaRecordData, PtrRecordData,
                                TxtRecordData, SrvRecordData, NsecRecordData>;

struct ResourceRecord {
  DnsName name;
  std::uint16_t type = 0;
  std::uint16_t rclass = kClassIn;  // without the cache-flush bit
  bool cache_flush = false;
  std::uint32_t ttl = 0;
  RecordData data;

  // Same name, type, class and rdata (TTL and cache-flush ignored), as RFC 6762 compares.
  bool same_record(const ResourceRecord& other) const;
};

struct DnsMessage {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authorities;
  std::vector<ResourceRecord> additionals;

  bool is_response() const { return (flags & kFlagResponse) != 0; }
  bool truncated() const { return (flags & kFlagTruncated) != 0; }
  std::uint16_t opcode() const { return static_cast<std::uint16_t>((flags & kOpcodeMask) >> 11); }
};

enum class DnsParseError {
  packet_too_large,
  truncated_header,
  count_exceeds_packet,    // header counts need more bytes than the packet has
  truncated_name,
  label_too_long,          // a label length byte over 63
  name_too_long,           // over 255 bytes uncompressed
  bad_label_type,          // length byte with top bits 01 or 10 (extended labels)
  pointer_out_of_range,    // compression pointer beyond the end of the packet
  pointer_forward,         // compression pointer to its own offset or later
  pointer_loop,            // a chain of pointers that does not strictly move backwards
  truncated_question,
  truncated_record,        // fixed record fields cut off
  rdata_out_of_range,      // rdlength runs past the end of the packet
  rdata_length_mismatch,   // rdata parsed to a different length than rdlength
  bad_address_length,      // A not 4 bytes, AAAA not 16
  txt_too_large,           // TXT rdata over 8900 bytes
  txt_string_overflow,     // a character-string runs past the rdata
  bad_nsec_bitmap,
};
const char* to_string(DnsParseError error);

struct DnsParseFailure {
  DnsParseError error;
  std::size_t offset;  // byte offset in the packet where the problem was found
  std::string describe() const;
};

// Either a message or the reason it was rejected.
class DnsParseResult {
 public:
  DnsParseResult(DnsMessage m) : message_(std::move(m)) {}
  DnsParseResult(DnsParseFailure f) : failure_(f) {}
  bool ok() const { return message_.has_value(); }
  explicit operator bool() const { return ok(); }
  const DnsMessage& message() const { return *message_; }
  DnsMessage& message() { return *message_; }
  const DnsParseFailure& failure() const { return *failure_; }

 private:
  std::optional<DnsMessage> message_;
  std::optional<DnsParseFailure> failure_;
};

DnsParseResult parse_dns_message(std::span<const std::uint8_t> packet);

// Serialises with name compression for owner names and PTR targets. SRV targets and NSEC
// next names are written uncompressed (RFC 2782 / RFC 4034) so strict unicast-DNS parsers
// such as dig's accept them. Throws std::invalid_argument for an invalid name or a TXT
// string over 255 bytes: those are programming errors on our side, not wire input.
std::vector<std::uint8_t> write_dns_message(const DnsMessage& message);

// The rdata of `record` in uncompressed wire form, as RFC 6762 §8.2 compares it when two
// hosts probe for the same name at the same time.
std::vector<std::uint8_t> canonical_rdata(const ResourceRecord& record);

// Presentation helpers for logs and tests.
std::string describe_record(const ResourceRecord& record);

}  // namespace baton::discovery
