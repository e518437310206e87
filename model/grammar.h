// A context-free grammar over bytes and the incremental matcher that says whether text
// read so far is still a prefix of some sentence: the core of constrained sampling for
// JSON schemas and tool calls. Rules are alternatives of sequences of byte sets and rule
// references; the matcher keeps the set of possible parse stacks (a pushdown automaton
// run on every branch at once), so alternatives that share a prefix (anyOf) need no
// look-ahead. Grammars must not be left-recursive (the schema compiler never writes one).
// Pure: no I/O, copyable state, so a sampler can try a token's bytes and throw them away.
#pragma once

#include <bitset>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

using ByteSet = std::bitset<256>;

class Grammar {
 public:
  using RuleId = uint32_t;
  // One item of a sequence: a byte from a set, or any sentence of a rule.
  struct Item {
    static Item bytes(ByteSet set) { return {false, 0, set}; }
    static Item rule(RuleId r) { return {true, r, {}}; }
    bool is_rule;
    RuleId rule_id;
    ByteSet set;
  };
  using Sequence = std::vector<Item>;
  static constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();

  // A new rule without alternatives yet (so that rules can refer to each other).
  RuleId add_rule();
  void add_alternative(RuleId rule, Sequence sequence);
  // Finishes the grammar with `root` as its start; throws std::invalid_argument when a
  // rule has no finite sentence (e.g. a rule that only refers to itself).
  void finish(RuleId root);

  RuleId root() const { return root_; }
  size_t rule_count() const { return rules_.size(); }

  // Helpers for builders: a literal's bytes, a one-byte set, a range of bytes.
  static Sequence literal(std::string_view text);
  static ByteSet byte(unsigned char c);
  static ByteSet range(unsigned char lo, unsigned char hi);

 private:
  friend class GrammarState;
  // Flattened storage: every alternative is its items then an End marker; a position is
  // an index into items_ (the next item to match).
  struct Slot {
    enum Kind : uint8_t { Bytes, Rule, End } kind;
    RuleId rule_id = 0;
    ByteSet set;
  };
  void compute_shortest();

  std::vector<std::vector<Sequence>> rules_;       // as built, until finish()
  std::vector<Slot> slots_;
  std::vector<std::vector<uint32_t>> rule_starts_;  // per rule: its alternatives' first slots
  std::vector<uint32_t> shortest_rule_;            // per rule: bytes of its shortest sentence
  std::vector<uint32_t> shortest_rest_;            // per slot: bytes to the end of its alternative
  std::vector<uint32_t> shortest_alt_;             // per rule: the alternative that gives its shortest
  RuleId root_ = 0;
  bool finished_ = false;
};

// Where a match stands: every parse stack still possible after the bytes read.
class GrammarState {
 public:
  // Bounds that keep one state small whatever a model writes: stacks alive at once, and
  // frames per stack (nesting).
  static constexpr size_t kMaxStacks = 256;
  static constexpr size_t kMaxDepth = 512;

  explicit GrammarState(const Grammar& grammar);

  // Takes one more byte; false (and the state unchanged) when no sentence starts with what
  // was read plus this byte.
  bool feed(unsigned char c);
  bool feed(std::string_view text);
  // What was read is a whole sentence (more may still follow, e.g. digits).
  bool complete() const;
  // Bytes of the shortest text that makes it a whole sentence (0 once complete).
  uint32_t shortest_ending_length() const;
  // That text (for tests and diagnostics).
  std::string shortest_ending() const;
  // No sentence starts with what was read (only the initial state of a grammar whose
  // stacks all overflowed the bounds).
  bool dead() const { return stacks_.empty(); }

 private:
  using Stack = std::vector<uint32_t>;  // positions; the top is the back
  // Replaces a stack whose top is a rule reference by one stack per alternative, and pops
  // finished alternatives, until every top is a byte set (or the stack is empty).
  void expand(Stack stack, std::vector<Stack>& out, int depth = 0) const;
  uint32_t stack_ending_length(const Stack& stack) const;

  const Grammar* grammar_;
  std::vector<Stack> stacks_;  // sorted, unique
};

}  // namespace baton
