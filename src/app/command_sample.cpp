#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "incidents/store.hpp"
#include "registry/migrate.hpp"
#include "sample/generator.hpp"
#include "sample/loader.hpp"
#include "sample/outline.hpp"

namespace wangge::app {

int command_sample(const Args& args) {
  if (print_help(args,
                 "usage: wangge sample [--seed N] [--grids N] [--micro N] [--outline FILE] [--live] [--if-empty]\n\n"
                 "Generates the synthetic sample jurisdiction (a county in Zhejiang, EPSG:4490; a province of\n"
                 "counties at large sizes) and loads it into an empty registry: areas, streets, workers,\n"
                 "incidents and checkpoints. The same seed always gives the same jurisdiction.\n"
                 "  --seed N       generator seed (default 20260521)\n"
                 "  --grids N      number of grids (default 300; 85000 for a Zhejiang-scale benchmark)\n"
                 "  --micro N      number of micro-grids in total (default 0; 450000 at Zhejiang scale)\n"
                 "  --outline FILE the county's real outline, GeoJSON in GCJ-02 (AMap/DataV, e.g. the Deqing\n"
                 "                 file admin/datav/county/330521.json): the generated county is laid over it and\n"
                 "                 clipped to it (converted to CGCS2000); county mode only, without --micro\n"
                 "  --live         add activity relative to now: recent worker positions, and cases of the\n"
                 "                 last days in every state with working-time deadlines, some of them overdue\n"
                 "  --if-empty     do nothing (successfully) when the registry already holds areas\n"))
    return 0;
  sample::Options o;
  o.seed = static_cast<std::uint64_t>(args.number("seed", static_cast<long long>(o.seed)));
  o.grids = static_cast<int>(args.number("grids", o.grids));
  o.micro = static_cast<int>(args.number("micro", o.micro));
  o.live = args.has("live");
  if (o.grids < 1 || o.micro < 0) throw std::runtime_error("--grids must be at least 1 and --micro at least 0");
  const std::string outline = args.get("outline").value_or("");
  if (args.has("outline") && outline.empty()) throw std::runtime_error("--outline needs a file");
  auto config = Config::from_environment();
  auto conn = connect_with_retry(config, 30);
  registry::migrate(conn);
  if (!sample::registry_is_empty(conn)) {
    if (args.has("if-empty")) {
      std::printf("the registry already holds areas; sample not loaded\n");
      return 0;
    }
    throw std::runtime_error("the registry already holds areas; the sample loads only into an empty registry");
  }
  // Read only now: a registry that already holds areas never needs the file.
  if (!outline.empty()) o.outline_wkt = sample::read_gcj02_outline(outline);
  const auto rules = incidents::CaseRules::parse(resource_or_file("WANGGE_CALENDAR", "geodata/calendar.json"),
                                                 resource_or_file("WANGGE_CASE_CATEGORIES", "geodata/case_categories.json"));
  auto t0 = std::chrono::steady_clock::now();
  auto j = sample::generate(o);
  auto t1 = std::chrono::steady_clock::now();
  auto counts = sample::load(conn, j, [&](const std::string& category, Micros dispatched) {
    return rules.calendar.add_working_minutes(dispatched, rules.limit_minutes(category));
  });
  auto t2 = std::chrono::steady_clock::now();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  if (outline.empty())
    std::printf("sample: the generated rectangle (no outline)\n");
  else
    std::printf(
        "sample: clipped to the outline %s (GCJ-02, converted to CGCS2000): %lld areas generated, %lld kept, %lld grids cut by the "
        "border\n",
        outline.c_str(), j.areas_before_clipping, counts.areas, j.grids_cut);
  std::printf(
      "sample loaded: %lld areas, %lld streets, %lld workers, %lld incidents, %lld checkpoints, %lld worker positions "
      "(generated in %.1f s, loaded in %.1f s)\n",
      counts.areas, counts.streets, counts.workers, counts.incidents, counts.checkpoints, counts.positions, secs(t0, t1), secs(t1, t2));
  return 0;
}

}  // namespace wangge::app
