#include <geos_c.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "locate/database.hpp"
#include "locate/index.hpp"
#include "registry/queries.hpp"
#include "registry/snapshot.hpp"

namespace wangge::app {
namespace {

long resident_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Memory of this process on transparent huge pages (the locator asks for them, see
// core/huge_pages.hpp; 0 where the kernel's THP mode is "never").
long huge_pages_kb() {
  std::ifstream smaps("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(smaps, line))
    if (line.rfind("AnonHugePages:", 0) == 0) return std::stol(line.substr(14));
  return 0;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int bench_load(const Args& args) {
  auto config = Config::from_environment();
  auto conn = connect_with_retry(config, 10);
  const long long repeat = args.number("repeat", 3);
  const long before = resident_kb();
  for (long long i = 0; i < repeat; ++i) {
    registry::AreaCache cache;
    auto stats = cache.load_all(conn);
    std::printf("load %lld: %zu areas in %.3f s, RSS %.0f MB (%.0f MB before)\n", i + 1, stats.areas, stats.seconds, resident_kb() / 1024.0,
                before / 1024.0);
  }
  return 0;
}

// --- GEOS, the in-process peer: one context, used from this thread only; errors are captured by
// the handler and thrown after the call returns, never through C.
class GeosContext {
 public:
  GeosContext() : m_ctx(GEOS_init_r()) {
    if (!m_ctx) throw std::runtime_error("GEOS_init_r failed");
    GEOSContext_setErrorMessageHandler_r(m_ctx, &GeosContext::on_error, this);
  }
  ~GeosContext() { GEOS_finish_r(m_ctx); }
  GeosContext(const GeosContext&) = delete;
  GeosContext& operator=(const GeosContext&) = delete;
  GEOSContextHandle_t get() const { return m_ctx; }
  [[noreturn]] void fail(const char* what) const { throw std::runtime_error(std::string(what) + ": " + m_error); }

 private:
  static void on_error(const char* message, void* self) { static_cast<GeosContext*>(self)->m_error = message; }
  GEOSContextHandle_t m_ctx;
  std::string m_error;
};

struct GeosGeomDeleter {
  GEOSContextHandle_t ctx;
  void operator()(GEOSGeometry* g) const noexcept { GEOSGeom_destroy_r(ctx, g); }
};
struct GeosPreparedDeleter {
  GEOSContextHandle_t ctx;
  void operator()(const GEOSPreparedGeometry* g) const noexcept { GEOSPreparedGeom_destroy_r(ctx, g); }
};
struct GeosTreeDeleter {
  GEOSContextHandle_t ctx;
  void operator()(GEOSSTRtree* t) const noexcept { GEOSSTRtree_destroy_r(ctx, t); }
};
struct GeosWkbReaderDeleter {
  GEOSContextHandle_t ctx;
  void operator()(GEOSWKBReader* r) const noexcept { GEOSWKBReader_destroy_r(ctx, r); }
};
using GeosGeom = std::unique_ptr<GEOSGeometry, GeosGeomDeleter>;
using GeosPrepared = std::unique_ptr<const GEOSPreparedGeometry, GeosPreparedDeleter>;

// STRtree over the grids and the micro-grids, one tree each, prepared geometries for covers.
class GeosLocator {
 public:
  GeosLocator(const GeosContext& ctx, pg::Connection& conn) : m_ctx(ctx) {
    auto c = ctx.get();
    std::unique_ptr<GEOSWKBReader, GeosWkbReaderDeleter> reader(GEOSWKBReader_create_r(c), {c});
    auto r = registry::current_grid_shapes_hex(conn);
    const auto t0 = std::chrono::steady_clock::now();
    for (auto* tree : {&m_grids, &m_micro}) tree->reset(GEOSSTRtree_create_r(c, 10));
    m_grids.get_deleter().ctx = c, m_micro.get_deleter().ctx = c;
    m_items.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      const std::string hex = r.str(i, 1);
      GeosGeom g(GEOSWKBReader_readHEX_r(c, reader.get(), reinterpret_cast<const unsigned char*>(hex.data()), hex.size()), {c});
      if (!g) ctx.fail("reading WKB");
      GeosPrepared p(GEOSPrepare_r(c, g.get()), {c});
      if (!p) ctx.fail("preparing a geometry");
      m_items.push_back({std::move(g), std::move(p), i});
    }
    // Insert after the vector stopped moving: the tree keeps pointers to the items.
    for (std::size_t k = 0; k < m_items.size(); ++k) {
      auto& it = m_items[k];
      GEOSSTRtree_insert_r(c, (r.boolean(it.row, 0) ? m_grids : m_micro).get(), it.geom.get(), &it);
    }
    // A first query builds the trees (GEOS builds lazily); keep it in the build time.
    covering(m_grids.get(), 0, 0);
    covering(m_micro.get(), 0, 0);
    build_seconds = seconds_since(t0);
  }

  // Index (row in code order) of the first grid/micro-grid covering the point, or -1.
  int grid_of(double x, double y) { return covering(m_grids.get(), x, y); }
  int micro_of(double x, double y) { return covering(m_micro.get(), x, y); }
  double build_seconds = 0;

 private:
  struct Item {
    GeosGeom geom;
    GeosPrepared prepared;
    int row;
  };
  struct Query {
    GEOSContextHandle_t ctx;
    const GEOSGeometry* point;
    int best = -1;
  };
  static void visit(void* item, void* data) {
    auto* q = static_cast<Query*>(data);
    auto* it = static_cast<Item*>(item);
    if ((q->best < 0 || it->row < q->best) && GEOSPreparedCovers_r(q->ctx, it->prepared.get(), q->point) == 1) q->best = it->row;
  }
  int covering(GEOSSTRtree* tree, double x, double y) {
    auto c = m_ctx.get();
    GeosGeom pt(GEOSGeom_createPointFromXY_r(c, x, y), {c});
    if (!pt) m_ctx.fail("creating a point");
    Query q{c, pt.get()};
    GEOSSTRtree_query_r(c, tree, pt.get(), &GeosLocator::visit, &q);
    return q.best;
  }
  const GeosContext& m_ctx;
  std::vector<Item> m_items;
  std::unique_ptr<GEOSSTRtree, GeosTreeDeleter> m_grids{nullptr, {nullptr}}, m_micro{nullptr, {nullptr}};
};

int bench_locate(const Args& args) {
  auto config = Config::from_environment();
  auto conn = connect_with_retry(config, 10);
  const auto n_points = static_cast<std::size_t>(args.number("points", 1000000));
  const auto n_pg = static_cast<std::size_t>(args.number("pg-points", 200000));
  const auto seed = static_cast<unsigned long long>(args.number("seed", 1));
  const long rss0 = resident_kb();

  // 1. wangge: read (one query, WKB) and build.
  auto t0 = std::chrono::steady_clock::now();
  auto sources = locate::read_areas(conn, std::nullopt);
  const double read_s = seconds_since(t0);
  locate::Options options;
  if (auto v = args.get("cells-per-edge")) options.cells_per_edge = std::stod(*v);
  if (auto v = args.get("fast-top")) options.fast_params.top_cells_per_polygon = std::stod(*v);
  if (auto v = args.get("fast-leaf")) options.fast_params.leaf_edges = static_cast<unsigned>(std::stoul(*v));
  auto index = locate::LocateIndex::build(std::move(sources), options);
  const auto& st = index->stats();
  const long rss1 = resident_kb(), huge_kb = huge_pages_kb();

  // 1M random points in the extent of everything.
  const auto [x0, y0, x1, y1] = registry::current_extent(conn);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> ux(x0, x1), uy(y0, y1);
  std::vector<locate::Pt> pts(n_points);
  for (auto& p : pts) p = {ux(rng), uy(rng)};

  // Two ways to ask: the whole batch at once (locate_many, as POST /v1/locate does) and one call
  // per point (locate, as GET /v1/locate does). Each: a warm-up round, then the best of two, in
  // wall time and in the thread's CPU time (the machine may be shared).
  std::vector<locate::Location> found(n_points), single(n_points);
  double batch_s = 1e9, batch_cpu = 1e9, single_s = 1e9, single_cpu = 1e9;
  for (int round = 0; round < 3; ++round) {
    t0 = std::chrono::steady_clock::now();
    double c0 = thread_cpu_seconds();
    index->locate_many(pts.data(), n_points, found.data());
    if (round > 0) batch_s = std::min(batch_s, seconds_since(t0)), batch_cpu = std::min(batch_cpu, thread_cpu_seconds() - c0);
    t0 = std::chrono::steady_clock::now();
    c0 = thread_cpu_seconds();
    for (std::size_t i = 0; i < n_points; ++i) single[i] = index->locate(pts[i]);
    if (round > 0) single_s = std::min(single_s, seconds_since(t0)), single_cpu = std::min(single_cpu, thread_cpu_seconds() - c0);
  }
  std::size_t by_method[5] = {0, 0, 0, 0, 0};
  std::size_t batch_differ = 0;
  for (std::size_t i = 0; i < n_points; ++i) {
    const auto& f = found[i];
    const auto& g = single[i];
    ++by_method[static_cast<int>(f.method)];
    if (g.method != f.method || g.grid != f.grid || g.microgrid != f.microgrid || g.admin != f.admin) ++batch_differ;
  }
  // The answer as GET /v1/locate writes it (grid, hierarchy, workers as JSON): what a request
  // pays beyond the lookup, mostly reads of area texts scattered over the index.
  const auto workers = locate::read_workers(conn, std::nullopt);
  double json_s = 1e9;
  std::size_t json_bytes = 0;
  {
    std::string body;
    for (int round = 0; round < 2; ++round) {
      json_bytes = 0;
      t0 = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < n_points; ++i) {
        body.clear();
        index->append_json(index->locate(pts[i]), pts[i], &workers, body);
        json_bytes += body.size();
      }
      json_s = std::min(json_s, seconds_since(t0));
    }
  }
  const double json_pps = static_cast<double>(n_points) / json_s;
  const double wangge_pps = static_cast<double>(n_points) / batch_s;
  const double single_pps = static_cast<double>(n_points) / single_s;
  // The general index alone (no fast grid), on the same points: the fast grid's gain, and a check
  // that both give the same answers.
  std::size_t fast_differ = 0;
  t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n_points; ++i) {
    const auto g = index->locate_general(pts[i]);
    const auto& f = found[i];
    if (g.method != f.method || g.grid != f.grid || g.microgrid != f.microgrid || g.admin != f.admin) ++fast_differ;
  }
  const double general_pps = static_cast<double>(n_points) / seconds_since(t0);

  // A registry write of one grid, as the server applies it: read the changed row, rebuild, ready
  // to swap (the median grid by code; its geometry is unchanged, the work is the same).
  double update_s = 0;
  {
    std::string code;
    for (std::size_t a = st.areas / 2; a < st.areas && code.empty(); ++a)
      if (index->area(static_cast<std::int32_t>(a)).level == locate::Level::grid) code = index->area(static_cast<std::int32_t>(a)).code;
    if (!code.empty()) {
      // As Locator::on_change does it: the changed row, applied to the kept list, then a patch
      // of the snapshot (the full build follows in the background; its time is "index build").
      const std::vector<std::string> codes{code};
      t0 = std::chrono::steady_clock::now();
      auto next = locate::LocateIndex::patch(
          index, codes, locate::apply_changes(index->sources(), codes, locate::read_areas(conn, std::nullopt, &codes)));
      update_s = seconds_since(t0);
      if (!next || !next->patched()) throw std::runtime_error("bench: a one-grid change was not patched");
    }
  }

  fast_differ += batch_differ;
  if (args.number("peers", 1) == 0) {  // tuning runs: wangge's own figures only
    std::printf(
        "layout %s fast build %.3f s, fast %.0f MB, RSS %.0f MB (%.0f MB huge pages), update %.3f s\n"
        "batch %.0f points/s (cpu %.0f), single %.0f points/s (cpu %.0f), general %.0f, differ %zu\n"
        "answers with JSON %.0f points/s (%.2f us each, %.0f bytes), %zu workers\n",
        st.fast_layout.c_str(), st.fast_build_seconds, index->fast().stats().memory_bytes / 1048576.0, rss1 / 1024.0, huge_kb / 1024.0,
        update_s, wangge_pps, n_points / batch_cpu, single_pps, n_points / single_cpu, general_pps, fast_differ, json_pps, 1e6 / json_pps,
        static_cast<double>(json_bytes) / n_points, workers.size());
    return fast_differ == 0 ? 0 : 1;
  }
  // 2. GEOS STRtree + prepared geometry, the same work: grid, then micro-grid.
  GeosContext geos;
  const long rss2 = resident_kb();
  GeosLocator peer(geos, conn);
  const long rss3 = resident_kb();
  std::size_t differ = 0;
  // Rows in code order, grids and micro-grids mixed: map index area -> row for the comparison.
  std::vector<int> row_of_area;
  {
    int row = 0;
    row_of_area.assign(st.areas, -1);
    for (std::size_t a = 0; a < st.areas; ++a) {
      auto lv = index->area(static_cast<std::int32_t>(a)).level;
      if (lv == locate::Level::grid || lv == locate::Level::microgrid) row_of_area[a] = row++;
    }
  }
  t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n_points; ++i) {
    const int g = peer.grid_of(pts[i].x, pts[i].y);
    const int m = g >= 0 ? peer.micro_of(pts[i].x, pts[i].y) : -1;
    const auto& f = found[i];
    const bool covered = f.method == locate::Method::inside || f.method == locate::Method::boundary;
    const int wg = covered ? row_of_area[static_cast<std::size_t>(f.grid)] : -1;
    if (g != wg) ++differ;
    (void)m;
  }
  const double geos_s = seconds_since(t0);
  const double geos_pps = static_cast<double>(n_points) / geos_s;

