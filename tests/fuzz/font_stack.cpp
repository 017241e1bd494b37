// Glyph requests /fonts/{stack}/{range}: the path decoded and split as the server does, the range
// file name parsed (tiles::glyph_range_start) and the answer encoded with the stack name, which is
// free text from the URL. A parsed range is always one the glyph server accepts, and the answer
// names exactly the stack and the range asked for.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <protozero/pbf_reader.hpp>
#include <string>
#include <vector>

#include "http/params.hpp"
#include "tiles/glyphs.hpp"

namespace {

// Latin glyphs from one font only: range 0 is drawn once (then cached) and quickly, so every other
// input costs only the parse and the encoding. Without the font the encoding is not fuzzed.
wangge::tiles::GlyphServer* glyphs() {
  static const std::unique_ptr<wangge::tiles::GlyphServer> server = []() -> std::unique_ptr<wangge::tiles::GlyphServer> {
    const std::string font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    if (!std::filesystem::exists(font)) return nullptr;
    return std::make_unique<wangge::tiles::GlyphServer>(std::vector<std::string>{font});
  }();
  return server.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  // As the server builds a request: the path percent-decoded, then split on '/'.
  const std::string path = wangge::http::percent_decode("/fonts/" + std::string(target.substr(0, target.find('?'))), false);
  std::vector<std::string> segments;
  for (std::size_t i = 0; i < path.size();) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) segments.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  if (segments.size() != 3) return 0;  // the route table answers 404
  const std::string& stack = segments[1];
  const auto start = wangge::tiles::glyph_range_start(segments[2]);
  if (!start) return 0;
  if (*start % 256 != 0 || *start >= 65536) __builtin_trap();
  auto* server = glyphs();
  if (!server) return 0;
  // Only range 0 is drawn (the others would each cost a rendering); its name is the one asked for.
  const std::string answer = server->range(stack, 0);
  protozero::pbf_reader glyphs_message(answer);
  if (!glyphs_message.next(1)) __builtin_trap();
  protozero::pbf_reader fontstack = glyphs_message.get_message();
  bool named = false, ranged = false;
  while (fontstack.next()) {
    if (fontstack.tag() == 1) {
      named = fontstack.get_string() == stack;
    } else if (fontstack.tag() == 2) {
      ranged = fontstack.get_string() == "0-255";
    } else {
      fontstack.skip();
    }
  }
  if (!named || !ranged) __builtin_trap();
  return 0;
}
