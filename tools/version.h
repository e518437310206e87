// `baton --version`: what was built, from which commit, by which compiler, and which
// kernel paths this CPU runs.
#pragma once

#include <string>

namespace baton::cli {

const char* git_commit();  // generated at build time (cmake/git_commit.cmake)
std::string version_text();

}  // namespace baton::cli
