// The locator's immutable snapshot: every area of one moment (grids, micro-grids and the admin
// levels above), two point-in-polygon layers over them, and what an answer needs to print
// (names, the hierarchy, workers). Built once, never changed, shared by readers through a
// shared_ptr that the service swaps atomically.
//
// Semantics (api/locate.md in words; tests/locate pins them down):
//   inside    the point is in the interior of a grid: that grid, and among the grid's own
//             micro-grids the one whose closure holds the point (smallest code on their shared
//             boundaries);
//   boundary  the point is on the boundary of a grid; among all grids whose closure holds the
//             point the one with the smallest code (byte order) is chosen, whatever the load order;
//   nearest   no grid holds the point but an admin area does (a gap, a river): the grid with the
//             nearest edge within Options::nearest_m metres (ties: smallest code), with distance_m;
//   fallback  no grid within that distance: the lowest admin area holding the point (属地兜底;
//             ties on one level: smallest code);
//   outside   no area holds the point.
// "Holds" means ST_Covers: closed polygons, rings read even-odd, so holes and islands are exact.
//
// Patched snapshots: a registry edit touches a few areas, but a full build takes seconds at
// province scale (about 9 s for 85,000 grids + 450,000 micro-grids). patch() makes the next snapshot
// from the previous one in about the time of the change instead: the last full index (the base) is
// kept as it is, the changed areas' current versions go into a small index of their own (the
// delta), and the base's versions of those codes are masked. An answer can only differ from the
// base's where a changed area is or was, or within the nearest-grid distance of it; those places
// are the "dirty boxes" (old and new bounding boxes, widened by Options::nearest_m). A point outside
// them gets the base's answer unchanged (fast grid and all); a point inside is decided from both
// layers at once (masked base polygons left out, delta polygons added) with the same rules, so a
// patched index answers exactly what a full build of the same areas would. Codes then decide ties
// (ids of base and delta do not follow code order). The Locator rebuilds in full in the background
// once edits pause, so dirty boxes do not accumulate.
//
// Lookups go first through the fast grid (locate/fast.hpp: one or two table reads for a point in a
// cell wholly inside one grid, a few exact orientation tests near boundaries) and fall back to the
// general layers for the rest; both give the same answer for every point (tests/locate/fast_test).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/level.hpp"
#include "locate/fast.hpp"
#include "locate/layer.hpp"

namespace wangge::locate {

// Areas keep the project's one level enum (core/level.hpp), one byte each.
using wangge::Level;
using wangge::level_name;
using wangge::parse_level;

// One area as read from the database: code, name, level, parent code, geometry (EPSG:4490 rings).
struct SourceArea {
  std::string code;
  std::string name;
  std::string parent;
  Level level = Level::grid;
  std::vector<Pt> vertices;
  std::vector<std::uint32_t> ring_ends;
};
using Sources = std::vector<std::shared_ptr<const SourceArea>>;

enum class Method : std::uint8_t { inside, boundary, nearest, fallback, outside };
const char* method_name(Method method);

struct Location {
  Method method = Method::outside;
  std::int32_t grid = -1;  // area indexes; -1 for none
  std::int32_t microgrid = -1;
  std::int32_t admin = -1;  // fallback only
  double distance_m = 0;    // nearest only
};

struct Options {
  double nearest_m = 50;        // how far a point in a gap may be from the grid it is given
  double cells_per_edge = 1.0;  // index resolution
  bool fast = true;             // build the fast grid (FastIndex) in front of the general index
  FastIndex::Params fast_params;
};

// A stable 32-bit hash of an area code (FNV-1a). The index keeps it per area, so an answer asks
// the worker directory without hashing the code again.
inline std::uint32_t code_hash(std::string_view code) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : code) h = (h ^ c) * 16777619u;
  return h;
}

// Workers assigned to grids and micro-grids: per area code, the JSON objects of its workers
// ({"id","name","area"}, comma-separated, no brackets). Immutable once built.
class WorkerDirectory {
 public:
  class Builder {
   public:
    void add(std::string_view area_code, long long id, std::string_view name);
    WorkerDirectory build() &&;

