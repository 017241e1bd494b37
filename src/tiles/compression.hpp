// gzip for tiles: compressed once when a tile is drawn (and cached so), inflated again only for a
// client that cannot take gzip; and for the vendored files, compressed once when first asked for.
#pragma once

#include <string>

namespace wangge::tiles {

// Fast level (1) of libdeflate. Throws std::runtime_error if libdeflate fails.
std::string gzip(const std::string& data);
// A high level of libdeflate (9; its slowest levels gain little more): for what is compressed once
// and sent many times (the vendored scripts and styles). Throws std::runtime_error if libdeflate fails.
std::string gzip_best(const std::string& data);
// Inflates a gzip stream (zlib). Throws std::runtime_error when it is not one.
std::string gunzip(const std::string& data);

}  // namespace wangge::tiles
