// Byte budgets of dBase files for text in UTF-8 or GBK: field names of at most 10 bytes, values of
// at most 254, both cut on character boundaries (a cut inside a character shows as garbage in
// ArcGIS and QGIS), names kept unique. Input is always UTF-8; lengths are counted in the encoding
// the file will be written in.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace wangge::exchange {

enum class Encoding { utf8, gbk };

// Length in bytes of the UTF-8 sequence starting with `lead` (1 for stray continuation bytes).
std::size_t utf8_sequence_length(unsigned char lead);
// Bytes the character `ch` (one UTF-8 sequence) takes in `enc`. GBK: ASCII 1, anything else 2
// (characters GBK lacks are written as one '?', so 2 is an upper bound).
std::size_t encoded_char_length(std::string_view ch, Encoding enc);
std::size_t encoded_length(std::string_view utf8, Encoding enc);
// The longest prefix of `utf8` ending on a character boundary whose length in `enc` is ≤ max_bytes.
std::string truncate_encoded(std::string_view utf8, std::size_t max_bytes, Encoding enc);

// dBase field names for `names`: each ≤ 10 bytes in `enc`, cut on character boundaries, unique
// without regard to ASCII case (dBase readers compare names case-insensitively); a clash gets a
// numeric suffix that replaces the tail ("descriptio", "descript_1"...).
std::vector<std::string> dbf_field_names(const std::vector<std::string>& names, Encoding enc);

}  // namespace wangge::exchange