   private:
    std::map<std::string, std::string, std::less<>> m_by_area;
    std::size_t m_count = 0;
  };
  // The workers of an area (empty when it has none); `hash` is code_hash(area_code).
  std::string_view find(std::string_view area_code, std::uint32_t hash) const;
  std::string_view find(std::string_view area_code) const { return find(area_code, code_hash(area_code)); }
  std::size_t size() const { return m_count; }

 private:
  // Open addressing into one text arena that holds each area's code followed by its workers'
  // JSON: a lookup reads one slot and one place in the text (a hash map of strings read five).
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t offset = 0;  // the code in m_text; the JSON follows it
    std::uint32_t json_length = 0;
    std::uint32_t code_length = 0;  // 0: an empty slot (codes are never empty)
  };
  HugeVector<char> m_text;
  HugeVector<Slot> m_slots;  // a power of two, at most half full
  std::size_t m_count = 0;
};

class LocateIndex {
 public:
  struct Area {
    std::string code;
    std::string name;
    Level level;
    std::int32_t parent;  // index, -1 when the parent is not a current area
  };
  struct Stats {
    double build_seconds = 0;
    std::size_t areas = 0, grids = 0, microgrids = 0, admin = 0;
    std::size_t memory_bytes = 0;
    std::string layout;       // cells/entries/edge references of the grid layer
    std::string fast_layout;  // top cells/blocks/direct cells/leaves/slow cells/edge references
    double fast_build_seconds = 0;
  };

  // Areas are numbered in code order, so "smallest code" is "smallest index".
  static std::shared_ptr<const LocateIndex> build(Sources sources, const Options& options);
  // The snapshot after the areas `codes` changed (edited, added or retired), made from `before`
  // without a full build (see "Patched snapshots" above). `sources` is the whole current list,
  // sorted by code (apply_changes gives it). Returns null when the change is too big to patch
  // (more than kMaxPatchedCodes areas since the last full build): build() is then the way.
  static std::shared_ptr<const LocateIndex> patch(const std::shared_ptr<const LocateIndex>& before, const std::vector<std::string>& codes,
                                                  Sources sources);
  static constexpr std::size_t kMaxPatchedCodes = 20000;
  // True for a patched snapshot; how many codes it overrides.
  bool patched() const { return m_base != nullptr; }
  std::size_t patched_codes() const { return m_patched_codes.size(); }

  Location locate(Pt lonlat) const;
  // locate() for n points, out[i] for points[i]: the same answers, faster for many points (the
  // table reads of the next few points are prefetched while one point is decided).
  void locate_many(const Pt* points, std::size_t n, Location* out) const;
  // The same answer without the fast grid (tests compare the two).
  Location locate_general(Pt lonlat) const;
  // The answer when the admin areas holding the point are known beforehand (`admins`, area
  // indexes), for an index of a few areas read around the point whose admin areas come without
  // their outlines (locate/past.hpp): the answer locate_general() gives when those areas hold the
  // point. A full index only (not patched).
  Location locate_given_admins(Pt lonlat, const std::int32_t* admins, std::size_t n) const;
  // The per-point answer object of the API. `point` is echoed in EPSG:4490.
  void append_json(const Location& loc, Pt point, const WorkerDirectory* workers, std::string& out) const;

  // Area `index` of an answer (of a patched snapshot: base areas first, then the delta's).
  const Area& area(std::int32_t index) const {
    if (!m_base) return m_areas[static_cast<std::size_t>(index)];
    return index < m_base_n ? m_base->m_areas[static_cast<std::size_t>(index)]
                            : m_delta->m_areas[static_cast<std::size_t>(index - m_base_n)];
  }
  // The index of an area's parent, -1 for none (use this, not area().parent: a patched snapshot
  // may have replaced the parent).
  std::int32_t parent_of(std::int32_t index) const;
  // An area as answers print it: a hierarchy item {"level":...,"code":...,"name":...}, and a
  // reference {"code":...,"name":...}.
  std::string_view item_json(std::int32_t index) const;
  void append_ref_json(std::int32_t index, std::string& out) const;
  const Sources& sources() const { return m_sources; }
  const Stats& stats() const { return m_stats; }
  const Options& options() const { return m_options; }
  const FastIndex& fast() const { return m_base ? m_base->m_fast : m_fast; }

