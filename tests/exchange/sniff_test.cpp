// What an upload says about itself: text encodings, .cpg names, .prj kinds, ZIP entry names.
#include <gtest/gtest.h>

#include <functional>

#include "core/error.hpp"
#include "exchange/sniff.hpp"

using namespace wangge::exchange;

namespace {

const char* const kGbkSuzhou = "\xB9\xC3\xCB\xD5\xC7\xF8";  // 姑苏区 in GBK

std::string code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const wangge::Error& e) {
    return e.code();
  }
  return "";
}

}  // namespace

TEST(Sniff, Utf8RefusesWhatPostgresRefuses) {
  EXPECT_TRUE(valid_utf8("姑苏区 abc"));
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));  // U+1F600
  EXPECT_FALSE(valid_utf8(kGbkSuzhou));
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));      // overlong, 3 bytes
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xE5\xA7"));          // cut short
  EXPECT_FALSE(valid_utf8("\x80"));
}

TEST(Sniff, GbkAcceptsWindowsCodePage936) {
  EXPECT_TRUE(valid_gbk(kGbkSuzhou));
  EXPECT_TRUE(valid_gbk("abc\x80"));
  EXPECT_FALSE(valid_gbk("\xFF\xFF"));
  EXPECT_FALSE(valid_gbk("\xB9"));      // lead byte without its trail
  EXPECT_FALSE(valid_gbk("\xB9\x7F"));  // 0x7F is no trail byte
}

TEST(Sniff, CpgNamesAreSpelledForGdal) {
  EXPECT_EQ(cpg_encoding("UTF-8\r\n"), "UTF-8");
  EXPECT_EQ(cpg_encoding("\xEF\xBB\xBFutf8"), "UTF-8");
  EXPECT_EQ(cpg_encoding("65001"), "UTF-8");
  EXPECT_EQ(cpg_encoding("936"), "CP936");
  EXPECT_EQ(cpg_encoding("gbk"), "CP936");
  EXPECT_EQ(cpg_encoding("1252"), "CP1252");
  EXPECT_EQ(cpg_encoding("ISO-8859-1"), "ISO-8859-1");
  EXPECT_EQ(cpg_encoding(" \n"), std::nullopt);
}

TEST(Sniff, GbkUnderACpgSayingUtf8IsReadAsGbk) {
  TextScan scan;
  scan.add("ABC");
  scan.add(kGbkSuzhou);
  ASSERT_TRUE(needs_scan(EncodingSource::cpg, std::string("UTF-8")));
  const auto choice = choose_encoding(EncodingSource::cpg, std::string("UTF-8"), scan);
  EXPECT_EQ(choice.open_with, "CP936");
  EXPECT_NE(choice.note.find("the .cpg says UTF-8"), std::string::npos) << choice.note;
}

TEST(Sniff, TextThatIsNeitherUtf8NorGbkIsRefused) {
  TextScan scan;
  scan.add("\xFF\xFE\xFD");
  EXPECT_FALSE(scan.utf8);
  EXPECT_FALSE(scan.gbk);
  EXPECT_EQ(code_of([&] { choose_encoding(EncodingSource::cpg, std::string("UTF-8"), scan); }), "encoding_mismatch");
  EXPECT_EQ(code_of([&] { choose_encoding(EncodingSource::none, std::nullopt, scan); }), "encoding_mismatch");
}

TEST(Sniff, DeclaredEncodingsOtherThanUtf8AreLeftToGdal) {
  EXPECT_FALSE(needs_scan(EncodingSource::cpg, std::string("CP936")));
  EXPECT_FALSE(needs_scan(EncodingSource::ldid, std::string("77")));
  EXPECT_FALSE(needs_scan(EncodingSource::caller, std::string("UTF-8")));
  EXPECT_EQ(choose_encoding(EncodingSource::cpg, std::string("CP936"), std::nullopt).open_with, std::nullopt);
  EXPECT_EQ(choose_encoding(EncodingSource::ldid, std::string("77"), std::nullopt).note, "from LDID 77");
  EXPECT_EQ(choose_encoding(EncodingSource::caller, std::string("CP936"), std::nullopt).open_with, "CP936");
  // Undeclared UTF-8 stays the default, and a clean UTF-8 .cpg is reported as before.
  EXPECT_EQ(choose_encoding(EncodingSource::none, std::nullopt, TextScan{}).open_with, "UTF-8");
  EXPECT_EQ(choose_encoding(EncodingSource::cpg, std::string("UTF-8"), TextScan{}).note, "from .cpg");
}

TEST(Sniff, PrjKindsFromTheRootKeyword) {
  EXPECT_EQ(
      sniff_prj(
          R"(GEOGCS["China Geodetic Coordinate System 2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]])"),
      CrsKind::geographic);
  EXPECT_EQ(
      sniff_prj(
          R"(PROJCS["CGCS2000_3_Degree_GK_CM_120E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],UNIT["Meter",1.0]])"),
      CrsKind::projected);
  EXPECT_EQ(sniff_prj(R"(LOCAL_CS["site grid",LOCAL_DATUM["x",0],UNIT["Meter",1.0],AXIS["X",EAST],AXIS["Y",NORTH]])"), CrsKind::local);
  EXPECT_EQ(sniff_prj(R"(ENGCRS["site",EDATUM["x"],CS[Cartesian,2]])"), CrsKind::local);
  EXPECT_EQ(sniff_prj(R"(GEOCCS["geocentric",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]]])"), CrsKind::other);
  EXPECT_EQ(sniff_prj("\n  "), CrsKind::none);
  EXPECT_EQ(sniff_prj("hello world"), CrsKind::unreadable);
  EXPECT_EQ(sniff_prj("GEOGCS[\"x\""), CrsKind::unreadable);    // never closed
  EXPECT_EQ(sniff_prj("GEOGCS[\"x]\"]"), CrsKind::geographic);  // a bracket inside a string
  EXPECT_EQ(sniff_prj("GEOGCS[\"x\"]]"), CrsKind::unreadable);  // one bracket too many
  EXPECT_EQ(sniff_prj("GEOGCS[\"x\"] junk"), CrsKind::unreadable);
  EXPECT_STREQ(crs_kind_name(CrsKind::local), "local");
}

TEST(Sniff, ArchiveNamesStayInsideTheArchive) {
  EXPECT_TRUE(safe_archive_name("citybase.shp"));
  EXPECT_TRUE(safe_archive_name("dir/sub/citybase.shp"));
  EXPECT_TRUE(safe_archive_name("a..b.shp"));
  EXPECT_FALSE(safe_archive_name("../citybase.shp"));
  EXPECT_FALSE(safe_archive_name("dir/../../etc/passwd"));
  EXPECT_FALSE(safe_archive_name("dir\\..\\x.shp"));
  EXPECT_FALSE(safe_archive_name("/etc/passwd"));
  EXPECT_FALSE(safe_archive_name("C:\\x.shp"));
  EXPECT_FALSE(safe_archive_name(std::string_view("a\0b", 3)));
  EXPECT_FALSE(safe_archive_name(""));
}
