#pragma once
// A DNS domain name as a list of labels (RFC 1035 §3.1). Labels are raw bytes: in DNS-SD an
// instance label may hold spaces, dots and UTF-8 (RFC 6763 §4.3), so labels are never split
// on '.' once they are labels. Only the presentation form (to_string / parse) uses escapes.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baton::discovery {

inline constexpr std::size_t kMaxLabelLength = 63;     // RFC 1035 §2.3.4
inline constexpr std::size_t kMaxNameWireLength = 255; // including length bytes and the root

struct DnsName {
  std::vector<std::string> labels;  // without the empty root label

  DnsName() = default;
  explicit DnsName(std::vector<std::string> l) : labels(std::move(l)) {}

  // Parses presentation form: labels separated by '.', "\." and "\\" escape a character,
  // "\DDD" is a decimal byte. A trailing '.' is allowed. Returns nullopt on a bad escape,
  // an empty label, a label over 63 bytes or a name over 255 wire bytes.
  static std::optional<DnsName> parse(std::string_view text);

  // Presentation form with '.', '\\' and non-printable bytes escaped, no trailing dot,
  // e.g. "my\ node._baton._tcp.local" prints as "my node._baton._tcp.local" with '.' in a
  // label shown as "\.". Spaces are left as they are (dig prints them as \032).
  std::string to_string() const;

  // Bytes this name takes on the wire without compression (length bytes + root byte).
  std::size_t wire_length() const;
  bool valid() const;  // every label 1..63 bytes and wire_length() <= 255

  // The name with `label` prepended (e.g. instance label + service name).
  DnsName prepend(std::string label) const;
  // True if this name ends with `suffix` (case-insensitive), e.g. host ends with "local".
  bool ends_with(const DnsName& suffix) const;

  // DNS names compare case-insensitively for ASCII letters (RFC 1035 §2.3.3, RFC 6762 §16).
  friend bool operator==(const DnsName& a, const DnsName& b);
  // A canonical lower-case key for maps.
  std::string key() const;
};

bool labels_equal_ignore_case(std::string_view a, std::string_view b);

}  // namespace baton::discovery
