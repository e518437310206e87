// Where `baton` finds a model when the user names none.
#pragma once

#include <optional>
#include <string>

namespace baton::cli {

// The model to use: the given path if any; else $BATON_MODEL; else the model shipped
// with baton (in <prefix>/share/baton/models next to an installed binary, then the
// install prefix, then models/ in the source tree); else a synthesised model, written once into
// the cache folder ($XDG_CACHE_HOME/baton or ~/.cache/baton). Says on screen which.
std::string resolve_model(const std::optional<std::string>& requested);

std::string cache_dir();

}  // namespace baton::cli
