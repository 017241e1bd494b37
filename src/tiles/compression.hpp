// gzip for tiles: compressed once when a tile is drawn (and cached so), inflated again only for a
// client that cannot take gzip.
#pragma once

#include <string>

namespace wangge::tiles {

// Fast level (1) of libdeflate. Throws std::runtime_error if libdeflate fails.
std::string gzip(const std::string& data);
// Inflates a gzip stream (zlib). Throws std::runtime_error when it is not one.
std::string gunzip(const std::string& data);

}  // namespace wangge::tiles
