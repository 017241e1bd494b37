// A statistics table as an office opens it: named columns, one row per group, written as CSV
// (RFC 4180, UTF-8 with a byte-order mark so that spreadsheet programs read Chinese names) or as
// XLSX through GDAL's XLSX driver.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace wangge::stats {

struct Table {
  std::string name;                  // the sheet's name, e.g. "cases"
  std::vector<std::string> columns;  // in order
  std::vector<nlohmann::json> rows;  // objects; a missing or null member is an empty cell
};

std::string to_csv(const Table& table);
// The bytes of an .xlsx file holding the table as one sheet: whole numbers as numbers, rates and
// hours as reals, the rest as text.
std::string to_xlsx(const Table& table);

}  // namespace wangge::stats
