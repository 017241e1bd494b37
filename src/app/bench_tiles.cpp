// `wangge bench tiles`: the uncached tile path in process, apples to apples with pgbench running
// ST_AsMVT (neither has HTTP in it). Loads the layers as `serve` does, with the cache off, and draws
// the same tile lists as tools/bench/tiles, uncompressed (ST_AsMVT returns uncompressed MVT too), on
// one thread and on as many threads as asked.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <protozero/pbf_reader.hpp>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "http/resources.hpp"
#include "tiles/service.hpp"

namespace wangge::app {
namespace {

using Clock = std::chrono::steady_clock;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "z/x/y" per line, as tools/bench/tiles writes them.
std::vector<tiles::TileId> read_tiles(const std::string& path) {
  std::vector<tiles::TileId> out;
  std::istringstream in(read_text(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto a = line.find('/'), b = line.find('/', a + 1);
    if (a == std::string::npos || b == std::string::npos) throw std::runtime_error(path + ": not z/x/y: " + line);
    auto id = tiles::parse_tile(std::string_view(line).substr(0, a), std::string_view(line).substr(a + 1, b - a - 1),
                                std::string_view(line).substr(b + 1));
    if (!id) throw std::runtime_error(path + ": not a tile: " + line);
    out.push_back(*id);
  }
  if (out.empty()) throw std::runtime_error(path + ": no tiles");
  return out;
}

// Independent of the ETag's hash, so that digests stay comparable when that changes.
std::string fnv1a(const std::string& data) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

// The most vertices any one feature's geometry has in an MVT (MoveTo and LineTo points; spec 4.3),
// checked against the bound of 65,535.
std::size_t most_vertices(const std::string& tile) {
  std::size_t most = 0;
  protozero::pbf_reader t(tile);
  while (t.next(3)) {
    protozero::pbf_reader layer = t.get_message();
    while (layer.next(2)) {
      protozero::pbf_reader feature = layer.get_message();
      while (feature.next(4)) {
        auto geometry = feature.get_packed_uint32();
        std::size_t vertices = 0;
        for (auto it = geometry.begin(); it != geometry.end();) {
          const std::uint32_t command = *it++, id = command & 7, count = command >> 3;
          if (id == 1 || id == 2) {
            vertices += count;
            for (std::uint32_t k = 0; k < 2 * count && it != geometry.end(); ++k) ++it;
          }
        }
        most = std::max(most, vertices);
      }
    }
  }
  return most;
}

struct Run {
  double tiles_per_second = 0, p50_ms = 0, p99_ms = 0;
};

// `threads` workers draw the list round and round (each from its own offset) for `seconds`.
Run run(tiles::TileService& service, const std::vector<std::string>& layers, const std::vector<tiles::TileId>& list, int threads,
        double seconds, tiles::TileService::ClientGzip gzip) {
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(threads));
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto& lat = latencies[static_cast<std::size_t>(t)];
      std::size_t i = list.size() * static_cast<std::size_t>(t) / static_cast<std::size_t>(threads);
      while (!stop.load(std::memory_order_relaxed)) {
        const auto s = Clock::now();
        auto tile = service.tile(layers, list[i], "", nullptr, std::nullopt, gzip);
        lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        if (++i == list.size()) i = 0;
      }
    });
  while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Run r;
  r.tiles_per_second = static_cast<double>(all.size()) / elapsed;
  r.p50_ms = all[all.size() / 2];
  r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

}  // namespace

