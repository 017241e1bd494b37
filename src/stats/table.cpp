#include "stats/table.hpp"

#include <cpl_vsi.h>

#include <atomic>

#include "exchange/gdal.hpp"

namespace wangge::stats {
namespace {

std::string cell_text(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// The OGR type of a column: integers when every value is a whole number, reals when some value is
// a fraction, text otherwise.
OGRFieldType column_type(const Table& t, const std::string& column) {
  bool any_float = false, any_number = false;
  for (const auto& row : t.rows) {
    if (!row.contains(column) || row[column].is_null()) continue;
    const auto& v = row[column];
    if (v.is_number_float()) any_float = true;
    if (!v.is_number()) return OFTString;
    any_number = true;
  }
  if (!any_number) return OFTString;
  return any_float ? OFTReal : OFTInteger64;
}

// Frees a /vsimem/ file however the writing ends.
struct MemFile {
  std::string path;
  ~MemFile() { VSIUnlink(path.c_str()); }
};

}  // namespace

std::string to_csv(const Table& t) {
  std::string out = "\xEF\xBB\xBF";
  for (std::size_t c = 0; c < t.columns.size(); ++c) out += (c ? "," : "") + csv_field(t.columns[c]);
  out += "\r\n";
  for (const auto& row : t.rows) {
    for (std::size_t c = 0; c < t.columns.size(); ++c)
      out += (c ? "," : "") + csv_field(row.contains(t.columns[c]) ? cell_text(row[t.columns[c]]) : "");
    out += "\r\n";
  }
  return out;
}

std::string to_xlsx(const Table& t) {
  exchange::gdal_init();
  static std::atomic<unsigned long> counter{0};
  MemFile file{"/vsimem/wangge-stats-" + std::to_string(++counter) + ".xlsx"};
  exchange::ErrorCapture errors;
  GDALDriverH driver = GDALGetDriverByName("XLSX");
  if (!driver) throw exchange::gdal_error("stats: GDAL has no XLSX driver");
  {
    exchange::Dataset ds(GDALCreate(driver, file.path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    if (!ds) errors.fail("stats: creating the XLSX file");
    // FIELD_TYPES=AUTO is for reading; the writer takes the field types given here.
    OGRLayerH layer = GDALDatasetCreateLayer(ds.get(), t.name.c_str(), nullptr, wkbNone, nullptr);
    if (!layer) errors.fail("stats: creating the sheet");
    std::vector<OGRFieldType> types;
    for (const auto& column : t.columns) {
      types.push_back(column_type(t, column));
      exchange::FieldDefn defn(OGR_Fld_Create(column.c_str(), types.back()));
      if (OGR_L_CreateField(layer, defn.get(), TRUE) != OGRERR_NONE) errors.fail("stats: adding column " + column);
    }
    for (const auto& row : t.rows) {
      exchange::Feature f(OGR_F_Create(OGR_L_GetLayerDefn(layer)));
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        if (!row.contains(t.columns[c]) || row[t.columns[c]].is_null()) continue;
        const auto& v = row[t.columns[c]];
        const int i = static_cast<int>(c);
        if (types[c] == OFTInteger64)
          OGR_F_SetFieldInteger64(f.get(), i, v.get<long long>());
        else if (types[c] == OFTReal)
          OGR_F_SetFieldDouble(f.get(), i, v.get<double>());
        else
          OGR_F_SetFieldString(f.get(), i, cell_text(v).c_str());
      }
      if (OGR_L_CreateFeature(layer, f.get()) != OGRERR_NONE) errors.fail("stats: writing a row");
    }
  }  // closing the dataset writes the file
  errors.check("stats: writing the XLSX file");
  vsi_l_offset length = 0;
  GByte* bytes = VSIGetMemFileBuffer(file.path.c_str(), &length, FALSE);
  if (!bytes) throw exchange::gdal_error("stats: the XLSX file was not written");
  return std::string(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(length));
}

}  // namespace wangge::stats
