#include <chrono>
#include <cstdio>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "registry/migrate.hpp"
#include "sample/generator.hpp"
#include "sample/loader.hpp"

namespace wangge::app {

int command_sample(const Args& args) {
  if (print_help(args,
                 "usage: wangge sample [--seed N] [--grids N] [--micro N] [--if-empty]\n\n"
                 "Generates the synthetic sample jurisdiction (a county in Zhejiang, EPSG:4490; a province of\n"
                 "counties at large sizes) and loads it into an empty registry: areas, streets, workers,\n"
                 "incidents and checkpoints. The same seed always gives the same jurisdiction.\n"
                 "  --seed N     generator seed (default 20260521)\n"
                 "  --grids N    number of grids (default 300; 85000 for a Zhejiang-scale benchmark)\n"
                 "  --micro N    number of micro-grids in total (default 0; 450000 at Zhejiang scale)\n"
                 "  --if-empty   do nothing (successfully) when the registry already holds areas\n"))
    return 0;
  sample::Options o;
  o.seed = static_cast<std::uint64_t>(args.number("seed", static_cast<long long>(o.seed)));
  o.grids = static_cast<int>(args.number("grids", o.grids));
  o.micro = static_cast<int>(args.number("micro", o.micro));
  if (o.grids < 1 || o.micro < 0) throw std::runtime_error("--grids must be at least 1 and --micro at least 0");
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
  auto t0 = std::chrono::steady_clock::now();
  auto j = sample::generate(o);
  auto t1 = std::chrono::steady_clock::now();
  auto counts = sample::load(conn, j);
  auto t2 = std::chrono::steady_clock::now();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf(
      "sample loaded: %lld areas, %lld streets, %lld workers, %lld incidents, %lld checkpoints "
      "(generated in %.1f s, loaded in %.1f s)\n",
      counts.areas, counts.streets, counts.workers, counts.incidents, counts.checkpoints, secs(t0, t1), secs(t1, t2));
  return 0;
}

}  // namespace wangge::app
