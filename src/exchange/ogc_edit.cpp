#include "exchange/ogc_edit.hpp"

#include "core/error.hpp"

namespace wangge::exchange::ogc_edit {
namespace {

using nlohmann::json;

// GeoJSON nests positions at most four arrays deep (MultiPolygon); the registry's own parser
// applies the coordinate limits, this walk only needs to stop at positions.
void swap_positions(json& coords, int depth) {
  if (!coords.is_array() || depth > 4) return;
  if (!coords.empty() && coords[0].is_number()) {
    if (coords.size() >= 2) std::swap(coords[0], coords[1]);
    return;
  }
  for (auto& c : coords) swap_positions(c, depth + 1);
}

}  // namespace

ogc::Crs content_crs(const std::optional<std::string>& header) {
  if (!header) return ogc::Crs{};
  std::string_view text = *header;
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>') text = text.substr(1, text.size() - 2);
  if (text.size() > 200) throw bad_request("unsupported_crs", "Content-Crs is longer than any CRS offered (see /ogc/collections)");
  return ogc::parse_crs(text);
}

void swap_axes(json& geometry) {
  if (!geometry.is_object()) return;
  if (auto it = geometry.find("coordinates"); it != geometry.end()) swap_positions(*it, 0);
  if (auto it = geometry.find("geometries"); it != geometry.end() && it->is_array())
    for (auto& g : *it) swap_axes(g);
}

json registry_properties(const json& properties, const ogc::Collection& c, bool fill_level) {
  if (!properties.is_object()) throw bad_request("invalid_feature", "properties must be a JSON object");
  json out = json::object();
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    const std::string& k = it.key();
    // A client echoes the computed columns back from its GET (QGIS sends every field of the
    // layer); they are not the client's to set.
    if (ogc::computed_property(k)) continue;
    if (k == "attributes" && it.value().is_string()) {
      const std::string& text = it.value().get_ref<const std::string&>();
      json parsed = text.empty() ? json::object() : json::parse(text, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object())
        throw unprocessable("invalid_property", "attributes must be a JSON object (or its text, as the OGC answer gives it)");
      out[k] = std::move(parsed);
      continue;
    }
    out[k] = it.value();
  }
  if (fill_level && c.level && !out.contains("level")) out["level"] = *c.level;
  if (c.level && out.contains("level") && out["level"] != json(*c.level))
    throw unprocessable("invalid_level",
                        "collection " + c.id + " holds level " + *c.level + " only; post other levels to their collection");
  return out;
}

json changed_properties(const json& changes, const json& read) {
  json out = json::object();
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    auto was = read.find(it.key());
    if (was == read.end() ? !it.value().is_null() : *was != it.value()) out[it.key()] = it.value();
  }
  return out;
}

json as_merge_patch(const json& replacement, const json& read) {
  json out = replacement;
  for (const char* figure : {"households", "population"})
    if (!out.contains(figure)) out[figure] = nullptr;
  // A replaced attribute object loses the keys it no longer names: null removes a key in a merge.
  json attributes = out.contains("attributes") && out["attributes"].is_object() ? out["attributes"] : json::object();
  if (auto was = read.find("attributes"); was != read.end() && was->is_object())
    for (auto it = was->begin(); it != was->end(); ++it)
      if (!attributes.contains(it.key())) attributes[it.key()] = nullptr;
  out["attributes"] = std::move(attributes);
  return out;
}

std::optional<std::string> refusal_title(std::string_view code) {
  struct Title {
    std::string_view code;
    const char* title;
  };
  static constexpr Title kTitles[] = {
      {"overlaps_sibling", "与相邻区域重叠 / Overlaps a neighbouring area"},
      {"gap_opened", "会留下无人负责的空白 / Would leave a gap (adjust=neighbours hands it to the neighbours)"},
      {"outside_parent", "超出上级区域 / Extends outside its parent area"},
      {"children_outside", "下级区域会落在外面 / Its children would fall outside"},
      {"area_too_small", "面积或宽度过小 / Below the minimum size"},
      {"neighbour_too_small", "相邻区域会过小 / A neighbour would become too small"},
      {"neighbour_would_vanish", "相邻区域会消失 / A neighbour would vanish"},
      {"precondition_failed", "要素已被修改，请刷新图层 / Changed since it was read: reload the layer"},
      {"precondition_required", "缺少 If-Match / If-Match required"},
      {"feature_superseded", "要素已有新版本，请刷新图层 / A newer version exists: reload the layer"},
      {"has_children", "仍有下级区域 / Still has children"},
      {"invalid_geometry", "几何无效 / Invalid geometry"},
      {"invalid_geometry_type", "几何类型错误 / Wrong geometry type"},
      {"code_taken", "编码已被使用 / Code already taken"},
      {"code_retired", "编码已注销，不可再用 / Code of a retired area"},
      {"invalid_code", "编码不符合规则 / Code breaks the coding rules"},
      {"immutable_property", "该属性不可修改 / Property cannot change"},
      {"unknown_property", "未知属性 / Unknown property"},
      {"invalid_property", "属性值无效 / Invalid property value"},
      {"missing_property", "缺少属性 / Missing property"},
      {"invalid_level", "层级不符 / Wrong level"},
      {"parent_not_found", "上级区域不存在 / Parent not found"},
      {"parent_level_mismatch", "上级层级不符 / Parent of the wrong level"},
      {"role_forbidden", "无编辑权限 / Role may not edit areas"},
      {"outside_scope", "超出令牌范围 / Outside the token's scope"},
      {"area_retired", "区域已注销 / Area retired"},
  };
  for (const auto& t : kTitles)
    if (t.code == code) return std::string(t.title);
  return std::nullopt;
}

}  // namespace wangge::exchange::ogc_edit
