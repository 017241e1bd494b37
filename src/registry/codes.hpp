// The code rules of docs/domain.md per level (GB/T 2260, GB/T 10114, 15-digit
// grid codes by default). Pure functions: no database.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/level.hpp"

namespace wangge::registry {

// The levels are the project's one enum (core/level.hpp); named here so registry code and its
// callers keep writing registry::Level.
using wangge::Level;
using wangge::level_name;
using wangge::parent_level;
using wangge::parse_level;

class CodeRules {
 public:
  explicit CodeRules(const Config& config);
  // Throws unprocessable("invalid_code", ...) when `code` breaks the rule of `level`, or when it
  // does not extend the parent's code (`parent_code` empty for a root area).
  void validate(std::string_view code, Level level, std::string_view parent_code) const;

 private:
  std::regex m_grid;
  std::regex m_microgrid;
  std::string m_grid_pattern;
  std::string m_microgrid_pattern;
};

// The digits every descendant's code starts with: "33" for province 330000, "3305" for city
// 330500, the whole code below that. Because child codes must extend their parent's prefix, a
// code lies in a subtree exactly when it starts with the subtree root's prefix.
std::string code_prefix(std::string_view code);
// Whether `text` is one or more ASCII digits, as every area code is (the syntax alone: no rule of
// a level, no existence).
bool all_digits(std::string_view text);
bool code_within(std::string_view code, std::string_view scope_code);

}  // namespace wangge::registry
