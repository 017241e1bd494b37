// Photos of a case: what kind of image a body is, by its own bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wangge::incidents {

// "image/jpeg", "image/png" or "image/webp" when the bytes begin with that format's signature
// (JPEG's SOI marker, PNG's 8-byte signature, a RIFF container of form WEBP); std::nullopt for
// anything else. What a client declares is not trusted: a browser shows whatever it is served, so
// only these three kinds are kept at all.
std::optional<std::string> sniff_image(std::string_view bytes);

}  // namespace wangge::incidents
