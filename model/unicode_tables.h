// Unicode character classes the GPT-2 style pre-tokenizers need (\p{L}, \p{N}, \p{P}, \p{M}, \p{S}, \s).
#pragma once

namespace baton::unicode {

bool is_letter(char32_t cp);      // general category L* (Lu, Ll, Lt, Lm, Lo)
bool is_number(char32_t cp);      // general category N* (Nd, Nl, No)
bool is_punctuation(char32_t cp); // general category P* (Pc, Pd, Ps, Pe, Pi, Pf, Po)
bool is_mark(char32_t cp);        // general category M* (Mn, Mc, Me)
bool is_symbol(char32_t cp);      // general category S* (Sm, Sc, Sk, So)
bool is_whitespace(char32_t cp);  // the White_Space property, as regex engines use for \s

}  // namespace baton::unicode
