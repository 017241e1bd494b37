#include "geom/wkb.hpp"

#include <array>

namespace wangge::geom {

std::uint32_t WkbCursor::header() {
  if (m_p == m_end) throw wkb_error("WKB: truncated before a byte order");
  const unsigned char order = *m_p++;
  if (order > 1) throw wkb_error("WKB: byte order " + std::to_string(order) + " is neither 0 (big) nor 1 (little endian)");
  m_swap = (order == 1) != (std::endian::native == std::endian::little);
  return u32();
}

std::uint32_t WkbCursor::count(std::size_t min_item_bytes, const char* what) {
  const std::uint32_t n = u32();
  const auto left = static_cast<std::size_t>(m_end - m_p);
  if (n > left / min_item_bytes)
    throw wkb_error(std::string("WKB: truncated: ") + std::to_string(n) + " " + what + " announced, " + std::to_string(left) +
                    " bytes left");
  return n;
}

void WkbCursor::finish() const {
  if (m_p != m_end) throw wkb_error("WKB: " + std::to_string(m_end - m_p) + " bytes after the geometry");
}

std::uint32_t WkbCursor::u32() {
  if (m_end - m_p < 4) throw wkb_error("WKB: truncated in a 4-byte integer");
  std::uint32_t v;
  std::memcpy(&v, m_p, 4);
  m_p += 4;
  return m_swap ? __builtin_bswap32(v) : v;
}

std::string wkb_from_hex(std::string_view text) {
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') text.remove_prefix(2);
  if (text.size() % 2) throw wkb_error("WKB hex: odd number of digits");
  static constexpr auto kValue = [] {
    std::array<signed char, 256> v{};
    v.fill(-1);
    for (int c = '0'; c <= '9'; ++c) v[c] = static_cast<signed char>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) v[c] = v[c - 'a' + 'A'] = static_cast<signed char>(c - 'a' + 10);
    return v;
  }();
  std::string out(text.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = kValue[static_cast<unsigned char>(text[2 * i])], lo = kValue[static_cast<unsigned char>(text[2 * i + 1])];
    if ((hi | lo) < 0) throw wkb_error("WKB hex: not a hex digit at " + std::to_string(2 * i));
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

WkbPoints read_linestring(std::string_view wkb) {
  WkbCursor in(wkb);
  if (const std::uint32_t type = in.header(); type != 2)
    throw wkb_error("WKB: type " + std::to_string(type) + " is not a 2D LineString (2)");
  WkbPoints points = in.points("line points");
  in.finish();
  return points;
}

}  // namespace wangge::geom
