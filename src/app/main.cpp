// wangge: the grid-governance GIS server and its tools.
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "app/commands.hpp"
#include "core/error.hpp"

namespace wangge::app {

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

long long Args::number(const std::string& name, long long fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    long long n = std::stoll(*v, &used);
    if (used != v->size()) throw std::invalid_argument(name);
    return n;
  } catch (const std::exception&) {
    throw std::runtime_error("--" + name + " needs a whole number, got '" + *v + "'");
  }
}

Args parse_args(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string w = argv[i];
    if (w.rfind("--", 0) == 0) {
      std::string name = w.substr(2);
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        a.options[name.substr(0, eq)] = name.substr(eq + 1);
      } else if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0) {
        a.options[name] = argv[++i];
      } else {
        a.options[name] = "";
      }
    } else if (w == "-h") {
      a.options["help"] = "";
    } else {
      a.words.push_back(w);
    }
  }
  return a;
}

}  // namespace wangge::app

namespace {

const char* kUsage =
    "wangge: GIS server for grid-based governance (网格化管理)\n"
    "\n"
    "usage: wangge <command> [options]   (wangge <command> --help for details)\n"
    "\n"
    "commands:\n"
    "  serve          serve the HTTP API (migrates the database first)\n"
    "  db migrate     apply the schema migrations\n"
    "  sample         generate the synthetic sample jurisdiction and load it\n"
    "  token create   create an API token for a role and scope (machines)\n"
    "  user create    create a person's account for the console (also passwd, disable, list)\n"
    "  bench          measure start-up load time and memory\n"
    "  export         write a layer to a GIS file (shapefile ZIP, GeoPackage, GeoJSON, ...)\n"
    "  import         read areas from a GIS file, validate, and insert them in one transaction\n"
    "  import-roads   read OpenStreetMap roads into the routable street network\n"
    "\n"
    "environment: WANGGE_DATABASE_URL (default: the embedded cluster under var/pg), WANGGE_PORT (8080), WANGGE_VAR_DIR (var), see "
    "README.md\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace wangge::app;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    Args args = parse_args(argc, argv, 2);
    if (command == "serve") return command_serve(args);
    if (command == "db") return command_db(args);
    if (command == "sample") return command_sample(args);
    if (command == "token") return command_token(args);
    if (command == "user") return command_user(args);
    if (command == "bench") return command_bench(args);
    if (command == "export") return command_export(args);
    if (command == "import") return command_import(args);
    if (command == "import-roads") return command_import_roads(args);
    std::fprintf(stderr, "wangge: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const wangge::Error& e) {
    std::fprintf(stderr, "wangge %s: %s (%s)\n", command.c_str(), e.what(), e.code().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wangge %s: %s\n", command.c_str(), e.what());
    return 1;
  }
}