int bench_tiles(const Args& args) {
  const char* help =
      "usage: wangge bench tiles --tiles z10.txt,z12.txt,z14.txt [--layers layers.json] [--layer grid]\n"
      "                          [--seconds 5] [--threads 2] [--gzip] [--digests FILE]\n\n"
      "Loads the tile layers from WANGGE_DATABASE_URL as `serve` does (the built-in tiles/layers.json,\n"
      "or --layers), with the tile cache off, and draws every listed tile (z/x/y per line) of --layer,\n"
      "uncompressed, round and round for --seconds on one thread and then on --threads threads. Prints\n"
      "tiles/s, p50 and p99 per list (--gzip: also gzip-compressed on --threads, as browsers get it),\n"
      "the largest tile and the most vertices of one geometry, and checks that every tile encodes to\n"
      "the same bytes each time (exit status 1 when one does not, or a geometry has over 65,535\n"
      "vertices); --digests writes \"z/x/y FNV-1a bytes\" per tile, to compare the output of\n"
      "two builds. tools/bench/tiles runs it beside ST_AsMVT.\n";
  if (print_help(args, help)) return 0;
  auto lists = args.get("tiles");
  if (!lists) {
    std::fputs(help, stderr);
    return 2;
  }
  const std::string layer = args.get("layer").value_or("grid");
  const double seconds = static_cast<double>(args.number("seconds", 5));
  const int threads = static_cast<int>(args.number("threads", 2));
  auto config =
      tiles::TileConfig::parse(args.get("layers") ? read_text(*args.get("layers")) : std::string(*http::resource("tiles/layers.json")));
  tiles::TileService service(std::move(config), 0);
  if (!service.has_layer(layer)) throw std::runtime_error("no tile layer is called " + layer);
  {
    auto env = Config::from_environment();
    auto conn = connect_with_retry(env, 10);
    const auto t0 = Clock::now();
    service.load(conn);
    std::printf("%-44s %12.3f s\n", "layers loaded (read + shared-arc topology)", std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const std::vector<std::string> layers{layer};
  std::printf("%-44s %12s %9s %9s\n", "in process, uncompressed, cache off", "tiles/s", "p50 ms", "p99 ms");
  int status = 0;
  std::ofstream digest_file;
  if (auto f = args.get("digests")) digest_file.open(*f);
  std::stringstream names(*lists);
  std::string path;
  while (std::getline(names, path, ',')) {
    const auto list = read_tiles(path);
    const int z = list.front().z;
    // A first pass warms the caches and records each tile's ETag; the second must match it byte
    // for byte (ETags are only as good as this).
    std::vector<std::string> etags;
    std::size_t largest = 0, differing = 0, vertices = 0;
    for (const auto& id : list) {
      auto t = service.tile(layers, id, "", nullptr, std::nullopt, tiles::TileService::ClientGzip::refused);
      etags.push_back(t->etag);
      largest = std::max(largest, t->raw_bytes);
      vertices = std::max(vertices, most_vertices(t->raw));
      if (digest_file.is_open()) digest_file << id.z << '/' << id.x << '/' << id.y << ' ' << fnv1a(t->raw) << ' ' << t->raw_bytes << '\n';
    }
    for (std::size_t i = 0; i < list.size(); ++i)
      if (service.tile(layers, list[i], "", nullptr, std::nullopt, tiles::TileService::ClientGzip::refused)->etag != etags[i]) ++differing;
    char label[80];
    const Run one = run(service, layers, list, 1, seconds, tiles::TileService::ClientGzip::refused);
    std::snprintf(label, sizeof label, "z%d wangge in process, 1 thread", z);
    std::printf("%-44s %12.1f %9.2f %9.2f\n", label, one.tiles_per_second, one.p50_ms, one.p99_ms);
    const Run many = run(service, layers, list, threads, seconds, tiles::TileService::ClientGzip::refused);
    std::snprintf(label, sizeof label, "z%d wangge in process, %d threads", z, threads);
    std::printf("%-44s %12.1f %9.2f %9.2f\n", label, many.tiles_per_second, many.p50_ms, many.p99_ms);
    if (args.has("gzip")) {
      const Run packed = run(service, layers, list, threads, seconds, tiles::TileService::ClientGzip::accepted);
      std::snprintf(label, sizeof label, "z%d wangge in process, %d threads, gzip", z, threads);
      std::printf("%-44s %12.1f %9.2f %9.2f\n", label, packed.tiles_per_second, packed.p50_ms, packed.p99_ms);
    }
    std::snprintf(label, sizeof label, "z%d largest tile, most vertices/geometry", z);
    std::printf("%-44s %9.1f KB %9zu\n", label, static_cast<double>(largest) / 1024.0, vertices);
    std::snprintf(label, sizeof label, "z%d tiles not repeatable (must be 0)", z);
    std::printf("%-44s %12zu (of %zu)\n", label, differing, list.size());
    if (differing || vertices > 65535) status = 1;
  }
  std::fflush(stdout);
  return status;
}

}  // namespace wangge::app
