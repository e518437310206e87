// How a TOML value reads in an error message ("string \"fone\"", "an array", "3"), shared
// by the parsers of device profiles and cluster files.
#pragma once

#include <string>

#include <toml++/toml.h>

namespace baton {

std::string describe_toml_value(const toml::node& node);

}  // namespace baton