  // 3. PostGIS bulk join: the first n_pg points through a temp table and ST_Covers.
  if (n_pg > n_points) throw std::invalid_argument("--pg-points exceeds --points");
  conn.exec("bench.tmp", "CREATE TEMP TABLE IF NOT EXISTS bench_points (id integer, geom geometry(Point, 4490))");
  conn.exec("bench.truncate", "TRUNCATE bench_points");
  std::size_t sent = 0;
  conn.copy_in("bench.copy", "COPY bench_points (id, geom) FROM STDIN", [&](std::string& chunk) {
    char line[128];
    for (int k = 0; k < 10000 && sent < n_pg; ++k, ++sent) {
      int len = std::snprintf(line, sizeof line, "%zu\tSRID=4490;POINT(%.17g %.17g)\n", sent, pts[sent].x, pts[sent].y);
      chunk.append(line, static_cast<std::size_t>(len));
    }
    return sent < n_pg;
  });
  conn.exec("bench.analyze", "ANALYZE bench_points");
  // The join takes minutes at this size; the server's default statement timeout would cancel it.
  conn.exec("bench.timeout", "SET statement_timeout = 0");
  t0 = std::chrono::steady_clock::now();
  const long long joined = registry::count_bench_points_in_grids(conn);
  const double pg_s = seconds_since(t0);
  const double pg_pps = static_cast<double>(n_pg) / pg_s;

