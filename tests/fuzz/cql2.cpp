// CQL2 filters as clients send them: the first byte picks the encoding (text or JSON), the rest is
// the filter. What parses must compile or fail with filter_error, and the SQL it compiles to must
// hold exactly one placeholder per parameter and none of the client's text outside them: only
// wangge::Error (a 4xx answer) may come out.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "exchange/cql2.hpp"

using namespace wangge;
using namespace wangge::exchange::cql2;

namespace {

const std::vector<Queryable> kQueryables = {{"code", Type::text, "t.code", ""},
                                            {"name", Type::text, "t.name", ""},
                                            {"population", Type::number, "t.population", ""},
                                            {"valid_from", Type::datetime, "t.valid_from", ""},
                                            {"valid_to", Type::datetime, "t.valid_to", ""},
                                            {"geometry", Type::geometry, "t.geom", ""}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    auto expr = parse(text, data[0] % 2 ? "cql2-json" : "cql2-text");
    const LiteralCrs crs = data[0] % 4 < 2 ? LiteralCrs{} : LiteralCrs{4549, true};
    const Fragment f = compile(*expr, kQueryables, crs);
    std::vector<std::optional<std::string>> params;
    const std::string sql = f.render(params);
    if (params.size() != f.params.size() || f.pieces.size() != params.size() + 1) __builtin_trap();
    // The SQL text holds no quote but those of the fixed 'infinity' literals.
    for (const auto& piece : f.pieces) {
      std::string rest = piece;
      for (const char* fixed : {"'-infinity'", "'infinity'"})
        for (auto at = rest.find(fixed); at != std::string::npos; at = rest.find(fixed)) rest.erase(at, std::string(fixed).size());
      if (rest.find('\'') != std::string::npos || rest.find('"') != std::string::npos || rest.find(';') != std::string::npos)
        __builtin_trap();
    }
  } catch (const Error&) {
  }
  return 0;
}
