// Map label glyphs (the MapLibre "glyphs" protocol): signed distance fields of 256-code-point
// ranges, rendered from system fonts with FreeType, so the map page needs no font CDN. The first
// font that has a character draws it (DejaVu for Latin, Droid Sans Fallback for Chinese).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace wangge::tiles {

class GlyphServer {
 public:
  // Fonts in order of preference; missing files are skipped. Throws when none can be opened.
  explicit GlyphServer(const std::vector<std::string>& font_files);
  ~GlyphServer();
  GlyphServer(const GlyphServer&) = delete;
  GlyphServer& operator=(const GlyphServer&) = delete;

  // The glyphs PBF for code points [start, start + 255]; `start` must be a multiple of 256 below
  // 65536. The glyphs are cached after the first request, whatever the stack is called.
  std::string range(const std::string& fontstack, unsigned start);
  static std::vector<std::string> default_fonts();

 private:
  // The encoded glyph messages of one range (cached; entries are never removed, so the reference
  // stays valid).
  const std::string& glyph_fields(unsigned start);
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// The start of the range a glyph file name asks for ("{start}-{start+255}.pbf", start a multiple of
// 256 below 65536), or nothing for any other name.
std::optional<unsigned> glyph_range_start(const std::string& file);

// Euclidean distance transform of a coverage bitmap into the 8-bit SDF the glyphs protocol uses
// (3-pixel border, radius 8, cutoff 0.25). Exposed for tests.
std::vector<unsigned char> signed_distance_field(const std::vector<unsigned char>& coverage, int width, int height, int border);

}  // namespace wangge::tiles
