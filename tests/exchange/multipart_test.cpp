// multipart/form-data parsing without a server: the parts of a curl -F upload, and malformed bodies
// refused with invalid_body rather than read past their end.
#include "exchange/multipart.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

using wangge::exchange::form_parts;
using wangge::exchange::header_param;

TEST(Multipart, HeaderParamsQuotedOrNotAnyCase) {
  EXPECT_EQ(header_param("multipart/form-data; boundary=abc", "boundary"), "abc");
  EXPECT_EQ(header_param("form-data; NAME=\"file\"; filename=\"a;b.zip\"", "name"), "file");
  EXPECT_EQ(header_param("form-data; name=\"file\"; filename=\"a;b.zip\"", "filename"), "a;b.zip");
  EXPECT_EQ(header_param("form-data; name=file", "filename"), "");
  EXPECT_EQ(header_param("", "boundary"), "");
}

TEST(Multipart, PartsOfACurlUpload) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"level\"\r\n\r\ngrid\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"g.csv\"\r\nContent-Type: text/csv\r\n\r\n"
      "a,b\n1,2\n\r\n--XyZ--\r\n";
  auto parts = form_parts(body, "multipart/form-data; boundary=XyZ");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name, "level");
  EXPECT_EQ(parts[0].data, "grid");
  EXPECT_EQ(parts[1].filename, "g.csv");
  EXPECT_EQ(parts[1].content_type, "text/csv");
  EXPECT_EQ(parts[1].data, "a,b\n1,2\n");
}

TEST(Multipart, MalformedBodiesAreBadRequests) {
  const std::string type = "multipart/form-data; boundary=b";
  for (const char* body : {"", "--b", "--b\r\n", "--b\r\nX: y\r\n\r\ndata", "--bx", "--b\r\n\r\n--b--"})
    EXPECT_THROW(form_parts(body, type), wangge::bad_request) << body;
  EXPECT_THROW(form_parts("--b--", "multipart/form-data"), wangge::bad_request);
}
