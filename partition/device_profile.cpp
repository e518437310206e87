#include "partition/device_profile.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <string>

// Header-only use: the partition library links nothing but baton_model.
#include <toml++/toml.h>

#include "model/unicode_utf8.h"
#include "partition/toml_text.h"

namespace baton {
namespace {

enum class NumberKind { PositiveInteger, PositiveNumber, NonNegativeNumber };

struct NumberField {
  std::string_view name;
  NumberKind kind;
  double max;  // generous sanity bounds: anything above is a typo or a unit mix-up
};

constexpr std::array<NumberField, 5> kNumberFields{{
    {"memory_mib", NumberKind::PositiveInteger, 16.0 * 1024 * 1024},  // 16 TiB
    {"compute_gflops", NumberKind::PositiveNumber, 1e7},
    {"memory_bandwidth_gbs", NumberKind::PositiveNumber, 1e5},
    {"link_latency_ms", NumberKind::NonNegativeNumber, 60'000},
    {"link_bandwidth_mbps", NumberKind::PositiveNumber, 1e7},
}};
constexpr std::array<std::string_view, 7> kKinds{"phone", "tablet", "laptop", "pc", "sbc", "server", "other"};
constexpr std::string_view kDescriptionField = "description";
// A node name (a DNS label, at most 63 bytes) plus the "#2" the coordinator adds to tell
// equal names apart.
constexpr size_t kMaxIdLength = 72;

std::string expectation(NumberKind kind) {
  switch (kind) {
    case NumberKind::PositiveInteger: return "a positive integer";
    case NumberKind::PositiveNumber: return "a positive number";
    case NumberKind::NonNegativeNumber: return "a number >= 0";
  }
  return "a number";
}

std::string field_error(const std::string& label, std::string_view field, const std::string& what) {
  return fmt::format("{}: field '{}': {}", label, field, what);
}

std::string join_kinds() {
  std::string out;
  for (std::string_view k : kKinds) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

// Empty when `value` is acceptable for `field`.
std::string check_number(const std::string& label, const NumberField& field, double value) {
  const bool in_range = std::isfinite(value) &&
                        (field.kind == NumberKind::NonNegativeNumber ? value >= 0 : value > 0) &&
                        value <= field.max;
  if (in_range) return {};
  std::string found = std::isfinite(value) ? fmt::format("{}", value) : (std::isnan(value) ? "nan" : "inf");
  if (std::isfinite(value) && value > field.max) {
    return field_error(label, field.name,
                       fmt::format("expected {} no larger than {}, found {}", expectation(field.kind), field.max, found));
  }
  return field_error(label, field.name, fmt::format("expected {}, found {}", expectation(field.kind), found));
}

std::string check_id(const std::string& label, const std::string& id) {
  if (id.empty()) return field_error(label, "id", "expected a non-empty string");
  if (id.size() > kMaxIdLength) {
    return field_error(label, "id", fmt::format("expected at most {} characters, found {}", kMaxIdLength, id.size()));
  }
  // Ids are the names people give devices ("Bob's phone"): any printable text.
  if (!unicode::is_printable_utf8(id)) {
    return field_error(label, "id", "expected printable UTF-8 text (no control characters)");
  }
  return {};
}

std::string check_kind(const std::string& label, const std::string& kind) {
  for (std::string_view k : kKinds) {
    if (kind == k) return {};
  }
  return field_error(label, "kind", fmt::format("expected one of {}, found \"{}\"", join_kinds(), kind));
}


bool is_known_field(std::string_view key) {
  if (key == "id" || key == "kind" || key == kDescriptionField) return true;
  for (const NumberField& f : kNumberFields) {
    if (key == f.name) return true;
  }
  return false;
}

std::string known_fields() {
  std::string out = "id, kind";
  for (const NumberField& f : kNumberFields) out += fmt::format(", {}", f.name);
  out += fmt::format(", {}", kDescriptionField);
  return out;
}

std::string require_string(const toml::table& table, const std::string& label, std::string_view field) {
  const toml::node* node = table.get(field);
  if (!node) throw DeviceProfileError(field_error(label, field, "missing (expected a string)"));
  if (!node->is_string()) {
    throw DeviceProfileError(field_error(label, field, fmt::format("expected a string, found {}", describe_toml_value(*node))));
  }
  return *node->value<std::string>();
}

double require_number(const toml::table& table, const std::string& label, const NumberField& field) {
  const toml::node* node = table.get(field.name);
  if (!node) {
    throw DeviceProfileError(field_error(label, field.name, fmt::format("missing (expected {})", expectation(field.kind))));
  }
  double value = 0;
  if (node->is_integer()) {
    value = static_cast<double>(*node->value<int64_t>());
  } else if (node->is_floating_point() && field.kind != NumberKind::PositiveInteger) {
    value = *node->value<double>();
  } else {
    throw DeviceProfileError(
        field_error(label, field.name, fmt::format("expected {}, found {}", expectation(field.kind), describe_toml_value(*node))));
  }
  if (std::string problem = check_number(label, field, value); !problem.empty()) throw DeviceProfileError(problem);
  return value;
}

}  // namespace

DeviceProfile parse_device_profile(std::string_view toml_text, const std::string& label) {
  if (toml_text.size() > kMaxDeviceProfileBytes) {
    throw DeviceProfileError(fmt::format("{}: {} bytes is too large for a device profile (limit {})", label,
                                         toml_text.size(), kMaxDeviceProfileBytes));
  }
  toml::table table;
  try {
    table = toml::parse(toml_text, label);
  } catch (const toml::parse_error& e) {
    throw DeviceProfileError(fmt::format("{}:{}:{}: TOML syntax error: {}", label, e.source().begin.line,
                                         e.source().begin.column, e.description()));
  }

  for (auto&& [key, node] : table) {
    if (!is_known_field(key.str())) {
      throw DeviceProfileError(
          fmt::format("{}: unknown field '{}' (known fields: {})", label, key.str(), known_fields()));
    }
  }

  DeviceProfile device;
  device.id = require_string(table, label, "id");
  if (std::string problem = check_id(label, device.id); !problem.empty()) throw DeviceProfileError(problem);
  device.kind = require_string(table, label, "kind");
  if (std::string problem = check_kind(label, device.kind); !problem.empty()) throw DeviceProfileError(problem);
  if (const toml::node* description = table.get(kDescriptionField); description && !description->is_string()) {
    throw DeviceProfileError(field_error(label, kDescriptionField,
                                         fmt::format("expected a string, found {}", describe_toml_value(*description))));
  }

  device.memory_mib = static_cast<int64_t>(require_number(table, label, kNumberFields[0]));
  device.compute_gflops = require_number(table, label, kNumberFields[1]);
  device.memory_bandwidth_gbs = require_number(table, label, kNumberFields[2]);
  device.link_latency_ms = require_number(table, label, kNumberFields[3]);
  device.link_bandwidth_mbps = require_number(table, label, kNumberFields[4]);
  return device;
}

std::string validate_device_profile(const DeviceProfile& device, const std::string& label) {
  if (std::string problem = check_id(label, device.id); !problem.empty()) return problem;
  if (std::string problem = check_kind(label, device.kind); !problem.empty()) return problem;
  const std::array<double, 5> values{static_cast<double>(device.memory_mib), device.compute_gflops,
                                     device.memory_bandwidth_gbs, device.link_latency_ms,
                                     device.link_bandwidth_mbps};
  for (size_t i = 0; i < kNumberFields.size(); ++i) {
    if (std::string problem = check_number(label, kNumberFields[i], values[i]); !problem.empty()) return problem;
  }
  return {};
}

}  // namespace baton
