// The HTTP edge's framer, fed what a client sends in pieces of random sizes: however the bytes are
// split, the requests it hands on and its rejection must be those of the unsplit stream. And
// check_head on the raw bytes must never throw. And the edge's cheap check of header values
// (typed_headers_refused, with or without the per-connection memory of lines already read) must
// refuse exactly the requests Pistache's whole parser would refuse.
#include <cstdint>
#include <string>
#include <vector>

#include "http/edge.hpp"

using namespace wangge::http::edge;

namespace {

struct Outcome {
  std::vector<std::string> requests;
  std::optional<Rejection> rejection;
};

Outcome run(std::string_view stream, const std::vector<std::size_t>& cuts, const Limits& limits) {
  RequestFramer framer(limits);
  Outcome out;
  std::size_t at = 0;
  for (std::size_t i = 0; at < stream.size() && !out.rejection; ++i) {
    const std::size_t n = cuts.empty() ? stream.size() : std::min(cuts[i % cuts.size()], stream.size() - at);
    out.rejection = framer.feed(stream.substr(at, n), out.requests);
    at += n;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  // Small limits, so that the fuzzer reaches them.
  const Limits limits{static_cast<std::size_t>(64 + data[0] * 4), static_cast<std::size_t>(1 + data[1] % 16),
                      static_cast<std::size_t>(data[2]) * 8};
  std::vector<std::size_t> cuts;
  for (int i = 0; i < 4; ++i) cuts.push_back(1 + ((data[3] >> (2 * i)) & 3) * 7);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  (void)check_head(stream, limits);
  const Outcome whole = run(stream, {}, limits);
  const Outcome split = run(stream, cuts, limits);
  if (whole.requests != split.requests) __builtin_trap();
  if (whole.rejection.has_value() != split.rejection.has_value()) __builtin_trap();
  if (whole.rejection && (whole.rejection->status != split.rejection->status || whole.rejection->code != split.rejection->code))
    __builtin_trap();
  ReadHeaderLines seen;
  for (const auto& r : whole.requests) {
    if (r.size() > limits.max_head_bytes + limits.max_body_bytes + 64) __builtin_trap();
    const bool pistache = pistache_refuses(r).has_value();
    if (typed_headers_refused(r).has_value() != pistache) __builtin_trap();
    if (typed_headers_refused(r, &seen).has_value() != pistache) __builtin_trap();
  }
  (void)answer_bytes(whole.rejection.value_or(Rejection{400, "x", "y"}));
  return 0;
}
