#include "http/proxies.hpp"

#include <arpa/inet.h>

#include <optional>
#include <stdexcept>

namespace wangge::http {
namespace {

// An address as 16 bytes (IPv4 mapped into IPv6), or nothing when it is not an address.
std::optional<std::array<std::uint8_t, 16>> address_bytes(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
  const std::string s(text);
  std::array<std::uint8_t, 16> out{};
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    const auto* b = reinterpret_cast<const std::uint8_t*>(&v4.s_addr);
    for (int i = 0; i < 4; ++i) out[12 + i] = b[i];
    return out;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    for (int i = 0; i < 16; ++i) out[i] = v6.s6_addr[i];
    return out;
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_trusted(const std::array<std::uint8_t, 16>& address, const std::vector<Cidr>& trusted) {
  for (const auto& net : trusted) {
    int bits = net.prefix, i = 0;
    bool inside = true;
    for (; bits >= 8; bits -= 8, ++i)
      if (address[i] != net.bytes[i]) inside = false;
    if (inside && bits > 0) {
      const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
      inside = (address[i] & mask) == (net.bytes[i] & mask);
    }
    if (inside) return true;
  }
  return false;
}

}  // namespace

Cidr Cidr::parse(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  const auto address = address_bytes(text.substr(0, slash));
  if (!address) throw std::invalid_argument("not an IP address: " + std::string(text));
  Cidr c;
  c.bytes = *address;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    int prefix = 0;
    if (digits.empty() || digits.size() > 3) throw std::invalid_argument("not a network prefix: " + std::string(text));
    for (char ch : digits) {
      if (ch < '0' || ch > '9') throw std::invalid_argument("not a network prefix: " + std::string(text));
      prefix = prefix * 10 + (ch - '0');
    }
    if (prefix > (v4 ? 32 : 128)) throw std::invalid_argument("network prefix too long: " + std::string(text));
    c.prefix = v4 ? 96 + prefix : prefix;
  }
  return c;
}

bool Cidr::contains(std::string_view address) const {
  const auto bytes = address_bytes(trim(address));
  return bytes && is_trusted(*bytes, {*this});
}

std::vector<Cidr> parse_trusted_proxies(std::string_view list) {
  std::vector<Cidr> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find_first_of(", ", start);
    if (end == std::string_view::npos) end = list.size();
    if (end > start) out.push_back(Cidr::parse(list.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

std::string forwarded_client(const std::string& peer, std::string_view x_forwarded_for, const std::vector<Cidr>& trusted) {
  if (trusted.empty() || x_forwarded_for.empty()) return peer;
  const auto peer_bytes = address_bytes(peer);
  if (!peer_bytes || !is_trusted(*peer_bytes, trusted)) return peer;
  // Bounded: a proxy chain is a few hops; a longer header is someone's padding.
  constexpr int kMaxHops = 16;
  std::string_view rest = x_forwarded_for;
  for (int hop = 0; hop < kMaxHops && !rest.empty(); ++hop) {
    const auto comma = rest.rfind(',');
    const std::string_view entry = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    const auto bytes = address_bytes(entry);
    if (!bytes) return peer;  // "unknown", a port, garbage: the proxy's word is not usable
    if (!is_trusted(*bytes, trusted)) return std::string(entry.front() == '[' ? entry.substr(1, entry.size() - 2) : entry);
  }
  return peer;
}

}  // namespace wangge::http
