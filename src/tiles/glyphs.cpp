#include "tiles/glyphs.hpp"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <protozero/pbf_writer.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <stdexcept>

namespace wangge::tiles {
namespace {

constexpr int kFontSize = 24;  // the size every glyphs PBF is made at
constexpr int kBorder = 3;
constexpr double kRadius = 8;
constexpr double kCutoff = 0.25;
constexpr double kInf = 1e20;

struct LibraryDeleter {
  void operator()(FT_Library l) const noexcept { FT_Done_FreeType(l); }
};
struct FaceDeleter {
  void operator()(FT_Face f) const noexcept { FT_Done_Face(f); }
};
using Library = std::unique_ptr<std::remove_pointer_t<FT_Library>, LibraryDeleter>;
using Face = std::unique_ptr<std::remove_pointer_t<FT_Face>, FaceDeleter>;

// One dimension of Felzenszwalb & Huttenlocher's distance transform (lower envelope of parabolas).
void edt_1d(std::vector<double>& f, std::size_t offset, std::size_t stride, std::size_t n, std::vector<double>& d,
            std::vector<std::size_t>& v, std::vector<double>& z) {
  v[0] = 0;
  z[0] = -kInf;
  z[1] = kInf;
  for (std::size_t q = 0; q < n; ++q) d[q] = f[offset + q * stride];
  auto meet = [&](std::size_t q, std::size_t r) {
    return (d[q] - d[r] + static_cast<double>(q * q) - static_cast<double>(r * r)) /
           (2.0 * static_cast<double>(q) - 2.0 * static_cast<double>(r));
  };
  std::size_t k = 0;
  for (std::size_t q = 1; q < n; ++q) {
    double s = meet(q, v[k]);
    while (s <= z[k]) s = meet(q, v[--k]);  // z[0] = -inf stops this at k = 0
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = kInf;
  }
  k = 0;
  for (std::size_t q = 0; q < n; ++q) {
    while (z[k + 1] < static_cast<double>(q)) ++k;
    const std::size_t r = v[k];
    const double dq = static_cast<double>(q) - static_cast<double>(r);
    f[offset + q * stride] = dq * dq + d[r];
  }
}

void edt_2d(std::vector<double>& grid, std::size_t w, std::size_t h) {
  const std::size_t n = std::max(w, h);
  std::vector<double> d(n), z(n + 1);
  std::vector<std::size_t> v(n);
  for (std::size_t x = 0; x < w; ++x) edt_1d(grid, x, w, h, d, v, z);
  for (std::size_t y = 0; y < h; ++y) edt_1d(grid, y * w, 1, w, d, v, z);
}

}  // namespace

std::vector<unsigned char> signed_distance_field(const std::vector<unsigned char>& coverage, int width, int height, int border) {
  const std::size_t w = static_cast<std::size_t>(width + 2 * border), h = static_cast<std::size_t>(height + 2 * border);
  std::vector<double> outer(w * h, kInf), inner(w * h, 0.0);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double a = coverage[static_cast<std::size_t>(y * width + x)] / 255.0;
      const std::size_t j = static_cast<std::size_t>(y + border) * w + static_cast<std::size_t>(x + border);
      if (a >= 1.0) {
        outer[j] = 0;
        inner[j] = kInf;
      } else if (a > 0) {
        // Anti-aliased edge pixels: the edge lies inside the pixel, at a distance set by coverage.
        const double dist = 0.5 - a;
        outer[j] = dist > 0 ? dist * dist : 0;
        inner[j] = dist < 0 ? dist * dist : 0;
      }
    }
  edt_2d(outer, w, h);
  edt_2d(inner, w, h);
  std::vector<unsigned char> out(w * h);
  for (std::size_t i = 0; i < w * h; ++i) {
    const double dist = std::sqrt(outer[i]) - std::sqrt(inner[i]);
    out[i] = static_cast<unsigned char>(std::clamp(std::lround(255 - 255 * (dist / kRadius + kCutoff)), 0L, 255L));
  }
  return out;
}

struct GlyphServer::Impl {
  Library library;
  std::vector<Face> faces;
  std::mutex mutex;  // FreeType faces are not safe to use from two threads at once
  // The glyph messages of each range, by its start: at most 256 entries. Every font stack name is
  // drawn by the same fonts, so the name (free text from the URL) is no part of the key.
  std::map<unsigned, std::string> cache;
  int ascender = kFontSize;
};

