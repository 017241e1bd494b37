// The synthetic jurisdiction: determinism, code rules, and exact partitions checked with GEOS.
#include <geos_c.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sample/generator.hpp"

namespace {

using wangge::sample::Area;
using wangge::sample::generate;
using wangge::sample::Jurisdiction;
using wangge::sample::Options;

// ---------------------------------------------------------------------------------------------------
// Fixtures shared by the tests (generation is cheap, but the GEOS checks reuse them).

const Jurisdiction& default_sample() {
  static const Jurisdiction j = generate(Options{});
  return j;
}

Options micro_options() {
  Options o;
  o.grids = 80;
  o.micro = 440;
  return o;
}

const Jurisdiction& micro_sample() {
  static const Jurisdiction j = generate(micro_options());
  return j;
}

const Jurisdiction& province_sample() {
  static const Jurisdiction j = [] {
    Options o;
    o.grids = 6000;
    return generate(o);
  }();
  return j;
}

// Every field, with doubles in hex so that "identical" means bit-identical.
std::string fingerprint(const Jurisdiction& j) {
  std::string out;
  char buf[64];
  auto add_double = [&](double v) {
    std::snprintf(buf, sizeof buf, "%a|", v);
    out += buf;
  };
  for (const auto& a : j.areas)
    out += a.code + '|' + a.name + '|' + a.level + '|' + a.parent_code + '|' + a.wkt + '|' + std::to_string(a.households) + '|' +
           std::to_string(a.population) + '\n';
  for (const auto& s : j.streets) out += s.name + '|' + s.highway + '|' + (s.oneway ? "1|" : "0|") + s.wkt + '\n';
  for (const auto& w : j.workers) out += w.name + '|' + w.phone + '|' + w.grid_code + '\n';
  for (const auto& i : j.incidents) {
    add_double(i.lon);
    add_double(i.lat);
    out += i.category + '|' + i.source + '|' + i.status + '|' + i.description + '|' + i.reporter + '|' + i.reported_at + '\n';
  }
  for (const auto& c : j.checkpoints) {
    add_double(c.lon);
    add_double(c.lat);
    out += c.grid_code + '|' + c.name + '|' + c.kind + '|' + c.frequency + '\n';
  }
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::size_t code_length(std::string_view level) {
  if (level == "township") return 9;
  if (level == "village") return 12;
  if (level == "grid") return 15;
  if (level == "microgrid") return 17;
  return 6;
}

std::string_view child_level(std::string_view level) {
  if (level == "province") return "city";
  if (level == "city") return "county";
  if (level == "county") return "township";
  if (level == "township") return "village";
  if (level == "village") return "grid";
  if (level == "grid") return "microgrid";
  return "";
}

std::size_t significant_prefix(const Area& parent) {
  if (parent.level == "province") return 2;
  if (parent.level == "city") return 4;
  return parent.code.size();
}

int count_level(const Jurisdiction& j, std::string_view level) {
  return static_cast<int>(std::count_if(j.areas.begin(), j.areas.end(), [&](const Area& a) { return a.level == level; }));
}

std::map<std::string, std::vector<const Area*>> children_by_parent(const Jurisdiction& j) {
  std::map<std::string, std::vector<const Area*>> children;
  for (const Area& a : j.areas)
    if (!a.parent_code.empty()) children[a.parent_code].push_back(&a);
  return children;
}

// The code, level, numbering and count rules of generator.hpp / docs/domain.md.
void expect_code_rules(const Jurisdiction& j) {
  std::map<std::string, std::size_t> position;
  int roots = 0;
  for (std::size_t n = 0; n < j.areas.size(); ++n) {
    const Area& a = j.areas[n];
    EXPECT_TRUE(position.emplace(a.code, n).second) << "duplicate code " << a.code;
    EXPECT_EQ(a.code.size(), code_length(a.level)) << a.code << " " << a.level;
    EXPECT_TRUE(all_digits(a.code)) << a.code;
    EXPECT_FALSE(a.name.empty()) << a.code;
    if (a.parent_code.empty()) {
      ++roots;
      continue;
    }
    const auto parent_at = position.find(a.parent_code);
    ASSERT_NE(parent_at, position.end()) << a.code << ": parent missing or listed after its child";
    const Area& parent = j.areas[parent_at->second];
    EXPECT_EQ(a.level, child_level(parent.level)) << a.code;
    EXPECT_EQ(a.code.compare(0, significant_prefix(parent), parent.code, 0, significant_prefix(parent)), 0)
        << a.code << " under " << parent.code;
  }
  EXPECT_EQ(roots, 1);

  for (const auto& [parent_code, children] : children_by_parent(j)) {
    const std::string_view level = children.front()->level;
    std::set<std::string> names;
    std::vector<int> numbers, offices, towns;
    for (const Area* c : children) {
      EXPECT_TRUE(names.insert(c->name).second) << "duplicate name " << c->name << " under " << parent_code;
      if (level == "city")
        numbers.push_back(std::stoi(c->code.substr(2, 2)));
      else if (level == "county")
        numbers.push_back(std::stoi(c->code.substr(4, 2)));
      else if (level == "township")
        (c->code[6] == '0' ? offices : towns).push_back(std::stoi(c->code.substr(6)));
      else
        numbers.push_back(std::stoi(c->code.substr(parent_code.size())));
      if (level == "township") {
        EXPECT_TRUE(c->code[6] == '0' ? ends_with(c->name, "街道") : ends_with(c->name, "镇")) << c->code << c->name;
      }
      if (level == "city") {
        EXPECT_EQ(c->code.substr(4), "00");
      }
      if (level == "village") {
        EXPECT_TRUE(ends_with(c->name, "村") || ends_with(c->name, "社区")) << c->name;
      }
      if (level == "grid") {
        EXPECT_TRUE(ends_with(c->name, "网格")) << c->name;
      }
    }
    std::sort(numbers.begin(), numbers.end());
    for (std::size_t n = 0; n < numbers.size(); ++n)
      EXPECT_EQ(numbers[n], static_cast<int>(n) + 1) << "sibling numbering under " << parent_code;
    // Townships: street offices 0xx and towns 1xx (in Deqing, a subset of the real codes).
    for (int t : towns) EXPECT_TRUE(t >= 101 && t <= 199) << parent_code << " town " << t;
    for (int o : offices) EXPECT_TRUE(o >= 1 && o <= 99) << parent_code << " office " << o;
  }
}

// Households and population: realistic per grid, summed upwards.
void expect_people_sum_up(const Jurisdiction& j) {
  const auto children = children_by_parent(j);
  for (const Area& a : j.areas) {
    if (a.level == "grid") {
      EXPECT_GE(a.households, 300) << a.code;
      EXPECT_LE(a.households, 500) << a.code;
      EXPECT_GE(a.population, a.households * 5 / 2) << a.code;
      EXPECT_LE(a.population, a.households * 16 / 5) << a.code;
    }
    const auto found = children.find(a.code);
    if (found == children.end()) continue;
    long long households = 0, population = 0;
    for (const Area* c : found->second) {
      households += c->households;
      population += c->population;
    }
    EXPECT_EQ(households, a.households) << a.code;
    EXPECT_EQ(population, a.population) << a.code;
  }
}

// ---------------------------------------------------------------------------------------------------
// GEOS, reentrant API, every handle owned.

void geos_error(const char* fmt, ...) {
  char message[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  ADD_FAILURE() << "GEOS: " << message;
}

class Geos {
 public:
  Geos() : m_ctx(GEOS_init_r()) {
    GEOSContext_setErrorHandler_r(m_ctx, geos_error);
    m_reader = GEOSWKTReader_create_r(m_ctx);
  }
  ~Geos() {
    GEOSWKTReader_destroy_r(m_ctx, m_reader);
    GEOS_finish_r(m_ctx);
  }
  Geos(const Geos&) = delete;
  Geos& operator=(const Geos&) = delete;

  struct Deleter {
    GEOSContextHandle_t ctx;
    void operator()(GEOSGeometry* g) const {
      if (g) GEOSGeom_destroy_r(ctx, g);
    }
  };
  using Geom = std::unique_ptr<GEOSGeometry, Deleter>;

  GEOSContextHandle_t ctx() const { return m_ctx; }
  Geom own(GEOSGeometry* g) const { return Geom(g, Deleter{m_ctx}); }
  Geom read(const std::string& wkt) const { return own(GEOSWKTReader_read_r(m_ctx, m_reader, wkt.c_str())); }
  Geom point(double x, double y) const { return own(GEOSGeom_createPointFromXY_r(m_ctx, x, y)); }

  double area(const GEOSGeometry* g) const {
    double a = 0;
    EXPECT_EQ(GEOSArea_r(m_ctx, g, &a), 1);
    return a;
  }

  struct Box {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    bool overlaps(const Box& o) const { return x0 <= o.x1 && o.x0 <= x1 && y0 <= o.y1 && o.y0 <= y1; }
    bool holds(double x, double y) const { return x0 <= x && x <= x1 && y0 <= y && y <= y1; }
  };
  Box box(const GEOSGeometry* g) const {
    Box b;
    GEOSGeom_getXMin_r(m_ctx, g, &b.x0);
    GEOSGeom_getYMin_r(m_ctx, g, &b.y0);
    GEOSGeom_getXMax_r(m_ctx, g, &b.x1);
    GEOSGeom_getYMax_r(m_ctx, g, &b.y1);
    return b;
  }

  // One polygon, exterior ring counter-clockwise and closed, no holes.
  void expect_ccw_single_ring(const GEOSGeometry* g, const std::string& code) const {
    ASSERT_EQ(GEOSGetNumGeometries_r(m_ctx, g), 1) << code;
    const GEOSGeometry* polygon = GEOSGetGeometryN_r(m_ctx, g, 0);
    EXPECT_EQ(GEOSGetNumInteriorRings_r(m_ctx, polygon), 0) << code;
    const GEOSGeometry* ring = GEOSGetExteriorRing_r(m_ctx, polygon);
    char ccw = 0;
    ASSERT_EQ(GEOSCoordSeq_isCCW_r(m_ctx, GEOSGeom_getCoordSeq_r(m_ctx, ring), &ccw), 1) << code;
    EXPECT_EQ(ccw, 1) << code;
  }

 private:
  GEOSContextHandle_t m_ctx;
  GEOSWKTReader* m_reader;
};

// Parses every area, checks validity and orientation, and that every parent whose children are at
// `levels` is partitioned exactly by them.
void expect_partitions(const Jurisdiction& j, const std::set<std::string>& levels, bool single_rings = true) {
  Geos geos;
  std::map<std::string, Geos::Geom> shapes;
  for (const Area& a : j.areas) {
    Geos::Geom g = geos.read(a.wkt);
    ASSERT_TRUE(g) << a.code;
    EXPECT_EQ(GEOSisValid_r(geos.ctx(), g.get()), 1) << a.code;
    if (single_rings) geos.expect_ccw_single_ring(g.get(), a.code);
    shapes.emplace(a.code, std::move(g));
  }
  for (const auto& [parent_code, children] : children_by_parent(j)) {
    if (!levels.count(children.front()->level)) continue;
    const GEOSGeometry* parent = shapes.at(parent_code).get();
    const double parent_area = geos.area(parent);
    const double tolerance = parent_area * 1e-9;

    double sum = 0;
    std::vector<GEOSGeometry*> clones;
    std::vector<Geos::Box> boxes;
    for (const Area* c : children) {
      const GEOSGeometry* child = shapes.at(c->code).get();
      sum += geos.area(child);
      clones.push_back(GEOSGeom_clone_r(geos.ctx(), child));
      boxes.push_back(geos.box(child));
    }
    EXPECT_NEAR(sum, parent_area, tolerance) << "children's areas under " << parent_code;

    // The collection takes ownership of the clones.
    Geos::Geom collection =
        geos.own(GEOSGeom_createCollection_r(geos.ctx(), GEOS_GEOMETRYCOLLECTION, clones.data(), static_cast<unsigned>(clones.size())));
    Geos::Geom unioned = geos.own(GEOSUnaryUnion_r(geos.ctx(), collection.get()));
    ASSERT_TRUE(unioned) << parent_code;
    Geos::Geom difference = geos.own(GEOSSymDifference_r(geos.ctx(), unioned.get(), parent));
    ASSERT_TRUE(difference) << parent_code;
    EXPECT_LE(geos.area(difference.get()), tolerance) << "union of children differs from " << parent_code;

    for (std::size_t a = 0; a < children.size(); ++a) {
      for (std::size_t b = a + 1; b < children.size(); ++b) {
        if (!boxes[a].overlaps(boxes[b])) continue;
        Geos::Geom overlap =
            geos.own(GEOSIntersection_r(geos.ctx(), shapes.at(children[a]->code).get(), shapes.at(children[b]->code).get()));
        ASSERT_TRUE(overlap);
        EXPECT_LE(geos.area(overlap.get()), tolerance) << children[a]->code << " overlaps " << children[b]->code;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------

TEST(SampleGenerator, SameOptionsGiveIdenticalOutput) {
  EXPECT_EQ(fingerprint(generate(Options{})), fingerprint(default_sample()));
  EXPECT_EQ(fingerprint(generate(micro_options())), fingerprint(micro_sample()));
  Options other;
  other.seed += 1;
  const Jurisdiction different = generate(other);
  EXPECT_NE(fingerprint(different), fingerprint(default_sample()));
  // The seed moves the boundaries, not only the names.
  EXPECT_NE(different.areas[1].wkt, default_sample().areas[1].wkt);
}

TEST(SampleGenerator, DefaultIsDeqingCounty) {
  const Jurisdiction& j = default_sample();
  ASSERT_FALSE(j.areas.empty());
  EXPECT_EQ(j.areas[0].code, "330521");
  EXPECT_EQ(j.areas[0].name, "德清县");
  EXPECT_EQ(j.areas[0].level, "county");
  EXPECT_TRUE(j.areas[0].parent_code.empty());
  const std::map<std::string, std::string> real = {{"330521001", "武康街道"},   {"330521002", "舞阳街道"}, {"330521003", "阜溪街道"},
                                                   {"330521004", "下渚湖街道"}, {"330521005", "康乾街道"}, {"330521101", "乾元镇"},
                                                   {"330521102", "新市镇"},     {"330521103", "洛舍镇"},   {"330521104", "钟管镇"},
                                                   {"330521110", "雷甸镇"},     {"330521113", "禹越镇"},   {"330521114", "新安镇"},
                                                   {"330521115", "莫干山镇"}};
  const int townships = count_level(j, "township");
  EXPECT_GE(townships, 8);
  EXPECT_LE(townships, 13);
  for (const Area& a : j.areas) {
    if (a.level != "township") continue;
    const auto found = real.find(a.code);
    ASSERT_NE(found, real.end()) << a.code;
    EXPECT_EQ(found->second, a.name);
  }
  const int villages = count_level(j, "village");
  EXPECT_GE(villages, townships * 5);
  EXPECT_LE(villages, townships * 20);
}

TEST(SampleGenerator, CodesNamesAndPeopleFollowTheRules) {
  for (const Jurisdiction* j : {&default_sample(), &micro_sample(), &province_sample()}) {
    expect_code_rules(*j);
    expect_people_sum_up(*j);
  }
}

TEST(SampleGenerator, GridTargetIsRespected) {
  for (int target : {300, 2000, 6000, 20000}) {
    Options o;
    o.grids = target;
    const Jurisdiction j = target == 300 ? default_sample() : target == 6000 ? province_sample() : generate(o);
    const int grids = count_level(j, "grid");
    EXPECT_GE(grids, target * 9 / 10) << target;
    EXPECT_LE(grids, target * 11 / 10) << target;
  }
  const int micro = count_level(micro_sample(), "microgrid");
  EXPECT_GE(micro, micro_options().micro * 9 / 10);
  EXPECT_LE(micro, micro_options().micro * 11 / 10);
}

TEST(SampleGenerator, EveryLevelPartitionsItsParent) { expect_partitions(default_sample(), {"township", "village", "grid"}); }

TEST(SampleGenerator, MicroGridsPartitionTheirGrid) {
  const Jurisdiction& j = micro_sample();
  for (const Area& a : j.areas)
    if (a.level == "microgrid") {
      EXPECT_EQ(a.name.rfind("微网格", 0), 0u) << a.name;
    }
  expect_partitions(j, {"microgrid"});
}

TEST(SampleGenerator, ProvinceStaysInZhejiang) {
  const Jurisdiction& j = province_sample();
  EXPECT_EQ(j.areas[0].code, "330000");
  EXPECT_EQ(j.areas[0].level, "province");
  const std::map<std::string, std::string> cities = {{"330100", "杭州市"}, {"330200", "宁波市"}, {"330300", "温州市"}, {"330400", "嘉兴市"},
                                                     {"330500", "湖州市"}, {"330600", "绍兴市"}, {"330700", "金华市"}, {"330800", "衢州市"},
                                                     {"330900", "舟山市"}, {"331000", "台州市"}, {"331100", "丽水市"}};
  for (const Area& a : j.areas)
    if (a.level == "city") {
      EXPECT_EQ(cities.at(a.code), a.name);
    }
  expect_partitions(j, {"city", "county"});

  Geos geos;
  for (const Jurisdiction* sample : {&j, &default_sample()}) {
    const Geos::Box box = geos.box(geos.read(sample->areas[0].wkt).get());
    EXPECT_GE(box.x0, 118.0);
    EXPECT_LE(box.x1, 123.2);
    EXPECT_GE(box.y0, 27.0);
    EXPECT_LE(box.y1, 31.2);
  }
}

TEST(SampleGenerator, IncidentsAndCheckpointsLieStrictlyInsideGrids) {
  const Jurisdiction& j = default_sample();
  Geos geos;
  struct Grid {
    Geos::Geom shape;
    Geos::Box box;
  };
  std::map<std::string, Grid> grids;
  for (const Area& a : j.areas) {
    if (a.level != "grid") continue;
    Geos::Geom g = geos.read(a.wkt);
    const Geos::Box box = geos.box(g.get());
    grids.emplace(a.code, Grid{std::move(g), box});
  }
  // Contains is false for a point on the boundary, so this checks "strictly inside".
  auto holders = [&](double x, double y) {
    Geos::Geom p = geos.point(x, y);
    std::vector<std::string> codes;
    for (const auto& [code, grid] : grids)
      if (grid.box.holds(x, y) && GEOSContains_r(geos.ctx(), grid.shape.get(), p.get()) == 1) codes.push_back(code);
    return codes;
  };

  EXPECT_GE(j.incidents.size(), grids.size() / 2);
  EXPECT_LE(j.incidents.size(), grids.size() * 2);
  std::set<std::string> statuses, sources, categories;
  for (const auto& i : j.incidents) {
    EXPECT_EQ(holders(i.lon, i.lat).size(), 1u) << i.lon << " " << i.lat;
    statuses.insert(i.status);
    sources.insert(i.source);
    categories.insert(i.category);
    EXPECT_GE(i.reported_at, "2026-08-03T00:00:00Z");
    EXPECT_LT(i.reported_at, "2026-11-01T00:00:00Z");
    EXPECT_EQ(i.reported_at.size(), 20u);
    EXPECT_FALSE(i.description.empty());
    EXPECT_FALSE(i.reporter.empty());
  }
  EXPECT_GE(statuses.size(), 4u);
  EXPECT_EQ(sources.size(), 4u);
  EXPECT_GE(categories.size(), 4u);

  EXPECT_GE(j.checkpoints.size(), grids.size());
  EXPECT_LE(j.checkpoints.size(), grids.size() * 3);
  std::set<std::string> kinds, frequencies;
  for (const auto& c : j.checkpoints) {
    const auto grid = grids.find(c.grid_code);
    ASSERT_NE(grid, grids.end()) << c.grid_code;
    Geos::Geom p = geos.point(c.lon, c.lat);
    EXPECT_EQ(GEOSContains_r(geos.ctx(), grid->second.shape.get(), p.get()), 1) << c.grid_code << " " << c.name;
    kinds.insert(c.kind);
    frequencies.insert(c.frequency);
  }
  EXPECT_GE(kinds.size(), 4u);
  EXPECT_EQ(frequencies.size(), 3u);

  std::map<std::string, int> workers_per_grid;
  for (const auto& w : j.workers) {
    EXPECT_EQ(w.phone.size(), 11u) << w.phone;
    EXPECT_EQ(w.phone[0], '1');
    EXPECT_TRUE(all_digits(w.phone));
    EXPECT_FALSE(w.name.empty());
    ++workers_per_grid[w.grid_code];
  }
  EXPECT_EQ(workers_per_grid.size(), grids.size());
  for (const auto& [code, count] : workers_per_grid) {
    EXPECT_TRUE(grids.count(code)) << code;
    EXPECT_GE(count, 1);
    EXPECT_LE(count, 2);
  }
}

TEST(SampleGenerator, StreetsFormOneConnectedNetwork) {
  const Jurisdiction& j = default_sample();
  Geos geos;
  // Union-find over the exact endpoint text: connected only if streets share vertices exactly.
  std::map<std::string, std::string> parent;
  auto find = [&](std::string v) {
    while (parent.at(v) != v) v = parent.at(v) = parent.at(parent.at(v));
    return v;
  };
  std::set<std::string> classes;
  int oneway = 0;
  for (const auto& s : j.streets) {
    Geos::Geom g = geos.read(s.wkt);
    ASSERT_TRUE(g) << s.wkt;
    EXPECT_EQ(GEOSGeomTypeId_r(geos.ctx(), g.get()), GEOS_LINESTRING);
    EXPECT_EQ(GEOSisValid_r(geos.ctx(), g.get()), 1) << s.wkt;
    EXPECT_FALSE(s.name.empty());
    classes.insert(s.highway);
    oneway += s.oneway;
    const std::string body = s.wkt.substr(s.wkt.find('(') + 1, s.wkt.size() - s.wkt.find('(') - 2);
    const std::string a = body.substr(0, body.find(',')), b = body.substr(body.rfind(',') + 1);
    parent.try_emplace(a, a);
    parent.try_emplace(b, b);
    parent[find(a)] = find(b);
  }
  std::set<std::string> components;
  for (const auto& [vertex, up] : parent) components.insert(find(vertex));
  EXPECT_EQ(components.size(), 1u);
  EXPECT_TRUE(classes.count("primary") && classes.count("secondary") && classes.count("residential"));
  EXPECT_GT(oneway, 0);
  EXPECT_LT(oneway, static_cast<int>(j.streets.size()) / 2);
}

}  // namespace

namespace {

// An irregular outline with a notch, in the rectangle sample's neighbourhood (CGCS2000).
constexpr const char* kOutline =
    "MULTIPOLYGON(((119.90 30.45,120.10 30.44,120.14 30.52,120.05 30.50,120.02 30.58,119.92 30.56,119.90 30.45)))";

Options outline_options() {
  Options o;
  o.grids = 120;
  o.outline_wkt = kOutline;
  o.live = true;
  return o;
}

const Jurisdiction& outline_sample() {
  static const Jurisdiction j = generate(outline_options());
  return j;
}

}  // namespace

TEST(SampleGenerator, OutlineModeIsDeterministic) { EXPECT_EQ(fingerprint(generate(outline_options())), fingerprint(outline_sample())); }

TEST(SampleGenerator, OutlineClipsEveryLevelExactly) {
  const Jurisdiction& j = outline_sample();
  // Every level still partitions its parent (a village may be in two parts where the notch cuts it).
  expect_partitions(j, {"township", "village", "grid"}, false);
  Geos geos;
  Geos::Geom outline = geos.read(kOutline);
  Geos::Geom county = geos.read(j.areas.front().wkt);
  ASSERT_EQ(j.areas.front().level, "county");
  Geos::Geom difference = geos.own(GEOSSymDifference_r(geos.ctx(), county.get(), outline.get()));
  EXPECT_LE(geos.area(difference.get()), geos.area(outline.get()) * 1e-9);
  long long grids = 0;
  for (const Area& a : j.areas) {
    Geos::Geom g = geos.read(a.wkt);
    EXPECT_EQ(GEOSisValid_r(geos.ctx(), g.get()), 1) << a.code;
    if (a.level == "grid") {
      ++grids;
      EXPECT_EQ(GEOSGetNumGeometries_r(geos.ctx(), g.get()), 1) << a.code << ": a detached part was not given away";
    }
  }
  EXPECT_GE(grids, 108);  // within 10 % of the target: grids are allotted by the land inside the outline
  EXPECT_LE(grids, 132);
  EXPECT_EQ(j.areas_before_clipping, static_cast<long long>(j.areas.size()));
  EXPECT_GT(j.grids_cut, 0);
}

TEST(SampleGenerator, OutlinePointsAndLiveActivityLieInside) {
  const Jurisdiction& j = outline_sample();
  Geos geos;
  Geos::Geom outline = geos.read(kOutline);
  auto inside = [&](double lon, double lat) {
    Geos::Geom p = geos.point(lon, lat);
    return GEOSContains_r(geos.ctx(), outline.get(), p.get()) == 1;
  };
  for (const auto& i : j.incidents) EXPECT_TRUE(inside(i.lon, i.lat)) << i.lon << " " << i.lat;
  for (const auto& c : j.checkpoints) EXPECT_TRUE(inside(c.lon, c.lat)) << c.name;
  ASSERT_FALSE(j.positions.empty());
  for (const auto& p : j.positions) {
    EXPECT_TRUE(inside(p.lon, p.lat));
    EXPECT_GT(p.age_seconds, 0);
    EXPECT_LT(p.worker, j.workers.size());
  }
  std::set<std::string> states;
  for (const auto& c : j.recent_cases) {
    EXPECT_TRUE(inside(c.incident.lon, c.incident.lat));
    states.insert(c.incident.status);
    const bool dispatched = c.dispatched_age_seconds >= 0;
    EXPECT_EQ(dispatched, c.incident.assignee_worker >= 0) << c.incident.status;
    if (dispatched) {
      EXPECT_GT(c.reported_age_seconds, c.dispatched_age_seconds);
    }
    if (c.closed_age_seconds >= 0) {
      EXPECT_LT(c.closed_age_seconds, c.dispatched_age_seconds);
    }
  }
  EXPECT_EQ(states,
            (std::set<std::string>{"collect", "register", "dispatch", "handle", "hold", "feedback", "verified", "closed", "cancelled"}));
}

TEST(SampleGenerator, OutlineRefusesProvinceAndMicroGrids) {
  Options o = outline_options();
  o.micro = 100;
  EXPECT_THROW(generate(o), std::invalid_argument);
  o.micro = 0;
  o.grids = 6000;
  EXPECT_THROW(generate(o), std::invalid_argument);
}
