// `wangge bench tsp`: the tour solver on the TSPLIB instances beside pgRouting's pgr_TSP on the same
// matrices in the same run, and a 300-checkpoint patrol on the Monaco street network.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "app/commands.hpp"
#include "exchange/gdal.hpp"
#include "pg/connection.hpp"
#include "route/patrol.hpp"
#include "route/tsplib.hpp"

namespace wangge::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct PgrResult {
  double length = 0, seconds = 0;
};

// pgr_TSP on the instance's full matrix, fed through a temporary table (1-based node ids).
PgrResult pgr_tsp(pg::Connection& conn, const route::CostMatrix& c) {
  conn.exec("bench.tsp_table", "CREATE TEMP TABLE IF NOT EXISTS tsp_matrix (start_vid bigint, end_vid bigint, agg_cost float8)");
  conn.exec("bench.tsp_truncate", "TRUNCATE tsp_matrix");
  const std::size_t n = c.size();
  std::size_t i = 0;
  conn.copy_in("bench.tsp_copy", "COPY tsp_matrix FROM STDIN", [&](std::string& chunk) {
    char line[96];
    for (std::size_t rows = 0; i < n && rows < 200; ++i, ++rows)
      for (std::size_t j = 0; j < n; ++j) {
        if (i == j) continue;
        const int len = std::snprintf(line, sizeof line, "%zu\t%zu\t%.17g\n", i + 1, j + 1, c(i, j));
        chunk.append(line, static_cast<std::size_t>(len));
      }
    return i < n;
  });
  conn.exec("bench.tsp_analyze", "ANALYZE tsp_matrix");
  const auto t0 = Clock::now();
  auto r = conn.exec("bench.pgr_tsp", "SELECT max(agg_cost) FROM pgr_TSP('SELECT start_vid, end_vid, agg_cost FROM tsp_matrix', 1)");
  PgrResult out;
  out.seconds = seconds_since(t0);
  out.length = r.number(0, 0);
  return out;
}

