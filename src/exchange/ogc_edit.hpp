// OGC API - Features Part 4 (create, replace, update, delete) on the area collections, as the
// registry sees it: a Part 4 request body turned into the body /v1/areas takes, so every edit goes
// through the registry's own writers and rules (registry/areas.hpp, registry/toolkit.hpp). The
// HTTP side is routes_ogc_edit.cpp.
//
// Feature ids name versions (an edit makes a new version, hence a new id), so the URL of an edit
// already says which version the client edited: a write to a superseded version is refused, and
// without If-Match the version the URL names is the precondition.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "exchange/ogc.hpp"

namespace wangge::exchange::ogc_edit {

// The CRS of a request body: the Content-Crs header ("<uri>", angle brackets optional) or CRS84.
// Throws bad_request("unsupported_crs") for one not offered.
ogc::Crs content_crs(const std::optional<std::string>& header);

// Swaps the first two ordinates of every position of a GeoJSON geometry in place (a body written
// latitude first, as EPSG orders geographic and Gauss-Krüger axes, becomes the x/y order the
// registry reads). Non-geometries are left for the registry's checks to refuse.
void swap_axes(nlohmann::json& geometry);

// The registry's properties from a Part 4 Feature's properties (what an OGC GET answered, possibly
// edited): the collection's read-only columns (workers, version, times, author) are dropped,
// `attributes` (text in the OGC answer, as GIS fields are flat) is parsed back to its object, and
// `level`, when absent, is the collection's. Unknown properties are left for the registry to refuse.
// Throws unprocessable("invalid_property") for attributes that are not a JSON object's text.
nlohmann::json registry_properties(const nlohmann::json& properties, const ogc::Collection& c, bool fill_level);

// Those of `changes` (registry properties) whose value differs from `read` (the properties of the
// version the client edited, as the registry's Feature gives them): what the client changed, as
// opposed to what it echoed back.
nlohmann::json changed_properties(const nlohmann::json& changes, const nlohmann::json& read);

// A PUT's `replacement` properties (registry properties) as the merge patch that turns `read` into
// them: the figures it leaves out become null and the attribute keys it no longer names are
// removed, as a PUT without a geometry change replaces them (the redraw merges like a PATCH).
nlohmann::json as_merge_patch(const nlohmann::json& replacement, const nlohmann::json& read);

// The bilingual title a GIS client shows for a refused edit, by problem code (std::nullopt: the
// status's own title is kept).
std::optional<std::string> refusal_title(std::string_view code);

}  // namespace wangge::exchange::ogc_edit
