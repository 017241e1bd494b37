// The phases of an import that read the file (exchange/import_phases.hpp), on shapefiles and ZIPs
// written here with GDAL and minizip: no database, no server.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <limits>

#include "core/error.hpp"
#include "exchange/export.hpp"
#include "exchange/import_phases.hpp"
#include "exchange/zip.hpp"

using namespace wangge::exchange;
namespace fs = std::filesystem;

namespace {

std::string code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const wangge::Error& e) {
    return e.code();
  }
  return "";
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A one-feature polygon shapefile `dir/a.shp` with a `name` field holding 姑苏区, its text written
// in `encoding` (GDAL writes the matching .cpg).
fs::path write_shapefile(const fs::path& dir, const char* encoding) {
  gdal_init();
  const fs::path shp = dir / "a.shp";
  GDALDriverH driver = GDALGetDriverByName("ESRI Shapefile");
  Dataset ds(GDALCreate(driver, shp.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
  EXPECT_TRUE(ds);
  Options lco;
  lco.set("ENCODING", encoding);
  Srs srs = srs_from_epsg(4490);
  OGRLayerH layer = GDALDatasetCreateLayer(ds.get(), "a", srs.get(), wkbPolygon, lco.get());
  EXPECT_TRUE(layer);
  FieldDefn code(OGR_Fld_Create("code", OFTString));
  FieldDefn name(OGR_Fld_Create("name", OFTString));
  OGR_L_CreateField(layer, code.get(), TRUE);
  OGR_L_CreateField(layer, name.get(), TRUE);
  Feature f(OGR_F_Create(OGR_L_GetLayerDefn(layer)));
  OGR_F_SetFieldString(f.get(), 0, "320508");
  OGR_F_SetFieldString(f.get(), 1, "姑苏区");
  OGRGeometryH g = nullptr;
  char wkt[] = "POLYGON ((120.5 31.3,120.7 31.3,120.7 31.4,120.5 31.3))";
  char* cursor = wkt;
  OGR_G_CreateFromWkt(&cursor, nullptr, &g);
  OGR_F_SetGeometryDirectly(f.get(), g);
  EXPECT_EQ(OGR_L_CreateFeature(layer, f.get()), OGRERR_NONE);
  return shp;
}

std::string first_name(const ImportSource& source, const EncodingChoice& encoding) {
  OpenedLayer opened = open_layer(source, encoding);
  OGR_L_ResetReading(opened.layer);
  Feature f(OGR_L_GetNextFeature(opened.layer));
  return f ? OGR_F_GetFieldAsString(f.get(), OGR_F_GetFieldIndex(f.get(), "name")) : "";
}

}  // namespace

TEST(ImportPhases, GbkUnderACpgSayingUtf8IsDetectedAndDecoded) {
  TempDir dir;
  const fs::path shp = write_shapefile(dir.path(), "CP936");
  write_text(dir.path() / "a.cpg", "UTF-8");
  const ImportSource source = locate_dataset(shp);
  EXPECT_TRUE(source.shapefile);
  const EncodingChoice encoding = detect_encoding(source, std::nullopt);
  EXPECT_EQ(encoding.open_with, "CP936");
  EXPECT_EQ(first_name(source, encoding), "姑苏区");
}

TEST(ImportPhases, Utf8UnderACpgSayingUtf8IsLeftAlone) {
  TempDir dir;
  const fs::path shp = write_shapefile(dir.path(), "UTF-8");
  const EncodingChoice encoding = detect_encoding(locate_dataset(shp), std::nullopt);
  EXPECT_EQ(encoding.note, "from .cpg");
  EXPECT_EQ(first_name(locate_dataset(shp), encoding), "姑苏区");
}

TEST(ImportPhases, ACallerSayingUtf8IsBelievedAndTheTextChecksCatchIt) {
  TempDir dir;
  const fs::path shp = write_shapefile(dir.path(), "CP936");
  const EncodingChoice encoding = detect_encoding(locate_dataset(shp), std::string("UTF-8"));
  EXPECT_EQ(encoding.open_with, "UTF-8");
  EXPECT_FALSE(valid_utf8(first_name(locate_dataset(shp), encoding)));
}

TEST(ImportPhases, IncompleteShapefilesAreRefused) {
  TempDir dir;
  const fs::path shp = write_shapefile(dir.path(), "UTF-8");
  fs::remove(dir.path() / "a.shx");
  EXPECT_EQ(code_of([&] { locate_dataset(shp); }), "unreadable_file");
}

TEST(ImportPhases, LocalAndUnreadablePrjAreUnsupportedCrs) {
  TempDir dir;
  const fs::path shp = write_shapefile(dir.path(), "UTF-8");
  const ImportSource source = locate_dataset(shp);
  write_text(dir.path() / "a.prj", R"(LOCAL_CS["site grid",UNIT["Meter",1.0]])");
  {
    OpenedLayer opened = open_layer(source, {});
    EXPECT_EQ(code_of([&] { open_reprojected(source, opened.layer, std::nullopt); }), "unsupported_crs");
    // The caller's CRS replaces the file's.
    EXPECT_EQ(code_of([&] { open_reprojected(source, opened.layer, std::string("EPSG:4326")); }), "");
  }
  write_text(dir.path() / "a.prj", "this is not a coordinate system");
  OpenedLayer opened = open_layer(source, {});
  EXPECT_EQ(code_of([&] { open_reprojected(source, opened.layer, std::nullopt); }), "unsupported_crs");
}

TEST(ImportPhases, AGeographicPrjReprojectsToCgcs2000) {
  TempDir dir;
  const fs::path shp = write_shapefile(dir.path(), "UTF-8");
  const ImportSource source = locate_dataset(shp);
  OpenedLayer opened = open_layer(source, {});
  const Reprojection r = open_reprojected(source, opened.layer, std::nullopt);
  EXPECT_EQ(r.note(), "from the file");
  EXPECT_FALSE(r.assumed());
}

TEST(ImportPhases, ZipEntriesLeavingTheArchiveAreRefused) {
  TempDir dir;
  const fs::path zip = dir.path() / "upload.zip";
  {
    ZipWriter w(zip);
    w.add_bytes("../a.shp", "x");
    w.add_bytes("a.dbf", "x");
    w.close();
  }
  EXPECT_EQ(code_of([&] { locate_dataset(zip); }), "unreadable_file");
}

TEST(ImportPhases, ZipWithoutAnythingImportableIsRefused) {
  TempDir dir;
  const fs::path zip = dir.path() / "upload.zip";
  {
    ZipWriter w(zip);
    w.add_bytes("readme.txt", "hello");
    w.close();
  }
  EXPECT_EQ(code_of([&] { locate_dataset(zip); }), "unreadable_file");
}

TEST(ImportPhases, NonFiniteAndOutOfRangeCoordinates) {
  Geometry g(OGR_G_CreateGeometry(wkbLineString));
  OGR_G_AddPoint_2D(g.get(), 120, 30);
  EXPECT_TRUE(finite_coordinates(g.get()));
  EXPECT_TRUE(within_lon_lat(g.get()));
  OGR_G_AddPoint_2D(g.get(), 200, 30);
  EXPECT_FALSE(within_lon_lat(g.get()));
  OGR_G_AddPoint_2D(g.get(), std::numeric_limits<double>::infinity(), 30);
  EXPECT_FALSE(finite_coordinates(g.get()));
}
