// The client behind a reverse proxy. A balancer in front (nginx) is every request's peer, so
// per-client limits (the back-off after wrong credentials) keyed on the peer would lock out every
// client at once after one guesser. The proxy names the client in X-Forwarded-For; that header is
// believed only when the peer is one of the configured proxies (WANGGE_TRUSTED_PROXIES), since any
// client can send it to dodge its own back-off.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wangge::http {

// A network, IPv4 or IPv6 ("10.0.0.0/8", "::1/128", "127.0.0.1": a single address).
struct Cidr {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 as an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
  int prefix = 128;                      // over the 128 bits, IPv4's counted from the mapped form

  // Throws std::invalid_argument for text that is not an address with an optional /prefix.
  static Cidr parse(std::string_view text);
  bool contains(std::string_view address) const;
};

// A comma- or space-separated list of networks; "" is none. Throws std::invalid_argument.
std::vector<Cidr> parse_trusted_proxies(std::string_view list);

// The client address for per-client limits: `peer` unless it is a trusted proxy; then, walking
// X-Forwarded-For from its right end (what the nearest proxy appended), the first entry that is
// not a trusted proxy itself. A header that does not parse leaves `peer`.
std::string forwarded_client(const std::string& peer, std::string_view x_forwarded_for, const std::vector<Cidr>& trusted);

}  // namespace wangge::http