 private:
  Sources m_sources;  // sorted by code; kept so a change rebuilds without reading everything again
  std::vector<Area> m_areas;
  std::vector<std::int32_t> m_parents;  // m_areas[i].parent, compact for the hot path
  // What an answer prints, in one arena on huge pages rather than strings all over the heap: an
  // answer reads about ten areas' texts at random, and their cache and TLB misses were most of
  // the cost of writing it. Per area: the code, then the item JSON; the reference JSON is "{"
  // followed by the item after its level member.
  struct Text {
    std::uint32_t offset = 0;  // in m_text
    std::uint32_t hash = 0;    // code_hash(code)
    std::uint16_t code_length = 0, item_length = 0, ref_skip = 0;
  };
  HugeVector<char> m_text;
  HugeVector<Text> m_text_at;  // per area
  // An area's text record, wherever it is held (a patched snapshot's base or delta): `text`
  // points at its code, followed by its item JSON.
  struct TextRef {
    const char* text;
    const Text& at;
  };
  TextRef text_of(std::int32_t index) const {
    const LocateIndex* in = !m_base ? this : index < m_base_n ? m_base.get() : m_delta.get();
    const auto k = static_cast<std::size_t>(!m_base || index < m_base_n ? index : index - m_base_n);
    const Text& t = in->m_text_at[k];
    return {in->m_text.data() + t.offset, t};
  }
  Layer m_fine;      // group 0: grids, group 1: micro-grids
  Layer m_admin;     // every admin level
  FastIndex m_fast;  // answers most points; defers to the layers for the rest

  // The answer for a point that no grid covers (nearest, fallback, outside).
  Location locate_uncovered(Pt p) const;
  template <typename Admins, typename GridEdges, typename CodeLess>
  Location uncovered(Pt p, Admins&& admins, GridEdges&& grid_edges, CodeLess&& code_less) const;
  // The answer for a point whose fast-grid code and cell are known.
  Location locate_in(Pt p, std::uint64_t code, const FastIndex::Cell& cell) const;
  Options m_options;
  Stats m_stats;

  // Patched snapshots only (m_base is null for a full index).
  struct Box {
    double x0, y0, x1, y1;
  };
  bool in_dirty(Pt p) const;
  Location locate_patched(Pt p) const;
  std::shared_ptr<const LocateIndex> m_base;               // the last full index
  std::shared_ptr<const LocateIndex> m_delta;              // current versions of m_patched_codes (no fast grid)
  std::int32_t m_base_n = 0;                               // base areas; delta area j answers as m_base_n + j
  std::vector<std::string> m_patched_codes;                // sorted
  std::vector<std::uint8_t> m_masked;                      // per base area: 1 when its code is patched
  std::unordered_map<std::int32_t, std::int32_t> m_remap;  // masked base area -> its delta version, or -1
  std::vector<std::int32_t> m_delta_parents;               // per delta area, the parent's answer index
  std::vector<Box> m_dirty;
  Box m_dirty_all{0, 0, -1, -1};  // the union of m_dirty
  // A coarse grid over m_dirty_all naming the boxes that overlap each cell, so that in_dirty
  // reads a few boxes however many there are (empty when there are few: they are read in turn).
  int m_dirty_n = 0;                         // cells per side
  double m_dirty_kx = 0, m_dirty_ky = 0;     // cells per degree
  std::vector<std::uint32_t> m_dirty_start;  // per cell, into m_dirty_boxes (CSR)
  std::vector<std::uint32_t> m_dirty_boxes;
  int dirty_cell(double v, double origin, double k) const;
  void index_dirty_boxes();
};

// Applies changed areas to a sorted source list: the areas with codes in `codes` are replaced by
// `changed` (codes without a row in `changed` were retired and drop out). Returns a new sorted list
// that shares the unchanged areas; linear in the list (a merge, no sort of the whole list).
Sources apply_changes(const Sources& before, const std::vector<std::string>& codes, Sources changed);

// Half-width and half-height in degrees of a box around p that holds every point within
// `metres` of p (with slack): where a nearest grid can be.
Pt reach_degrees(Pt p, double metres);

// Metres between p and the segment a-b on the CGCS2000 ellipsoid's local tangent plane at p
// (good to 0.1 % within a few kilometres).
double distance_m(Pt p, Pt a, Pt b);

}  // namespace wangge::locate
