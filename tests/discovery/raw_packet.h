#pragma once
// Builds DNS packets byte by byte, independently of the codec under test, so tests can
// describe exactly the (often broken) bytes they feed the parser.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace baton::discovery::testing {

class RawPacket {
 public:
  RawPacket& header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
                    std::uint16_t ns = 0, std::uint16_t ar = 0) {
    u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
    return *this;
  }
  RawPacket& u8(std::uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  RawPacket& u16(std::uint16_t v) { return u8(static_cast<std::uint8_t>(v >> 8)).u8(static_cast<std::uint8_t>(v)); }
  RawPacket& u32(std::uint32_t v) { return u16(static_cast<std::uint16_t>(v >> 16)).u16(static_cast<std::uint16_t>(v)); }
  RawPacket& raw(std::initializer_list<std::uint8_t> list) {
    bytes.insert(bytes.end(), list);
    return *this;
  }
  RawPacket& text(const std::string& s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  // "a.b.c" as uncompressed labels ending in the root byte (no escapes).
  RawPacket& name(const std::string& dotted) {
    std::size_t start = 0;
    while (start < dotted.size()) {
      std::size_t dot = dotted.find('.', start);
      if (dot == std::string::npos) dot = dotted.size();
      u8(static_cast<std::uint8_t>(dot - start));
      text(dotted.substr(start, dot - start));
      start = dot + 1;
    }
    return u8(0);
  }
  RawPacket& pointer(std::uint16_t offset) { return u16(static_cast<std::uint16_t>(0xC000 | offset)); }
  std::size_t size() const { return bytes.size(); }

  std::vector<std::uint8_t> bytes;
};

}  // namespace baton::discovery::testing
