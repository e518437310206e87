#include "discovery/dns_name.h"

#include <cctype>

namespace baton::discovery {
namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool labels_equal_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::optional<DnsName> DnsName::parse(std::string_view text) {
  DnsName name;
  if (text.empty() || text == ".") return name;  // the root
  std::string label;
  bool label_started = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return std::nullopt;
      char next = text[i + 1];
      if (std::isdigit(static_cast<unsigned char>(next))) {
        if (i + 3 >= text.size()) return std::nullopt;  // "\DDD" needs three digits
        int value = 0;
        for (std::size_t k = 1; k <= 3; ++k) {
          char d = text[i + k];
          if (!std::isdigit(static_cast<unsigned char>(d))) return std::nullopt;
          value = value * 10 + (d - '0');
        }
        if (value > 255) return std::nullopt;
        label.push_back(static_cast<char>(value));
        i += 3;
      } else {
        label.push_back(next);
        i += 1;
      }
      label_started = true;
    } else if (c == '.') {
      if (!label_started) return std::nullopt;  // empty label ("a..b" or ".a")
      name.labels.push_back(std::move(label));
      label.clear();
      label_started = false;
    } else {
      label.push_back(c);
      label_started = true;
    }
  }
  if (label_started) name.labels.push_back(std::move(label));
  if (!name.valid()) return std::nullopt;
  return name;
}

std::string DnsName::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out.push_back('.');
    for (unsigned char c : labels[i]) {
      if (c == '.' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7f) {
        char buf[5];
        buf[0] = '\\';
        buf[1] = static_cast<char>('0' + c / 100);
        buf[2] = static_cast<char>('0' + (c / 10) % 10);
        buf[3] = static_cast<char>('0' + c % 10);
        buf[4] = 0;
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }
  return out;
}

std::size_t DnsName::wire_length() const {
  std::size_t n = 1;
  for (const auto& l : labels) n += 1 + l.size();
  return n;
}

bool DnsName::valid() const {
  for (const auto& l : labels)
    if (l.empty() || l.size() > kMaxLabelLength) return false;
  return wire_length() <= kMaxNameWireLength;
}

DnsName DnsName::prepend(std::string label) const {
  DnsName out;
  out.labels.reserve(labels.size() + 1);
  out.labels.push_back(std::move(label));
  out.labels.insert(out.labels.end(), labels.begin(), labels.end());
  return out;
}

bool DnsName::ends_with(const DnsName& suffix) const {
  if (suffix.labels.size() > labels.size()) return false;
  std::size_t offset = labels.size() - suffix.labels.size();
  for (std::size_t i = 0; i < suffix.labels.size(); ++i)
    if (!labels_equal_ignore_case(labels[offset + i], suffix.labels[i])) return false;
  return true;
}

bool operator==(const DnsName& a, const DnsName& b) {
  if (a.labels.size() != b.labels.size()) return false;
  for (std::size_t i = 0; i < a.labels.size(); ++i)
    if (!labels_equal_ignore_case(a.labels[i], b.labels[i])) return false;
  return true;
}

std::string DnsName::key() const {
  std::string out;
  for (const auto& l : labels) {
    // Length-prefixed so that a '.' inside a label cannot collide with a label boundary.
    out.push_back(static_cast<char>(l.size()));
    for (char c : l) out.push_back(ascii_lower(c));
  }
  return out;
}

}  // namespace baton::discovery
