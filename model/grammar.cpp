#include "model/grammar.h"

#include <algorithm>
#include <stdexcept>

namespace baton {

namespace {

uint32_t saturating_add(uint32_t a, uint32_t b) {
  return a > Grammar::kUnbounded - b ? Grammar::kUnbounded : a + b;
}

// Expansion follows chains of rule references that write nothing; a grammar without left
// recursion has short ones, so this only guards against a builder's mistake.
constexpr int kMaxExpansionDepth = 1000;

}  // namespace

Grammar::RuleId Grammar::add_rule() {
  if (finished_) throw std::logic_error("a finished grammar takes no more rules");
  rules_.emplace_back();
  return static_cast<RuleId>(rules_.size() - 1);
}

void Grammar::add_alternative(RuleId rule, Sequence sequence) {
  if (finished_) throw std::logic_error("a finished grammar takes no more alternatives");
  rules_.at(rule).push_back(std::move(sequence));
}

Grammar::Sequence Grammar::literal(std::string_view text) {
  Sequence out;
  for (unsigned char c : text) out.push_back(Item::bytes(byte(c)));
  return out;
}

ByteSet Grammar::byte(unsigned char c) {
  ByteSet s;
  s.set(c);
  return s;
}

ByteSet Grammar::range(unsigned char lo, unsigned char hi) {
  ByteSet s;
  for (unsigned c = lo; c <= hi; ++c) s.set(c);
  return s;
}

void Grammar::finish(RuleId root) {
  if (finished_) throw std::logic_error("the grammar is finished already");
  if (root >= rules_.size()) throw std::invalid_argument("the root is not a rule of the grammar");
  rule_starts_.assign(rules_.size(), {});
  for (size_t r = 0; r < rules_.size(); ++r) {
    if (rules_[r].empty()) throw std::invalid_argument("a rule of the grammar has no alternatives");
    for (const Sequence& seq : rules_[r]) {
      rule_starts_[r].push_back(static_cast<uint32_t>(slots_.size()));
      for (const Item& item : seq) {
        if (item.is_rule && item.rule_id >= rules_.size()) throw std::invalid_argument("a reference to no rule");
        slots_.push_back({item.is_rule ? Slot::Rule : Slot::Bytes, item.rule_id, item.set});
      }
      slots_.push_back({Slot::End, 0, {}});
    }
  }
  root_ = root;
  finished_ = true;
  compute_shortest();
  if (shortest_rule_[root_] == kUnbounded) throw std::invalid_argument("the grammar has no finite sentence");
}

// Shortest sentence of every rule: relaxation until nothing shrinks (Bellman-Ford over
// rules; lengths only go down, so this ends). A rule's choice changes only when it gets
// strictly shorter, so following the choices never cycles.
void Grammar::compute_shortest() {
  shortest_rule_.assign(rules_.size(), kUnbounded);
  shortest_alt_.assign(rules_.size(), 0);
  shortest_rest_.assign(slots_.size(), kUnbounded);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = slots_.size(); i-- > 0;) {
      const Slot& s = slots_[i];
      shortest_rest_[i] = s.kind == Slot::End    ? 0
                          : s.kind == Slot::Bytes ? saturating_add(1, shortest_rest_[i + 1])
                                                  : saturating_add(shortest_rule_[s.rule_id], shortest_rest_[i + 1]);
    }
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (size_t a = 0; a < rule_starts_[r].size(); ++a) {
        const uint32_t len = shortest_rest_[rule_starts_[r][a]];
        if (len < shortest_rule_[r]) {
          shortest_rule_[r] = len;
          shortest_alt_[r] = static_cast<uint32_t>(a);
          changed = true;
        }
      }
    }
  }
  for (size_t r = 0; r < rules_.size(); ++r) {
    if (shortest_rule_[r] == kUnbounded) throw std::invalid_argument("a rule of the grammar has no finite sentence");
  }
}

