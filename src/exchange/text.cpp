#include "exchange/text.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace wangge::exchange {
namespace {

constexpr std::size_t kDbfNameBytes = 10;

std::string upper_ascii(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

std::size_t encoded_char_length(std::string_view ch, Encoding enc) {
  if (enc == Encoding::utf8) return ch.size();
  return ch.size() == 1 ? 1 : 2;
}

std::size_t encoded_length(std::string_view utf8, Encoding enc) {
  if (enc == Encoding::utf8) return utf8.size();
  std::size_t n = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    std::size_t len = std::min(utf8_sequence_length(static_cast<unsigned char>(utf8[i])), utf8.size() - i);
    n += encoded_char_length(utf8.substr(i, len), enc);
    i += len;
  }
  return n;
}

std::string truncate_encoded(std::string_view utf8, std::size_t max_bytes, Encoding enc) {
  // GBK never takes more bytes than UTF-8 for the same text: short values need no walk.
  if (utf8.size() <= max_bytes) return std::string(utf8);
  std::size_t used = 0;
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::size_t len = std::min(utf8_sequence_length(static_cast<unsigned char>(utf8[i])), utf8.size() - i);
    std::size_t cost = encoded_char_length(utf8.substr(i, len), enc);
    if (used + cost > max_bytes) break;
    used += cost;
    i += len;
  }
  return std::string(utf8.substr(0, i));
}

std::vector<std::string> dbf_field_names(const std::vector<std::string>& names, Encoding enc) {
  std::vector<std::string> out;
  std::set<std::string> taken;
  for (const auto& full : names) {
    std::string name = truncate_encoded(full, kDbfNameBytes, enc);
    for (int n = 1; taken.count(upper_ascii(name)) > 0; ++n) {
      const std::string suffix = "_" + std::to_string(n);
      name = truncate_encoded(full, kDbfNameBytes - suffix.size(), enc) + suffix;
    }
    taken.insert(upper_ascii(name));
    out.push_back(name);
  }
  return out;
}

}  // namespace wangge::exchange
