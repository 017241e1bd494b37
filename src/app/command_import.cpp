#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "core/error.hpp"
#include "app/common.hpp"
#include "core/config.hpp"
#include "exchange/import.hpp"
#include "registry/areas.hpp"
#include "registry/codes.hpp"
#include "registry/toolkit.hpp"

namespace wangge::app {

int command_import(const Args& args) {
  const char* help =
      "usage: wangge import FILE --level LEVEL [--parent CODE | --parent_field F] [--code_field F] [--name_field F]\n"
      "                     [--crs EPSG:n|gcj02|bd09] [--encoding utf-8|gbk] [--dry_run]\n"
      "                     [--mode insert|upsert|replace-children]\n\n"
      "Imports areas from a shapefile (or its ZIP), GeoPackage, GeoJSON, KML or CSV (WKT), as POST /v1/import.\n"
      "Prints the validation report (JSON). Nothing is written when it lists problems, or with --dry_run.\n"
      "  --crs       the file's CRS when its .prj is missing or wrong; gcj02/bd09 for AMap/Baidu coordinates\n"
      "  --encoding  shapefile text; default: the .cpg, then the LDID, then UTF-8 or GBK as detected\n"
      "  --mode      insert (default): new areas only; upsert: current areas of the same level and parent get\n"
      "              a new version; replace-children: the file is the parent's whole new set of children\n"
      "Progress goes to stderr, the report (JSON) to stdout.\n";
  if (print_help(args, help)) return 0;
  if (args.words.size() != 1) {
    std::fputs(help, stderr);
    return 2;
  }
  std::map<std::string, std::string> params(args.options.begin(), args.options.end());
  if (args.has("dry_run") && params["dry_run"].empty()) params["dry_run"] = "true";
  auto options = exchange::parse_import_options(params);
  const auto started = std::chrono::steady_clock::now();
  options.progress = [&](const std::string& line) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "[%7.1f s] %s\n", s, line.c_str());
  };
  auto config = Config::from_environment();
  registry::CodeRules rules(config);
  registry::AreaStore areas(config, rules);
  toolkit::Toolkit toolkit(config, rules, areas);
  auto conn = connect_with_retry(config, 10);
  registry::Actor cli;  // the command line acts for the operator: whole registry, admin
  cli.role = registry::Role::admin;
  cli.name = "wangge import";
  try {
    auto report = exchange::import_areas(conn, cli, rules, config, args.words[0], options, &toolkit);
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  } catch (const Error& e) {
    // The report of a refused import is the useful part: print it, then fail.
    auto extra = nlohmann::json::parse(e.extra_json(), nullptr, false);
    if (extra.is_object() && extra.contains("report")) std::printf("%s\n", extra["report"].dump(2).c_str());
    throw;
  }
}

}  // namespace wangge::app
