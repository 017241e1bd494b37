#include <cstdio>

#include "app/commands.hpp"
#include "app/common.hpp"

namespace wangge::app {

int command_bench(const Args& args) {
  if (print_help(args, "usage: wangge bench load\n\nMeasures loading every current area from PostGIS and the memory it takes.\n"))
    return 0;
  std::fputs("wangge bench: use tools/bench/keel for now\n", stderr);
  return 2;
}

}  // namespace wangge::app
