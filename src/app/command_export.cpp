#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "core/config.hpp"
#include "exchange/export.hpp"

namespace wangge::app {

int command_export(const Args& args) {
  const char* help =
      "usage: wangge export [--layer areas|incidents|checkpoints] [--level LEVEL] [--area CODE] [--at TIME]\n"
      "                     [--format shapefile|gpkg|geojson|flatgeobuf|kml|csv] [--crs EPSG:4490]\n"
      "                     [--encoding utf-8|gbk] [--output FILE|-]\n\n"
      "Writes a layer with GDAL, as GET /v1/export does (same options, no scope: the whole registry).\n"
      "  --layer     areas (default), incidents or checkpoints\n"
      "  --level     areas of one level: province, city, county, township, village, grid, microgrid\n"
      "  --area      only the subtree of this area (incidents/checkpoints: by their grid)\n"
      "  --at        the state at this RFC 3339 time (areas: versions then valid; incidents: reported by then)\n"
      "  --format    shapefile (a ZIP, default), gpkg, geojson, flatgeobuf, kml, csv\n"
      "  --crs       EPSG:4490 (default), 4326, 3857, 4527-4529, 4548-4550\n"
      "  --encoding  shapefile text: utf-8 (default) or gbk (LDID 0x4D, .cpg 936)\n"
      "  --output    where to write (default: the suggested name in the current directory; - for stdout)\n";
  if (print_help(args, help)) return 0;
  if (!args.words.empty()) {
    std::fputs(help, stderr);
    return 2;
  }
  std::map<std::string, std::string> params;
  for (const auto& [k, v] : args.options)
    if (k != "output") params[k] = v;
  auto options = exchange::parse_export_options(params);
  auto config = Config::from_environment();
  auto conn = connect_with_retry(config, 10);
  auto result = exchange::export_layer(conn, options);
  const std::string output = args.get("output").value_or(result.filename);
  if (output == "-") {
    std::ifstream in(result.file, std::ios::binary);
    std::cout << in.rdbuf();
    std::cout.flush();
    if (!std::cout) throw std::runtime_error("cannot write to standard output");
  } else {
    std::filesystem::copy_file(result.file, output, std::filesystem::copy_options::overwrite_existing);
  }
  std::fprintf(stderr, "wrote %lld features to %s\n", result.features, output == "-" ? "standard output" : output.c_str());
  return 0;
}

}  // namespace wangge::app
