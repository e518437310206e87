# Writes OUTPUT, a C++ file defining baton::cli::git_commit(), from the git commit of
# SOURCE_DIR ("-modified" when the work tree differs from it; "unknown" without git).
# Runs at every build but rewrites OUTPUT only when the text changes, so nothing
# recompiles needlessly.
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
else()
  execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD -- RESULT_VARIABLE modified ERROR_QUIET)
  if(modified EQUAL 1)
    string(APPEND commit "-modified")
  endif()
endif()
set(text "// Generated at build time by cmake/git_commit.cmake.\nnamespace baton::cli {\nconst char* git_commit() { return \"${commit}\"; }\n}  // namespace baton::cli\n")
set(old "")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
