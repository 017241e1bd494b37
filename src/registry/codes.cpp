#include "registry/codes.hpp"

#include <algorithm>
#include <array>

#include "core/error.hpp"

namespace wangge::registry {
namespace {

std::regex compile(const std::string& pattern, const char* what) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    throw std::runtime_error(std::string("invalid code pattern for ") + what + ": " + pattern);
  }
}

[[noreturn]] void reject(std::string_view code, std::string why) {
  throw unprocessable("invalid_code", "code '" + std::string(code) + "' " + why);
}

}  // namespace

CodeRules::CodeRules(const Config& config)
    : m_grid(compile(config.grid_code_pattern, "grid")),
      m_microgrid(compile(config.microgrid_code_pattern, "microgrid")),
      m_grid_pattern(config.grid_code_pattern),
      m_microgrid_pattern(config.microgrid_code_pattern) {}

void CodeRules::validate(std::string_view code, Level level, std::string_view parent_code) const {
  if (!all_digits(code)) reject(code, "must consist of digits only");
  const std::string c(code);
  switch (level) {
    case Level::province:
      if (c.size() != 6 || c.substr(2) != "0000" || c.substr(0, 2) == "00")
        reject(code, "is not a province code (GB/T 2260: 2 digits followed by 0000, e.g. 330000)");
      break;
    case Level::city:
      if (c.size() != 6 || c.substr(4) != "00" || c.substr(2, 2) == "00")
        reject(code, "is not a city code (GB/T 2260: 4 digits followed by 00, e.g. 330500)");
      break;
    case Level::county:
      if (c.size() != 6 || c.substr(4) == "00") reject(code, "is not a county code (GB/T 2260: 6 digits not ending in 00, e.g. 330521)");
      break;
    case Level::township:
      if (c.size() != 9 || c.substr(6) == "000") reject(code, "is not a township code (county code + 3 digits, 001-399, e.g. 330521001)");
      break;
    case Level::village:
      if (c.size() != 12 || c.substr(9) == "000")
        reject(code, "is not a village/community code (township code + 3 digits, e.g. 330521001001)");
      break;
    case Level::grid:
      if (!std::regex_match(c, m_grid)) reject(code, "does not match the grid code pattern " + m_grid_pattern);
      break;
    case Level::microgrid:
      if (!std::regex_match(c, m_microgrid)) reject(code, "does not match the micro-grid code pattern " + m_microgrid_pattern);
      break;
  }
  if (!parent_code.empty()) {
    const std::string prefix = code_prefix(parent_code);
    if (c.size() <= parent_code.size() && level != Level::city && level != Level::county)
      reject(code, "must be longer than its parent's code " + std::string(parent_code));
    if (c.rfind(prefix, 0) != 0 || c == parent_code)
      reject(code, "must start with its parent's code prefix " + prefix + " (parent " + std::string(parent_code) + ")");
  }
}

std::string code_prefix(std::string_view code) {
  std::string c(code);
  if (c.size() == 6 && c.substr(2) == "0000") return c.substr(0, 2);
  if (c.size() == 6 && c.substr(4) == "00") return c.substr(0, 4);
  return c;
}

bool code_within(std::string_view code, std::string_view scope_code) {
  return code.substr(0, code_prefix(scope_code).size()) == code_prefix(scope_code) && code.size() >= scope_code.size();
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace wangge::registry