  std::printf(
      "locate benchmark: %zu areas (%zu grids, %zu micro-grids, %zu admin), %zu random points in "
      "[%.3f,%.3f]x[%.3f,%.3f]\n",
      st.areas, st.grids, st.microgrids, st.admin, n_points, x0, x1, y0, y1);
  std::printf("  answers: inside %zu, boundary %zu, nearest %zu, fallback %zu, outside %zu\n", by_method[0], by_method[1], by_method[2],
              by_method[3], by_method[4]);
  std::printf("%-60s %12.3f s\n", "wangge: read areas from PostGIS (one query, WKB)", read_s);
  std::printf("%-60s %12.3f s\n", "wangge: index build", st.build_seconds);
  std::printf("%-60s %12.0f MB\n", "wangge: index size (counted)", st.memory_bytes / 1048576.0);
  std::printf("%-60s %12s\n", "wangge: cells / entries / edge refs (grids+micro layer)", st.layout.c_str());
  std::printf("%-60s %12.3f s\n", "wangge: fast grid build (part of the index build)", st.fast_build_seconds);
  std::printf("%-60s %s\n", "wangge: fast grid top/blocks/direct/leaves/slow/edge refs", st.fast_layout.c_str());
  std::printf("%-60s %12.0f MB\n", "wangge: RSS growth for read + index", (rss1 - rss0) / 1024.0);
  std::printf("%-60s %12.0f MB\n", "wangge: process RSS with the index", rss1 / 1024.0);
  std::printf("%-60s %12.0f MB\n", "wangge: of which on transparent huge pages", huge_kb / 1024.0);
  std::printf("%-60s %12.3f s\n", "wangge: single-grid update (read row + patch snapshot)", update_s);
  std::printf("%-60s %12.0f points/s\n", "wangge index, one core, batch of all points (locate_many)", wangge_pps);
  std::printf("%-60s %12.0f points/s\n", "wangge index, one core, one call per point (locate)", single_pps);
  std::printf("%-60s %12.0f points/s\n", "wangge general index alone (no fast grid), one core", general_pps);
  std::printf("%-60s %12.0f points/s\n", "wangge one call per point + JSON answer (as GET writes it)", json_pps);
  std::printf("%-60s %12zu\n", "answers differing batch/fast grid vs general index (must be 0)", fast_differ);
  std::printf("%-60s %12.3f s\n", "peer GEOS STRtree + prepared: build", peer.build_seconds);
  std::printf("%-60s %12.0f MB\n", "peer GEOS: RSS growth", (rss3 - rss2) / 1024.0);
  std::printf("%-60s %12.0f points/s\n", "peer GEOS STRtree + PreparedCovers, one core", geos_pps);
  std::printf("%-60s %12.0f points/s\n", "peer PostGIS bulk join (ST_Covers, temp table)", pg_pps);
  std::printf("%-60s %12zu (%zu pairs)\n", "PostGIS join points", n_pg, static_cast<std::size_t>(joined));
  std::printf("%-60s %12.1f x\n", "ratio wangge batch (locate_many) / GEOS", wangge_pps / geos_pps);
  std::printf("%-60s %12.1f x\n", "ratio wangge one call per point (locate) / GEOS", single_pps / geos_pps);
  std::printf("%-60s %12.1f x\n", "ratio wangge batch / PostGIS", wangge_pps / pg_pps);
  std::printf("%-60s %12zu\n", "grid answers differing from GEOS covers (must be 0)", differ);
  return differ == 0 && fast_differ == 0 ? 0 : 1;
}

}  // namespace

