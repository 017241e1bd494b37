// The synthetic sample jurisdiction: a deterministic, realistic-looking county (or, at large sizes, a
// province of counties) placed in Zhejiang, built from a generated street network so that every
// area boundary follows streets and every level partitions its parent exactly (shared vertices, no
// gaps, no overlaps). Pure computation: no database, no I/O. The loader (loader.hpp) writes it.
//
// All coordinates are CGCS2000 geographic, EPSG:4490, lon/lat order.
#pragma once

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
};

// Same options, same result, byte for byte, on every machine.
Jurisdiction generate(const Options& options);

}  // namespace wangge::sample