// The ways tagged highway=* of an OSM file (GDAL's OSM driver, layer "lines"), split where they
// share a vertex with another way or themselves, since route::Router joins streets only at their
// end points. One-way from the oneway and junction=roundabout tags ("-1": against the drawing).
std::vector<route::Street> osm_streets(const std::string& path) {
  exchange::gdal_init();
  exchange::ErrorCapture errors;
  exchange::Dataset ds(GDALOpenEx(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  if (!ds) errors.fail("opening " + path);
  std::vector<route::Street> ways;
  OGRLayerH layer = nullptr;
  while (exchange::Feature f{GDALDatasetGetNextFeature(ds.get(), &layer, nullptr, nullptr, nullptr)}) {
    if (std::string(OGR_L_GetName(layer)) != "lines") continue;
    const int hi = OGR_F_GetFieldIndex(f.get(), "highway"), ti = OGR_F_GetFieldIndex(f.get(), "other_tags");
    if (hi < 0 || !OGR_F_IsFieldSetAndNotNull(f.get(), hi)) continue;
    OGRGeometryH g = OGR_F_GetGeometryRef(f.get());
    if (!g || wkbFlatten(OGR_G_GetGeometryType(g)) != wkbLineString || OGR_G_GetPointCount(g) < 2) continue;
    route::Street s;
    s.highway = OGR_F_GetFieldAsString(f.get(), hi);
    const std::string tags = ti >= 0 && OGR_F_IsFieldSetAndNotNull(f.get(), ti) ? OGR_F_GetFieldAsString(f.get(), ti) : "";
    const bool reverse = tags.find("\"oneway\"=>\"-1\"") != std::string::npos;
    s.oneway =
        reverse || tags.find("\"oneway\"=>\"yes\"") != std::string::npos || tags.find("\"junction\"=>\"roundabout\"") != std::string::npos;
    for (int k = 0; k < OGR_G_GetPointCount(g); ++k) s.points.push_back({OGR_G_GetX(g, k), OGR_G_GetY(g, k)});
    if (reverse) std::reverse(s.points.begin(), s.points.end());
    ways.push_back(std::move(s));
  }
  struct Hash {
    std::size_t operator()(const route::LonLat& p) const noexcept { return std::hash<double>()(p.lon) * 31 ^ std::hash<double>()(p.lat); }
  };
  std::unordered_map<route::LonLat, int, Hash> uses;
  for (const auto& w : ways)
    for (std::size_t k = 0; k < w.points.size(); ++k) uses[w.points[k]] += (k == 0 || k + 1 == w.points.size()) ? 2 : 1;
  std::vector<route::Street> out;
  for (const auto& w : ways) {
    route::Street piece{{w.points[0]}, w.highway, w.oneway};
    for (std::size_t k = 1; k < w.points.size(); ++k) {
      piece.points.push_back(w.points[k]);
      if (k + 1 < w.points.size() && uses[w.points[k]] > 1) {
        out.push_back(piece);
        piece.points = {w.points[k]};
      }
    }
    out.push_back(std::move(piece));
  }
  return out;
}

void bench_monaco(const std::string& pbf, std::size_t count, std::uint64_t seed, pg::Connection* conn) {
  if (!fs::exists(pbf)) {
    std::printf("monaco: %s is missing, skipped\n", pbf.c_str());
    return;
  }
  auto t0 = Clock::now();
  const auto streets = osm_streets(pbf);
  route::Router router(streets);
  std::printf(
      "\nMonaco street network: built in the bench from %s with GDAL's OSM driver (layer lines, highway=*), "
      "in memory (no database; `wangge import-roads` loads the same file into PostGIS); %zu streets, %zu nodes, read and built in %.2f s\n",
      fs::path(pbf).filename().c_str(), router.edges(), router.nodes(), seconds_since(t0));
  // The start: the street point nearest the Prince's Palace square; the checkpoints: midpoints of
  // random streets inside Monaco (7.409-7.440 E, 43.724-43.752 N) that a walker can reach from it.
  const route::Graph& walk = router.graph(route::Profile::foot);
  const route::LonLat centre{7.4205, 43.7314};
  const auto start = walk.snap(centre, route::Router::kMaxSnapM);
  if (!start) throw std::runtime_error("monaco: no street near the centre");
  std::vector<std::optional<route::Snap>> candidates;
  std::vector<route::LonLat> where;
  for (const auto& s : streets) {
    const route::LonLat p = s.points[s.points.size() / 2];
    if (p.lon < 7.409 || p.lon > 7.440 || p.lat < 43.724 || p.lat > 43.752) continue;
    candidates.push_back(walk.snap(p, route::Router::kMaxSnapM));
    where.push_back(p);
  }
  const auto reach = walk.costs(*start, candidates);
  std::vector<route::LonLat> pool;
  for (std::size_t k = 0; k < where.size(); ++k)
    if (reach[k]) pool.push_back(where[k]);
  std::mt19937_64 rng(seed);
  std::shuffle(pool.begin(), pool.end(), rng);
  pool.resize(std::min(pool.size(), count));
  std::printf(
      "%zu checkpoints: random street midpoints in Monaco reachable on foot from the start (%.6f, %.6f), "
      "1 minute of service each, no shift cap\n",
      pool.size(), start->point.lon, start->point.lat);
  for (route::Profile profile : {route::Profile::foot, route::Profile::ebike}) {
    const route::Graph& g = router.graph(profile);
    route::PatrolRequest req;
    req.start = start->point;
    for (const auto& p : pool) req.checkpoints.push_back({p, 60, 1, std::nullopt});
    t0 = Clock::now();
    const std::clock_t cpu0 = std::clock();
    const route::PatrolPlan plan = route::plan_patrol(g, req);
    const double total = seconds_since(t0);
    const double cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
    std::printf(
        "monaco %-5s %zu checkpoints: matrix %4.0f ms + tour %4.0f ms (bound, geometry included) = %4.0f ms wall, "
        "%4.0f ms CPU on 2 threads (target < 200 ms); %zu stops, %zu unvisited, %.0f m, %.0f s, lower bound %.0f s, "
        "gap <= %.2f %%\n",
        route::profile_name(profile), req.checkpoints.size(), plan.matrix_seconds * 1e3, plan.solve_seconds * 1e3, total * 1e3, cpu * 1e3,
        plan.stops.size(), plan.skipped.size(), plan.distance_m, plan.duration_s, plan.lower_bound_s,
        plan.lower_bound_s > 0 ? (plan.duration_s / plan.lower_bound_s - 1) * 100 : 0.0);
  }
  // The peer on the tour part: pgr_TSP and the solver on the same walking-time matrix (start and
  // checkpoints, seconds, symmetric), a round trip without service times.
  if (!conn) return;
  std::vector<std::optional<route::Snap>> snaps{start};
  for (const auto& p : pool) snaps.push_back(walk.snap(p, route::Router::kMaxSnapM));
  const auto m = route::cost_matrix(walk, snaps);
  route::CostMatrix c(snaps.size());
  for (std::size_t i = 0; i < snaps.size(); ++i)
    for (std::size_t j = 0; j < snaps.size(); ++j)
      if (i != j) c.at(i, j) = std::round((m[i][j]->duration_s + m[j][i]->duration_s) / 2 * 10) / 10;
  const route::TourResult mine = route::solve_tour(c);
  const PgrResult theirs = pgr_tsp(*conn, c);
  std::printf(
      "monaco foot tour only, same %zux%zu matrix (s, symmetric): wangge %.0f s in %.0f ms (bound %.0f s), "
      "pgr_TSP %.0f s in %.0f ms; pgr_TSP / wangge: length %.3f, time %.1f x\n",
      c.size(), c.size(), mine.length, mine.seconds * 1e3, mine.lower_bound, theirs.length, theirs.seconds * 1e3,
      theirs.length / mine.length, theirs.seconds / mine.seconds);
}

// ../shared/geodata-src beside the repository (the executable is in build/), or WANGGE_GEODATA_SRC.
std::string geodata_dir() {
  if (const char* v = std::getenv("WANGGE_GEODATA_SRC")) return v;
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  return ec ? "../shared/geodata-src" : (exe.parent_path().parent_path().parent_path() / "shared/geodata-src").string();
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string w; std::getline(in, w, ',');)
    if (!w.empty()) out.push_back(w);
  return out;
}

}  // namespace