GlyphServer::GlyphServer(const std::vector<std::string>& font_files) : m_impl(std::make_unique<Impl>()) {
  FT_Library lib = nullptr;
  if (FT_Init_FreeType(&lib) != 0) throw std::runtime_error("FreeType could not start");
  m_impl->library.reset(lib);
  for (const auto& file : font_files) {
    FT_Face face = nullptr;
    if (FT_New_Face(lib, file.c_str(), 0, &face) != 0) continue;
    Face owned(face);
    if (FT_Set_Pixel_Sizes(face, 0, kFontSize) != 0) continue;
    m_impl->faces.push_back(std::move(owned));
  }
  if (m_impl->faces.empty()) throw std::runtime_error("no font for map labels could be opened");
  m_impl->ascender = static_cast<int>(m_impl->faces.front()->size->metrics.ascender >> 6);
}

GlyphServer::~GlyphServer() {
  m_impl->faces.clear();  // faces before the library that owns them
}

std::vector<std::string> GlyphServer::default_fonts() {
  std::vector<std::string> found;
  for (const char* f : {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
                        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"})
    if (std::filesystem::exists(f)) found.emplace_back(f);
  return found;
}

std::optional<unsigned> glyph_range_start(const std::string& file) {
  unsigned start = 0, end = 0;
  char tail[8] = {0};
  if (std::sscanf(file.c_str(), "%u-%u%7s", &start, &end, tail) != 3 || std::string(tail) != ".pbf" || start % 256 != 0 ||
      end != start + 255 || start >= 65536)
    return std::nullopt;
  return start;
}

std::string GlyphServer::range(const std::string& fontstack, unsigned start) {
  if (start % 256 != 0 || start >= 65536) throw std::invalid_argument("glyph range start");
  const std::string& fields = glyph_fields(start);
  // The answer names the stack it was asked for: a fontstack message (name, range, the glyphs) in
  // the glyphs message. Protocol buffer fields may simply follow one another.
  std::string stack;
  {
    protozero::pbf_writer w(stack);
    w.add_string(1, fontstack);
    w.add_string(2, std::to_string(start) + "-" + std::to_string(start + 255));
  }
  stack += fields;
  std::string out;
  protozero::pbf_writer(out).add_message(1, stack);
  return out;
}

const std::string& GlyphServer::glyph_fields(unsigned start) {
  std::lock_guard lock(m_impl->mutex);
  if (auto it = m_impl->cache.find(start); it != m_impl->cache.end()) return it->second;

  std::string out;
  {
    protozero::pbf_writer stack(out);
    for (unsigned cp = start; cp < start + 256; ++cp) {
      FT_Face face = nullptr;
      FT_UInt index = 0;
      for (const auto& f : m_impl->faces) {
        index = FT_Get_Char_Index(f.get(), cp);
        if (index != 0) {
          face = f.get();
          break;
        }
      }
      if (!face || FT_Load_Glyph(face, index, FT_LOAD_DEFAULT) != 0 || FT_Render_Glyph(face->glyph, FT_RENDER_MODE_NORMAL) != 0) continue;
      const FT_GlyphSlot slot = face->glyph;
      const int w = static_cast<int>(slot->bitmap.width), h = static_cast<int>(slot->bitmap.rows);
      protozero::pbf_writer glyph(stack, 3);
      glyph.add_uint32(1, cp);
      if (w > 0 && h > 0) {
        std::vector<unsigned char> coverage(static_cast<std::size_t>(w * h));
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x) coverage[static_cast<std::size_t>(y * w + x)] = slot->bitmap.buffer[y * slot->bitmap.pitch + x];
        auto sdf = signed_distance_field(coverage, w, h, kBorder);
        glyph.add_bytes(2, reinterpret_cast<const char*>(sdf.data()), sdf.size());
      }
      glyph.add_uint32(3, static_cast<std::uint32_t>(w));
      glyph.add_uint32(4, static_cast<std::uint32_t>(h));
      glyph.add_sint32(5, slot->bitmap_left);
      // Measured from the line's top as the glyphs protocol expects. One baseline for every font (the
      // first font's ascender), so Latin digits and Chinese characters sit on the same line.
      glyph.add_sint32(6, slot->bitmap_top - m_impl->ascender);
      glyph.add_uint32(7, static_cast<std::uint32_t>(slot->advance.x >> 6));
    }
  }
  return m_impl->cache.emplace(start, std::move(out)).first->second;
}

}  // namespace wangge::tiles
