// dBase byte budgets: names and values cut on character boundaries, in UTF-8 and GBK.
#include <gtest/gtest.h>

#include "exchange/text.hpp"

using wangge::exchange::dbf_field_names;
using wangge::exchange::encoded_length;
using wangge::exchange::Encoding;
using wangge::exchange::truncate_encoded;

TEST(DbfText, EncodedLengthCountsBytesOfTheTargetEncoding) {
  EXPECT_EQ(encoded_length("姑苏区", Encoding::utf8), 9u);
  EXPECT_EQ(encoded_length("姑苏区", Encoding::gbk), 6u);
  EXPECT_EQ(encoded_length("a1姑", Encoding::gbk), 4u);
}

TEST(DbfText, TruncationNeverSplitsACharacter) {
  // 10 bytes of UTF-8 hold 3 CJK characters (9 bytes), never 3⅓.
  EXPECT_EQ(truncate_encoded("网格员数量", 10, Encoding::utf8), "网格员");
  // 10 bytes of GBK hold 5.
  EXPECT_EQ(truncate_encoded("网格员数量统计", 10, Encoding::gbk), "网格员数量");
  EXPECT_EQ(truncate_encoded("ab网", 3, Encoding::utf8), "ab");
  EXPECT_EQ(truncate_encoded("short", 254, Encoding::gbk), "short");
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "区";
  EXPECT_EQ(truncate_encoded(long_text, 254, Encoding::utf8).size(), 252u);                         // 84 characters
  EXPECT_EQ(encoded_length(truncate_encoded(long_text, 254, Encoding::gbk), Encoding::gbk), 200u);  // fits whole
  long_text += long_text;
  EXPECT_EQ(encoded_length(truncate_encoded(long_text, 254, Encoding::gbk), Encoding::gbk), 254u);  // 127 characters
}

TEST(DbfText, FieldNamesFitTenBytesAndStayUnique) {
  auto names = dbf_field_names({"description", "descriptions", "DESCRIPTIO", "code"}, Encoding::utf8);
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[0], "descriptio");
  EXPECT_EQ(names[1], "descript_1");
  EXPECT_EQ(names[2], "DESCRIPT_2");  // dBase compares names without case
  EXPECT_EQ(names[3], "code");
  auto cjk = dbf_field_names({"上级编码", "上级编号", "网格员数"}, Encoding::utf8);
  EXPECT_EQ(cjk[0], "上级编");
  EXPECT_EQ(cjk[1], "上级_1");  // "上级编" is taken; the suffix replaces whole characters
  EXPECT_EQ(cjk[2], "网格员");
  for (const auto& n : cjk) EXPECT_LE(n.size(), 10u);
  auto gbk = dbf_field_names({"上级编码", "上级编号"}, Encoding::gbk);
  EXPECT_EQ(gbk[0], "上级编码");  // 8 bytes in GBK: kept whole
  EXPECT_EQ(gbk[1], "上级编号");
}