GrammarState::GrammarState(const Grammar& grammar) : grammar_(&grammar) {
  if (!grammar.finished_) throw std::logic_error("a grammar must be finished before it is matched");
  for (uint32_t start : grammar.rule_starts_[grammar.root_]) expand({start}, stacks_);
  std::sort(stacks_.begin(), stacks_.end());
  stacks_.erase(std::unique(stacks_.begin(), stacks_.end()), stacks_.end());
}

void GrammarState::expand(Stack stack, std::vector<Stack>& out, int depth) const {
  if (depth > kMaxExpansionDepth) return;
  while (!stack.empty() && grammar_->slots_[stack.back()].kind == Grammar::Slot::End) stack.pop_back();
  if (stack.empty() || grammar_->slots_[stack.back()].kind == Grammar::Slot::Bytes) {
    out.push_back(std::move(stack));
    return;
  }
  const uint32_t at = stack.back();
  stack.pop_back();
  // The continuation after the reference; none when the reference ends its alternative
  // (a tail call), so right recursion such as a string's characters keeps the stack flat.
  if (grammar_->slots_[at + 1].kind != Grammar::Slot::End) stack.push_back(at + 1);
  if (stack.size() >= kMaxDepth) return;
  for (uint32_t start : grammar_->rule_starts_[grammar_->slots_[at].rule_id]) {
    Stack next = stack;
    next.push_back(start);
    expand(std::move(next), out, depth + 1);
  }
}

bool GrammarState::feed(unsigned char c) {
  std::vector<Stack> next;
  for (const Stack& s : stacks_) {
    if (s.empty()) continue;
    const Grammar::Slot& slot = grammar_->slots_[s.back()];
    if (slot.kind != Grammar::Slot::Bytes || !slot.set.test(c)) continue;
    Stack advanced = s;
    ++advanced.back();
    expand(std::move(advanced), next);
  }
  if (next.empty()) return false;
  std::sort(next.begin(), next.end());
  next.erase(std::unique(next.begin(), next.end()), next.end());
  if (next.size() > kMaxStacks) return false;
  stacks_ = std::move(next);
  return true;
}

bool GrammarState::feed(std::string_view text) {
  for (unsigned char c : text) {
    if (!feed(c)) return false;
  }
  return true;
}

bool GrammarState::complete() const {
  return std::any_of(stacks_.begin(), stacks_.end(), [](const Stack& s) { return s.empty(); });
}

uint32_t GrammarState::stack_ending_length(const Stack& stack) const {
  uint32_t sum = 0;
  for (uint32_t at : stack) sum = saturating_add(sum, grammar_->shortest_rest_[at]);
  return sum;
}

uint32_t GrammarState::shortest_ending_length() const {
  uint32_t best = Grammar::kUnbounded;
  for (const Stack& s : stacks_) best = std::min(best, stack_ending_length(s));
  return best;
}

std::string GrammarState::shortest_ending() const {
  if (stacks_.empty()) return {};
  const Stack* best = &stacks_.front();
  for (const Stack& s : stacks_) {
    if (stack_ending_length(s) < stack_ending_length(*best)) best = &s;
  }
  const Grammar& g = *grammar_;
  std::string out;
  // Writes the shortest text from slot `at` to the end of its alternative.
  auto write = [&](auto&& self, uint32_t at) -> void {
    for (; g.slots_[at].kind != Grammar::Slot::End; ++at) {
      const Grammar::Slot& slot = g.slots_[at];
      if (slot.kind == Grammar::Slot::Rule) {
        self(self, g.rule_starts_[slot.rule_id][g.shortest_alt_[slot.rule_id]]);
        continue;
      }
      // A printable byte where the set has one, else its first.
      size_t c = 0x20;
      while (c < 0x7f && !slot.set.test(c)) ++c;
      if (c == 0x7f) {
        c = 0;
        while (!slot.set.test(c)) ++c;
      }
      out.push_back(static_cast<char>(c));
    }
  };
  for (auto it = best->rbegin(); it != best->rend(); ++it) write(write, *it);
  return out;
}

}  // namespace baton
