// Photos of a case before and after handling, stored in PostgreSQL (bytea) beside the case.
#include <array>
#include <string_view>

#include "core/error.hpp"
#include "incidents/attachments.hpp"
#include "incidents/store.hpp"
#include "registry/auth.hpp"

namespace wangge::incidents {
namespace {

using nlohmann::json;

std::string media_type(std::string type) {
  type = type.substr(0, type.find(';'));
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string from_hex(std::string_view hex) {
  auto value = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(value(hex[2 * i]) << 4 | value(hex[2 * i + 1]));
  return out;
}

}  // namespace

std::optional<std::string> sniff_image(std::string_view b) {
  if (b.size() >= 3 && b.substr(0, 3) == std::string_view("\xFF\xD8\xFF", 3)) return "image/jpeg";
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1A\n", 8)) return "image/png";
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return "image/webp";
  return std::nullopt;
}

json IncidentStore::attach(pg::Connection& conn, const registry::Actor& actor, long long id, const std::string& kind,
                           const std::string& declared_type, const std::string& bytes) const {
  if (actor.role == registry::Role::viewer || actor.role == registry::Role::analyst)
    throw forbidden("role_forbidden", std::string("role ") + registry::role_name(actor.role) + " may not add photos to cases");
  if (kind != "before" && kind != "after") throw bad_request("invalid_parameter", "kind must be before or after");
  if (bytes.size() > m_settings.max_attachment_bytes)
    throw Error(413, "attachment_too_large",
                "the photo has " + std::to_string(bytes.size()) + " bytes; at most " + std::to_string(m_settings.max_attachment_bytes) +
                    " are kept (setting WANGGE_MAX_ATTACHMENT_KB)",
                json({{"max_bytes", m_settings.max_attachment_bytes}}).dump());
  const auto sniffed = sniff_image(bytes);
  if (!sniffed) throw Error(415, "unsupported_image", "the body is not a JPEG, PNG or WebP image");
  const std::string declared = media_type(declared_type);
  // A declared image type must be the one the bytes are; any other declaration (octet-stream,
  // or what a command-line client sends by default) leaves the decision to the bytes.
  if (declared.rfind("image/", 0) == 0 && declared != *sniffed)
    throw Error(415, "unsupported_image", "the body is declared " + declared + " but its bytes are " + *sniffed,
                json({{"detected", *sniffed}}).dump());

  pg::Transaction tx(conn);
  const std::string status = require_access(tx.connection(), actor, id);
  if (status == "closed" || status == "cancelled")
    throw conflict("case_closed", "the case is " + status + "; its photos can no longer change");
  auto r = tx.exec(
      "incidents.attach",
      "INSERT INTO incident_attachments (incident_id, kind, content_type, size_bytes, sha256, data, created_by) "
      "VALUES ($1, $2, $3, $4::int, $5, decode($6, 'hex'), $7) RETURNING id, wg_time(created_at)",
      {std::to_string(id), kind, *sniffed, std::to_string(bytes.size()), registry::sha256_hex(bytes), to_hex(bytes), actor.label()});
  const long long attachment_id = r.integer(0, 0);
  json out = {{"id", attachment_id},
              {"incident", id},
              {"kind", kind},
              {"content_type", *sniffed},
              {"size_bytes", bytes.size()},
              {"sha256", registry::sha256_hex(bytes)},
              {"created_at", r.str(0, 1)},
              {"created_by", actor.label()},
              {"href", "/v1/incidents/" + std::to_string(id) + "/attachments/" + std::to_string(attachment_id)}};
  tx.exec("incidents.event",
          "INSERT INTO incident_events (incident_id, actor, action, from_status, to_status, detail) VALUES ($1, $2, 'attach', $3, $3, "
          "$4::jsonb)",
          {std::to_string(id), actor.label(), status,
           json({{"attachment", attachment_id}, {"kind", kind}, {"content_type", *sniffed}, {"size_bytes", bytes.size()}}).dump()});
  tx.commit();
  return out;
}

json IncidentStore::attachments(pg::Connection& conn, const registry::Actor& actor, long long id) const {
  require_access(conn, actor, id);
  auto r = conn.exec("incidents.attachment_list",
                     "SELECT coalesce(json_agg(json_build_object('id', id, 'incident', incident_id, 'kind', kind, 'content_type', "
                     "content_type, 'size_bytes', size_bytes, 'sha256', sha256, 'created_at', wg_time(created_at), 'created_by', "
                     "created_by, 'href', '/v1/incidents/' || incident_id || '/attachments/' || id) ORDER BY id), '[]'::json) "
                     "FROM incident_attachments WHERE incident_id = $1",
                     {std::to_string(id)});
  return json{{"attachments", json::parse(r.str(0, 0))}};
}

IncidentStore::Attachment IncidentStore::attachment(pg::Connection& conn, const registry::Actor& actor, long long id,
                                                    long long attachment_id) const {
  require_access(conn, actor, id);
  auto r = conn.exec("incidents.attachment_get",
                     "SELECT content_type, sha256, encode(data, 'hex') FROM incident_attachments WHERE id = $1 AND incident_id = $2",
                     {std::to_string(attachment_id), std::to_string(id)});
  if (r.rows() == 0)
    throw not_found("attachment_not_found", "case " + std::to_string(id) + " has no attachment " + std::to_string(attachment_id));
  return {r.str(0, 0), r.str(0, 1), from_hex(r.get(0, 2))};
}

}  // namespace wangge::incidents
