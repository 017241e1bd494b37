// The image sniffer of case photos, without a database: each accepted format by its signature,
// and the near misses that must not pass for one.
#include <gtest/gtest.h>

#include <string>

#include "incidents/attachments.hpp"

namespace {

using wangge::incidents::sniff_image;

std::string bytes(const char* data, std::size_t n) { return std::string(data, n); }

TEST(SniffImage, KnowsTheThreeFormatsByTheirSignatures) {
  EXPECT_EQ(sniff_image(bytes("\xFF\xD8\xFF\xE0\x00\x10JFIF", 10)), "image/jpeg");
  EXPECT_EQ(sniff_image(bytes("\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR", 16)), "image/png");
  EXPECT_EQ(sniff_image(bytes("RIFF\x24\x00\x00\x00WEBPVP8 ", 16)), "image/webp");
}

TEST(SniffImage, RefusesNearMissesAndOtherFormats) {
  EXPECT_EQ(sniff_image(""), std::nullopt);
  EXPECT_EQ(sniff_image(bytes("\xFF\xD8", 2)), std::nullopt);                       // a JPEG cut before its first marker
  EXPECT_EQ(sniff_image(bytes("\x89PNG\r\n\x1A", 7)), std::nullopt);                // a PNG signature one byte short
  EXPECT_EQ(sniff_image(bytes("\x89PNG\n\r\x1A\n", 8)), std::nullopt);              // line ends swapped (a text transfer)
  EXPECT_EQ(sniff_image(bytes("RIFF\x24\x00\x00\x00WAVEfmt ", 16)), std::nullopt);  // RIFF, but sound
  EXPECT_EQ(sniff_image("RIFFWEBP"), std::nullopt);                                 // WEBP not at offset 8
  EXPECT_EQ(sniff_image("GIF89a"), std::nullopt);
  EXPECT_EQ(sniff_image("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), std::nullopt);
  EXPECT_EQ(sniff_image(bytes("\x00\x00\x00\x0CjP  ", 8)), std::nullopt);  // JPEG 2000 is not JPEG
}

}  // namespace
