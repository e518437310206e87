#include "partition/toml_text.h"

#include <fmt/format.h>

namespace baton {

std::string describe_toml_value(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return fmt::format("string \"{}\"", node.value<std::string>().value_or(""));
    case toml::node_type::integer: return fmt::format("{}", node.value<int64_t>().value_or(0));
    case toml::node_type::floating_point: return fmt::format("{}", node.value<double>().value_or(0.0));
    case toml::node_type::boolean: return node.value<bool>().value_or(false) ? "true" : "false";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date or time";
  }
}

}  // namespace baton
