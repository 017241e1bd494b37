#include <cstdio>
#include <filesystem>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "core/config.hpp"
#include "registry/migrate.hpp"
#include "route/osm_import.hpp"

namespace wangge::app {
namespace {

// monaco.osm.pbf -> osm:monaco
std::string default_source(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  for (const char* ext : {".osm.pbf", ".osm.gz", ".osm.bz2", ".osm", ".pbf"}) {
    const std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      name.resize(name.size() - e.size());
      break;
    }
  }
  return "osm:" + name;
}

}  // namespace

int command_import_roads(const Args& args) {
  const char* help =
      "usage: wangge import-roads FILE [--source NAME] [--replace]\n\n"
      "Reads OpenStreetMap roads (.osm.pbf, .osm, .osm.gz) into the routable street network: ways cut at\n"
      "intersections, one-way and access rules per profile (foot, ebike, car), turn restrictions for cars.\n"
      "Migrates the database first, then writes in one transaction: the rows of the source are replaced\n"
      "(a re-import gives the same rows); on failure nothing changes. Running servers rebuild their\n"
      "street graphs when it commits.\n"
      "  --source NAME  the rows' source (default osm:<file name without extension>)\n"
      "  --replace      remove every street of every source first, the sample's generated ones included\n"
      "Progress goes to stderr. OSM's WGS 84 coordinates are stored as EPSG:4490 (they agree to < 1 m).\n";
  if (print_help(args, help)) return 0;
  if (args.words.size() != 1) {
    std::fputs(help, stderr);
    return 2;
  }
  route::RoadImportOptions options;
  options.source = args.get("source").value_or(default_source(args.words[0]));
  options.replace_all = args.has("replace");
  auto config = Config::from_environment();
  auto conn = connect_with_retry(config, 10);
  registry::migrate(conn);  // like `sample`: a fresh database gets the schema the rows need
  auto progress = [](const std::string& line) { std::fprintf(stderr, "import-roads: %s\n", line.c_str()); };
  progress("reading " + args.words[0]);
  auto stats = route::import_osm_roads(conn, args.words[0], options, progress);
  std::printf("{\"source\": \"%s\", \"edges\": %zu, \"restrictions\": %zu, \"removed\": %zu}\n", options.source.c_str(), stats.edges,
              stats.restrictions, stats.removed);
  return 0;
}

}  // namespace wangge::app
