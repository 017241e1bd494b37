// The synthetic sample jurisdiction: a deterministic, realistic-looking county (or, at large sizes, a
// province of counties) placed in Zhejiang, built from a generated street network so that every
// area boundary follows streets and every level partitions its parent exactly (shared vertices, no
// gaps, no overlaps). Pure computation: no database, no I/O. The loader (loader.hpp) writes it.
//
// All coordinates are CGCS2000 geographic, EPSG:4490, lon/lat order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wangge::sample {

struct Options {
  std::uint64_t seed = 20260521;
  int grids = 300;             // target number of grids (the result is within ±10 %)
  int micro = 0;               // target number of micro-grids in total (0: none)
  double origin_lon = 119.93;  // south-west corner of the jurisdiction (Deqing, Huzhou)
  double origin_lat = 30.48;
  // A real outline to clip to: a CGCS2000 MULTIPOLYGON WKT (sample/outline.hpp reads one from a
  // GCJ-02 GeoJSON file). Empty: the generated rectangle at the origin above. With an outline the
  // lattice is scaled and placed to cover it, grids are allotted by the land inside it, and every
  // area, street, point and position lies inside it. County mode only, without micro-grids.
  std::string outline_wkt;
  // Activity relative to the moment of loading (worker positions minutes to hours old, cases in
  // every state with deadlines, some overdue), so that a console opened on the sample is live.
  bool live = false;
};

struct Area {
  std::string code;         // per docs/domain.md: 6 county, 9 township, 12 village, 15 grid, 17 micro
  std::string name;         // Chinese
  std::string level;        // province|city|county|township|village|grid|microgrid
  std::string parent_code;  // empty for the root
  std::string wkt;          // MULTIPOLYGON, EPSG:4490
  int households = 0;
  int population = 0;
};

struct Street {
  std::string name;     // Chinese, e.g. 新安路
  std::string highway;  // OSM-like class: primary|secondary|tertiary|residential|footway
  bool oneway = false;
  std::string wkt;  // LINESTRING, EPSG:4490
};

struct Worker {
  std::string name;       // Chinese personal name
  std::string phone;      // 11 digits, starts with 1
  std::string grid_code;  // the grid the worker is assigned to
};

struct Incident {
  double lon = 0, lat = 0;  // EPSG:4490
  std::string category;     // e.g. 市容环境, 街面秩序, 施工管理, 宣传广告, 突发事件
  std::string source;       // hotline|app|worker|video
  std::string status;       // collect|register|dispatch|handle|feedback|closed
  std::string description;  // Chinese
  std::string reporter;
  std::string reported_at;  // RFC 3339, UTC, within the 90 days before 2026-11-01
  // Who handles a dispatched (or later) case: the index in Jurisdiction::workers of its grid's
  // first worker; -1 for a case not dispatched yet.
  long long assignee_worker = -1;
  // The live sample's months before its live part are finished business: each case was cancelled
  // (status "cancelled") or handled to closure (status "closed"), dispatched this long after it was
  // reported, and closed at this percentage of the working time its category allows (above 100:
  // late). The loader turns them into times with the deadline rule. -1: not so (the tests' sample,
  // whose history keeps the states drawn and has no times beyond reported_at).
  long long dispatch_delay_seconds = -1;
  int closed_at_percent_of_limit = -1;
};

// A worker's reported position, `age_seconds` before the moment of loading.
struct Position {
  std::size_t worker = 0;   // index in Jurisdiction::workers
  double lon = 0, lat = 0;  // EPSG:4490
  long long age_seconds = 0;
};

// A case of the live part: times are relative to the moment of loading; the loader computes the
// deadline from the dispatch time in working time.
struct RecentCase {
  Incident incident;                      // reported_at unused
  long long reported_age_seconds = 0;     // reported this long before loading
  long long dispatched_age_seconds = -1;  // dispatched this long before loading; -1: never dispatched
  long long closed_age_seconds = -1;      // closed (or cancelled) this long before loading; -1: open
};

struct Checkpoint {
  std::string grid_code;
  std::string name;         // Chinese, e.g. 出租房 12号
  std::string kind;         // rental_house|shop|key_place|school|hazard
  double lon = 0, lat = 0;  // EPSG:4490
  std::string frequency;    // daily|weekly|monthly
};

struct Jurisdiction {
  std::vector<Area> areas;  // parents always before their children
  std::vector<Street> streets;
  std::vector<Worker> workers;
  std::vector<Incident> incidents;
  std::vector<Checkpoint> checkpoints;
  std::vector<Position> positions;       // Options::live only
  std::vector<RecentCase> recent_cases;  // Options::live only
  // The outline mode's figures: areas generated before clipping and the areas that fell outside.
  long long areas_before_clipping = 0;
  long long grids_cut = 0;  // grids the outline cut (they lost ground at the border)
};

// Same options, same result, byte for byte, on every machine.
Jurisdiction generate(const Options& options);

}  // namespace wangge::sample
