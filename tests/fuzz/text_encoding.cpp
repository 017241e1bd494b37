// Text written to dBase files (exchange/text.hpp): any bytes, cut to a byte budget in UTF-8 or GBK.
// The cut is a prefix that fits; field names are unique and fit in 10 bytes. Also the UTF-8 check
// that decides what text may reach the database.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "exchange/text.hpp"
#include "http/params.hpp"

using namespace wangge::exchange;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Encoding enc = data[0] & 1 ? Encoding::gbk : Encoding::utf8;
  const std::size_t budget = data[1];
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);

  (void)wangge::http::valid_utf8(text);
  (void)encoded_length(text, enc);
  const std::string cut = truncate_encoded(text, budget, enc);
  if (text.substr(0, cut.size()) != cut || encoded_length(cut, enc) > budget) __builtin_trap();

  // Field names: the text split on newlines.
  std::vector<std::string> names;
  for (std::size_t at = 0; at <= text.size() && names.size() < 300;) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    names.emplace_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  const auto fields = dbf_field_names(names, enc);
  if (fields.size() != names.size()) __builtin_trap();
  std::set<std::string> seen;
  for (auto f : fields) {
    if (encoded_length(f, enc) > 10) __builtin_trap();
    std::transform(f.begin(), f.end(), f.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!seen.insert(f).second) __builtin_trap();
  }
  return 0;
}
