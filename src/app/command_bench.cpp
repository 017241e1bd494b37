#include <cstdio>
#include <fstream>
#include <string>

#include "app/commands.hpp"
#include "app/common.hpp"
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

}  // namespace

int command_bench(const Args& args) {
  const char* help =
      "usage: wangge bench load [--repeat N]\n\n"
      "Loads every current area from WANGGE_DATABASE_URL into the in-memory area cache, as `serve`\n"
      "does at start, and prints the time and the process's resident memory. tools/bench/keel runs\n"
      "the whole keel benchmark (load, RSS, request throughput) beside its peers.\n";
  if (print_help(args, help)) return 0;
  if (args.words.size() != 1 || args.words[0] != "load") {
    std::fputs(help, stderr);
    return 2;
  }
  auto config = Config::from_environment();
  auto conn = connect_with_retry(config, 10);
  const long long repeat = args.number("repeat", 3);
  const long before = resident_kb();
  for (long long i = 0; i < repeat; ++i) {
    registry::AreaCache cache;
    auto stats = cache.load_all(conn);
    std::printf("load %lld: %zu areas in %.3f s, RSS %.0f MB (%.0f MB before)\n", i + 1, stats.areas, stats.seconds,
                resident_kb() / 1024.0, before / 1024.0);
  }
  return 0;
}

}  // namespace wangge::app
