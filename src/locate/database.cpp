#include "locate/database.hpp"

#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "registry/queries.hpp"

namespace wangge::locate {
namespace {

class WkbReader {
 public:
  explicit WkbReader(std::string_view data) : m_data(data) {}
  std::uint8_t byte() {
    need(1);
    return static_cast<std::uint8_t>(m_data[m_pos++]);
  }
  std::uint32_t u32(bool little) {
    need(4);
    std::uint8_t b[4];
    std::memcpy(b, m_data.data() + m_pos, 4);
    m_pos += 4;
    if (!little) std::swap(b[0], b[3]), std::swap(b[1], b[2]);
    std::uint32_t v;
    std::memcpy(&v, b, 4);
    return v;
  }
  double f64(bool little) {
    need(8);
    std::uint8_t b[8];
    std::memcpy(b, m_data.data() + m_pos, 8);
    m_pos += 8;
    if (!little)
      for (int i = 0; i < 4; ++i) std::swap(b[i], b[7 - i]);
    double v;
    std::memcpy(&v, b, 8);
    return v;
  }

 private:
  void need(std::size_t n) const {
    if (m_pos + n > m_data.size()) throw std::runtime_error("truncated WKB");
  }
  std::string_view m_data;
  std::size_t m_pos = 0;
};

void read_polygon(WkbReader& r, bool little, SourceArea& out) {
  const std::uint32_t rings = r.u32(little);
  for (std::uint32_t i = 0; i < rings; ++i) {
    const std::uint32_t n = r.u32(little);
    if (n > 100000000) throw std::runtime_error("implausible WKB ring size");
    for (std::uint32_t k = 0; k < n; ++k) {
      const double x = r.f64(little), y = r.f64(little);
      out.vertices.push_back({x, y});
    }
    if (n > 0) out.ring_ends.push_back(static_cast<std::uint32_t>(out.vertices.size()));
  }
}

std::string unhex(std::string_view text) {
  // bytea in text format: \x followed by hex digits.
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') throw std::runtime_error("unexpected bytea format");
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("bad hex in bytea");
  };
  std::string out((text.size() - 2) / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(val(text[2 + 2 * i]) * 16 + val(text[3 + 2 * i]));
  return out;
}

}  // namespace

void parse_wkb(std::string_view wkb, SourceArea& out) {
  WkbReader r(wkb);
  const bool little = r.byte() == 1;
  const std::uint32_t type = r.u32(little);
  if (type == 3) {
    read_polygon(r, little, out);
  } else if (type == 6) {
    const std::uint32_t n = r.u32(little);
    for (std::uint32_t i = 0; i < n; ++i) {
      const bool l = r.byte() == 1;
      if (r.u32(l) != 3) throw std::runtime_error("a MultiPolygon member is not a Polygon");
      read_polygon(r, l, out);
    }
  } else {
    throw std::runtime_error("WKB type " + std::to_string(type) + " is not a (Multi)Polygon");
  }
}

Sources read_areas(pg::Connection& conn, std::optional<Micros> at, const std::vector<std::string>* codes) {
  auto r = registry::read_shapes(conn, at, codes);
  Sources out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    auto a = std::make_shared<SourceArea>();
    a->code = r.str(i, 0);
    a->name = r.str(i, 1);
    auto level = level_of(r.get(i, 2));
    if (!level) throw std::runtime_error("unknown area level in the registry");
    a->level = *level;
    a->parent = r.str(i, 3);
    parse_wkb(unhex(r.get(i, 4)), *a);
    out.push_back(std::move(a));
  }
  return out;
}

WorkerDirectory read_workers(pg::Connection& conn, std::optional<Micros> at) {
  std::string sql =
      "SELECT a.grid_code, w.id, w.name FROM worker_assignments a JOIN workers w ON w.id = a.worker_id WHERE ";
  std::vector<pg::Param> params;
  if (at) {
    sql += "a.assigned_at <= $1::timestamptz AND (a.unassigned_at IS NULL OR a.unassigned_at > $1::timestamptz)";
    params.push_back(format_rfc3339(*at));
  } else {
    sql += "a.unassigned_at IS NULL";
  }
  sql += " ORDER BY a.grid_code, w.id";
  auto r = conn.exec("locate.workers", sql, params);
  WorkerDirectory::Builder dir;
  for (int i = 0; i < r.rows(); ++i) dir.add(r.str(i, 0), r.integer(i, 1), r.get(i, 2));
  return std::move(dir).build();
}

std::string workers_fingerprint(pg::Connection& conn) {
  auto r = conn.exec("locate.workers_fingerprint",
                     "SELECT coalesce(max(id), 0), count(*) FILTER (WHERE unassigned_at IS NULL) FROM worker_assignments");
  return r.str(0, 0) + "/" + r.str(0, 1);
}

}  // namespace wangge::locate