int bench_tsp(const Args& args);    // bench_tsp.cpp
int bench_tiles(const Args& args);  // bench_tiles.cpp

int command_bench(const Args& args) {
  const char* help =
      "usage: wangge bench load [--repeat N]\n"
      "       wangge bench locate [--points N] [--pg-points N] [--seed N]\n"
      "       wangge bench tsp [--max-n 1002] [--instances a,b] [--pgr-max-n 442 | --pgr-all | --no-pgr]\n"
      "                        [--time-limit S] [--checkpoints 300] [--no-monaco] [--dir D] [--monaco F]\n"
      "       wangge bench tiles --tiles z10.txt,z12.txt,z14.txt [--layers F] [--layer grid] [--seconds 5] [--threads 2]\n\n"
      "load: loads every current area from WANGGE_DATABASE_URL into the in-memory area cache, as\n"
      "`serve` does at start, and prints the time and the process's resident memory.\n"
      "locate: builds the locator index and locates N random points (default 1,000,000) in the\n"
      "extent of the areas, beside GEOS (STRtree + prepared geometry) and a PostGIS bulk join of\n"
      "the first --pg-points (default 200,000); prints points/s, ratios, build time and memory, and\n"
      "fails when a grid answer differs from GEOS. tools/bench/keel and tools/bench/locate run the\n"
      "whole benchmarks beside their peers.\n"
      "tsp: solves the TSPLIB instances (../shared/geodata-src/tsplib, or --dir) up to --max-n nodes and\n"
      "compares with bestSolutions.txt and with pgRouting's pgr_TSP on the same matrix in the database\n"
      "of WANGGE_DATABASE_URL (skipped without it); then a patrol of --checkpoints checkpoints on the\n"
      "Monaco street network (matrix + tour). tools/bench/tsp runs it beside a throwaway database.\n"
      "tiles: draws the listed vector tiles in process with the cache off, uncompressed, on one thread\n"
      "and on --threads; prints tiles/s, p50 and p99 (`wangge bench tiles --help`). tools/bench/tiles\n"
      "runs it beside PostGIS ST_AsMVT.\n";
  if (print_help(args, help)) return 0;
  if (args.words.size() == 1 && args.words[0] == "load") return bench_load(args);
  if (args.words.size() == 1 && args.words[0] == "locate") return bench_locate(args);
  if (args.words.size() == 1 && args.words[0] == "tsp") return bench_tsp(args);
  if (args.words.size() == 1 && args.words[0] == "tiles") return bench_tiles(args);
  std::fputs(help, stderr);
  return 2;
}

}  // namespace wangge::app