int bench_tsp(const Args& args) {
  const std::string dir = args.get("dir").value_or(geodata_dir() + "/tsplib");
  const auto max_n = static_cast<std::size_t>(args.number("max-n", 1002));
  const auto pgr_max_n = static_cast<std::size_t>(args.has("pgr-all") ? max_n : args.number("pgr-max-n", 442));
  const double limit = args.get("time-limit") ? std::stod(*args.get("time-limit")) : 0;
  if (!fs::exists(dir + "/bestSolutions.txt")) {
    std::fprintf(stderr, "bench tsp: no TSPLIB set in %s (see ../shared/geodata-src/SOURCES.md)\n", dir.c_str());
    return std::getenv("CI") && std::string(std::getenv("CI")) == "true" ? 1 : 0;
  }
  const auto best = route::read_best_solutions(dir + "/bestSolutions.txt");
  std::vector<std::pair<std::size_t, std::string>> todo;
  std::set<std::string> only;
  if (auto v = args.get("instances"))
    for (auto& w : split_list(*v)) only.insert(w);
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".tsp") continue;
    const std::string name = e.path().stem();
    if (!only.empty() && !only.count(name)) continue;
    // DIMENSION from the header, before reading (and allocating) anything large.
    std::ifstream in(e.path());
    std::size_t n = 0;
    for (std::string line; n == 0 && std::getline(in, line);)
      if (line.rfind("DIMENSION", 0) == 0) n = std::stoul(line.substr(line.find(':') + 1));
    if (n > 0 && n <= max_n) todo.emplace_back(n, name);
  }
  std::sort(todo.begin(), todo.end());

  std::unique_ptr<pg::Connection> conn;
  const char* url = std::getenv("WANGGE_DATABASE_URL");
  if (args.has("no-pgr") || !url) {
    std::printf("pgr_TSP: %s\n",
                args.has("no-pgr") ? "skipped (--no-pgr)" : "skipped: WANGGE_DATABASE_URL is not set (tools/bench/tsp sets it)");
  } else {
    conn = std::make_unique<pg::Connection>(url, 0);
    conn->exec("bench.timeout", "SET statement_timeout = 0");
    conn->exec("bench.pgrouting", "CREATE EXTENSION IF NOT EXISTS pgrouting");
    auto v = conn->exec("bench.pgr_version", "SELECT pgr_version()");
    std::printf(
        "pgr_TSP: pgRouting %s, same matrices, same machine, run after wangge on each instance; skipped above n = %zu "
        "(--pgr-max-n N, --pgr-all)\n",
        v.str(0, 0).c_str(), pgr_max_n);
  }
  std::printf("%-12s %5s %-8s %11s %11s %8s %7s %8s | %11s %8s %7s\n", "instance", "n", "type", "wangge", "optimum", "gap %", "time s",
              "bound %", "pgr_TSP", "gap %", "time s");
  double sum_gap = 0, sum_gap_both = 0, sum_pgr_gap = 0, max_time = 0, sum_time = 0, sum_pgr_time = 0, sum_time_both = 0;
  std::size_t count = 0, both = 0, exact = 0;
  for (const auto& [n, name] : todo) {
    route::TsplibInstance inst;
    try {
      inst = route::read_tsplib(dir + "/" + name + ".tsp");
    } catch (const route::tsplib_error& e) {
      std::printf("%-12s %5zu skipped: %s\n", name.c_str(), n, e.what());
      continue;
    }
    route::TourOptions o;
    o.time_limit_s = limit;
    route::TourResult r;
    if (inst.fixed_edges.empty()) {
      r = route::solve_tour(inst.matrix, o);
    } else {
      // Fixed edges (linhp318: a Hamiltonian path between the ends of its one fixed edge) are
      // forced by a cost far below any other. The published optimum is the path: the length
      // without the fixed edges, and so are the tour and its bound here.
      route::CostMatrix forced = inst.matrix;
      double tie = 0;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) tie = std::max(tie, 10 * inst.matrix(i, j));
      for (const auto& [a, b] : inst.fixed_edges) forced.at(a, b) = forced.at(b, a) = -tie;
      r = route::solve_tour(forced, o);
      const double shift = tie * static_cast<double>(inst.fixed_edges.size());
      r.length += shift;  // the fixed edges now cost nothing
      r.lower_bound += shift;
    }
    const double opt = best.count(name) ? best.at(name) : 0;
    const double gap = opt > 0 ? (r.length - opt) / opt * 100 : 0;
    const double bound_gap = opt > 0 ? (opt - r.lower_bound) / opt * 100 : 0;
    sum_gap += gap, sum_time += r.seconds, max_time = std::max(max_time, r.seconds), ++count;
    if (r.length == opt) ++exact;
    const std::string type = inst.edge_weight_type == "EXPLICIT" ? "EXPLICIT" : inst.edge_weight_type;
    std::printf("%-12s %5zu %-8s %11.0f %11.0f %8.3f %7.3f %8.2f | ", name.c_str(), n, type.c_str(), r.length, opt, gap, r.seconds,
                bound_gap);
    if (conn && n <= pgr_max_n && inst.fixed_edges.empty()) {
      const PgrResult p = pgr_tsp(*conn, inst.matrix);
      const double pg = (p.length - opt) / opt * 100;
      sum_gap_both += gap, sum_pgr_gap += pg, sum_pgr_time += p.seconds, sum_time_both += r.seconds, ++both;
      std::printf("%11.0f %8.3f %7.3f\n", p.length, pg, p.seconds);
    } else {
      std::printf("%11s %8s %7s%s\n", "-", "-", "-", inst.fixed_edges.empty() ? "" : "  (fixed edges: not for pgr_TSP)");
    }
    std::fflush(stdout);
  }
  if (count) {
    std::printf(
        "\nwangge: %zu instances with n <= %zu: mean gap %.3f %% (target <= 0.5 %%), %zu at the optimum, "
        "slowest %.3f s (target <= 2 s), %.1f s in all\n",
        count, max_n, sum_gap / static_cast<double>(count), exact, max_time, sum_time);
    if (std::any_of(todo.begin(), todo.end(), [](const auto& t) { return t.second == "dsj1000"; }))
      std::printf(
          "(dsj1000 is CEIL_2D in its header and solved so; bestSolutions.txt gives its EUC_2D optimum 18659688, "
          "the CEIL_2D one is 18660188)\n");
  }
  if (both) {
    const double mine = sum_gap_both / static_cast<double>(both), theirs = sum_pgr_gap / static_cast<double>(both);
    std::printf(
        "on the %zu instances pgr_TSP also ran: wangge mean gap %.3f %% in %.1f s, pgr_TSP mean gap %.3f %% in %.1f s; "
        "ratio pgr_TSP gap / wangge gap %s (target >= 20)\n",
        both, mine, sum_time_both, theirs, sum_pgr_time,
        mine > 0 ? (std::to_string(static_cast<long long>(theirs / mine)) + " x").c_str() : "infinite (wangge 0 %)");
  }
  if (!args.has("no-monaco"))
    bench_monaco(args.get("monaco").value_or(geodata_dir() + "/osm/monaco.osm.pbf"),
                 static_cast<std::size_t>(args.number("checkpoints", 300)), static_cast<std::uint64_t>(args.number("seed", 1)), conn.get());
  return 0;
}

}  // namespace wangge::app
