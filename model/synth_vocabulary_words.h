// Word list behind synth_vocabulary (lower-case ASCII, most frequent first, no repeats).
#pragma once

#include <span>
#include <string_view>

namespace baton {

std::span<const std::string_view> synth_english_words();

}  // namespace baton
