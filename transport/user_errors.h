// Errors as people read them: kj/Cap'n Proto exceptions carry a file:line, a type prefix,
// "remote exception:"/"std::exception:" wrappers and a stack of addresses; a user sees
// only the sentence (the rest goes to the debug log).
#pragma once

#include <kj/exception.h>

#include <string>

namespace baton {

// The description without kj's wrappers: "remote exception: std::exception: refused by
// phone: wrong cluster secret" -> "refused by phone: wrong cluster secret".
std::string plain_message(const kj::Exception& e);
std::string plain_message(const std::string& description);

// True when the address did not answer at all (nothing listening, no route, timed out),
// as opposed to a peer that answered and refused.
bool is_unreachable(const kj::Exception& e);

// A short reason for an unreachable address: "connection refused", "no route to host"...
std::string unreachable_reason(const kj::Exception& e);

}  // namespace baton
