// LexicalGuard: the public class (see lexical_guard.hpp). Runs the checks of guard_checks.cpp,
// cheapest first, on per-thread scratch analyses; never throws.
#include "engram/lexical_guard.hpp"

#include <utility>

#include "engram/normalize.hpp"
#include "guard_checks.hpp"
#include "guard_lexicon.hpp"

namespace engram {
namespace {

using guard_detail::Analysis;
using guard_detail::Lexicon;

const std::shared_ptr<const Lexicon>& default_lexicon() {
  static const std::shared_ptr<const Lexicon> lexicon = guard_detail::build_lexicon(LexicalGuardOptions{});
  return lexicon;
}

bool is_default(const LexicalGuardOptions& o) {
  const LexicalGuardOptions d;
  return o.numbers == d.numbers && o.negation == d.negation && o.antonyms == d.antonyms && o.entities == d.entities &&
         o.direction == d.direction && o.extra_antonyms.empty() && o.extra_negation_cues.empty() &&
         o.languages == d.languages;
}

GuardVerdict reject(const char* reason) { return GuardVerdict{false, reason}; }

struct Scratch {
  Analysis query;
  Analysis matched;
  std::string word;
};

}  // namespace

LexicalGuard::LexicalGuard(LexicalGuardOptions options)
    : lexicon_(is_default(options) ? default_lexicon() : guard_detail::build_lexicon(std::move(options))) {}

const LexicalGuardOptions& LexicalGuard::options() const noexcept { return lexicon_->options; }

std::size_t LexicalGuard::antonym_pair_count(std::string_view language) noexcept {
  const guard_detail::LanguageLists* lists = guard_detail::language_lists(language);
  return lists == nullptr ? 0 : lists->antonyms.size();
}

GuardVerdict LexicalGuard::operator()(std::string_view query, std::string_view matched_query) const {
  try {
    if (!is_valid_utf8(query) || !is_valid_utf8(matched_query)) return reject("invalid-utf8");
    thread_local Scratch scratch;
    const Lexicon& lex = *lexicon_;
    const LexicalGuardOptions& opt = lex.options;
    Analysis& a = scratch.query;
    Analysis& b = scratch.matched;
    guard_detail::analyze(query, lex, a);
    guard_detail::analyze(matched_query, lex, b);
    if (opt.numbers && !guard_detail::numbers_match(a, b)) return reject("number");
    if (opt.negation && !guard_detail::negation_matches(a, b, lex, scratch.word)) return reject("negation");
    if (opt.antonyms && !guard_detail::antonyms_match(a, b)) return reject("antonym");
    if (opt.entities && (!guard_detail::entities_match(a, b) || guard_detail::one_word_swapped(a, b, lex))) {
      return reject("entity");
    }
    if (opt.direction && !guard_detail::direction_matches(a, b)) return reject("direction");
    return GuardVerdict{};
  } catch (...) {
    return reject("internal-error");
  }
}

Guard default_guard() {
  static const LexicalGuard guard;
  return guard;
}

}  // namespace engram
