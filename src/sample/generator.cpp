// The synthetic jurisdiction. Everything that decides the output (lattice coordinates, splits, counts,
// names) is computed in integers from a private splitmix64 stream, so the result is byte-identical on
// every machine: no libm in the geometry, no std distributions, no unordered containers.
//
// Geometry model: a lattice of (cols × rows) blocks whose vertices are warped by smooth integer value
// noise. Every area is a rectangle of whole cells in index space; its ring walks every lattice vertex
// on the rectangle's boundary, so neighbours share vertices exactly and each level partitions its parent.
#include "sample/generator.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/level.hpp"
#include "core/lonlat.hpp"
#include "sample/outline.hpp"

namespace wangge::sample {
namespace {

// ---------------------------------------------------------------------------------------------------
// Deterministic randomness.

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t hash_of(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
  std::uint64_t h = mix64(seed + 0x9E3779B97F4A7C15ULL);
  h = mix64(h ^ a);
  h = mix64(h ^ (b + 0x632BE59BD9B4E019ULL));
  return mix64(h ^ (c + 0x8CB92BA72F3D8DD7ULL));
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : m_state(seed) {}

  std::uint64_t next() {
    m_state += 0x9E3779B97F4A7C15ULL;
    return mix64(m_state);
  }

  // Uniform in [0, n). The modulo bias is below 2^-40 for the small n used here.
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }

  // Uniform in [lo, hi], inclusive.
  int range(int lo, int hi) { return lo + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo + 1))); }

  bool percent(int p) { return static_cast<int>(below(100)) < p; }

  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& table) {
    return table[below(N)];
  }

 private:
  std::uint64_t m_state;
};

// Independent streams per concern, so that e.g. adding a worker field never moves a boundary.
Rng stream(std::uint64_t seed, std::uint64_t id) { return Rng(hash_of(seed, 0x5354524541ULL, id)); }

// Picks an index by integer weights.
template <std::size_t N>
std::size_t weighted(Rng& rng, const std::array<int, N>& weights) {
  int total = 0;
  for (int w : weights) total += w;
  int r = static_cast<int>(rng.below(static_cast<std::uint64_t>(total)));
  for (std::size_t i = 0; i < N; ++i) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  return N - 1;
}

// ---------------------------------------------------------------------------------------------------
// Tables.

// The level one below `level` (the generator builds top down; never called on a micro-grid).
constexpr Level child_of(Level level) { return static_cast<Level>(static_cast<int>(level) + 1); }

struct CodeName {
  const char* code;
  const char* name;
};

constexpr std::array<CodeName, 11> kCities = {{{"330100", "杭州市"},
                                               {"330200", "宁波市"},
                                               {"330300", "温州市"},
                                               {"330400", "嘉兴市"},
                                               {"330500", "湖州市"},
                                               {"330600", "绍兴市"},
                                               {"330700", "金华市"},
                                               {"330800", "衢州市"},
                                               {"330900", "舟山市"},
                                               {"331000", "台州市"},
                                               {"331100", "丽水市"}}};

// Deqing's real townships (docs/domain.md, "The sample jurisdiction"), split into street offices and towns because the street offices
// go to the central blocks of the county.
constexpr std::array<CodeName, 5> kDeqingStreetOffices = {
    {{"001", "武康街道"}, {"002", "舞阳街道"}, {"003", "阜溪街道"}, {"004", "下渚湖街道"}, {"005", "康乾街道"}}};
constexpr std::array<CodeName, 8> kDeqingTowns = {{{"101", "乾元镇"},
                                                   {"102", "新市镇"},
                                                   {"103", "洛舍镇"},
                                                   {"104", "钟管镇"},
                                                   {"110", "雷甸镇"},
                                                   {"113", "禹越镇"},
                                                   {"114", "新安镇"},
                                                   {"115", "莫干山镇"}}};

// Two-character place-name stems are the product of these two tables (40 × 30 = 1200 stems).
constexpr std::array<std::string_view, 40> kStemFirst = {"东", "西", "南", "北", "新", "长", "龙", "凤", "青", "白", "金", "石", "桃", "梅",
                                                         "柳", "松", "竹", "云", "清", "安", "永", "和", "兴", "丰", "福", "康", "乐", "华",
                                                         "阳", "明", "光", "文", "德", "仁", "宁", "平", "泰", "瑞", "祥", "双"};
constexpr std::array<std::string_view, 30> kStemSecond = {"溪", "山", "湖", "港", "桥", "塘", "浦", "岭", "坞", "田",
                                                          "林", "苑", "园", "庄", "里", "湾", "洲", "泉", "源", "岙",
                                                          "埠", "墩", "圩", "塔", "河", "亭", "渡", "潭", "兜", "漾"};

// Real Deqing street stems, mixed in so the default county reads like the place it stands in for.
constexpr std::array<std::string_view, 16> kStreetStems = {"新安", "武康", "英溪", "永安", "千秋", "北湖", "中兴", "云岫",
                                                           "春晖", "塔山", "长虹", "志远", "舞阳", "阜溪", "余英", "康乾"};

constexpr std::array<std::string_view, 60> kSurnames = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗",
    "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余",
    "杜", "叶", "程", "苏", "魏", "吕", "丁", "沈", "姚", "卢", "姜", "钟", "陆", "汪", "范", "金", "方", "俞", "施", "钱"};
constexpr std::array<std::string_view, 50> kGivenChars = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
                                                          "娟", "涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国",
                                                          "红", "燕", "玲", "鹏", "辉", "斌", "宇", "浩", "凯", "健", "俊", "帆", "慧",
                                                          "婷", "雪", "琳", "晨", "峰", "林", "海", "波", "萍", "晓", "新"};
constexpr std::array<int, 26> kPhonePrefixes = {130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152,
                                                153, 155, 156, 157, 158, 159, 166, 177, 180, 181, 186, 187, 189};

struct Category {
  const char* name;
  std::array<const char*, 5> items;
};
constexpr std::array<Category, 5> kCategories = {{
    {"市容环境", {"暴露垃圾", "垃圾满溢", "道路不洁", "绿地脏乱", "违规晾晒"}},
    {"街面秩序", {"占道经营", "店外经营", "流动摊贩", "乱堆物料", "非机动车乱停放"}},
    {"施工管理", {"施工扰民", "工地扬尘", "渣土撒漏", "施工占道", "夜间违规施工"}},
    {"宣传广告", {"违规张贴小广告", "非法悬挂横幅", "广告牌破损", "违规设置户外广告", "乱涂写"}},
    {"突发事件", {"道路积水", "井盖缺失", "树木倒伏", "路面塌陷", "燃气异味"}},
}};
constexpr std::array<int, 5> kCategoryWeights = {35, 30, 12, 13, 10};
constexpr std::array<const char*, 4> kSources = {"hotline", "app", "worker", "video"};
constexpr std::array<int, 4> kSourceWeights = {35, 25, 30, 10};
constexpr std::array<const char*, 6> kStatuses = {"collect", "register", "dispatch", "handle", "feedback", "closed"};
constexpr std::array<int, 6> kStatusWeights = {8, 10, 12, 15, 10, 45};
constexpr std::array<const char*, 4> kRequests = {"，请尽快处理", "，影响通行", "，市民多次反映", ""};

constexpr std::array<const char*, 5> kCheckpointKinds = {"rental_house", "shop", "key_place", "school", "hazard"};
constexpr std::array<int, 5> kCheckpointWeights = {40, 25, 15, 8, 12};
constexpr std::array<const char*, 7> kShops = {"超市", "小吃店", "五金店", "理发店", "便利店", "水果店", "快递驿站"};
constexpr std::array<const char*, 6> kKeyPlaces = {"网吧", "KTV", "宾馆", "农贸市场", "加油站", "物流仓库"};
constexpr std::array<const char*, 3> kSchools = {"小学", "幼儿园", "中学"};
constexpr std::array<const char*, 5> kHazards = {"液化气供应点", "危化品仓库", "消防隐患点", "老旧线路整治点", "易涝点"};

// ---------------------------------------------------------------------------------------------------
// Small helpers.

std::string padded(long long value, int width) {
  std::string digits = std::to_string(value);
  if (static_cast<int>(digits.size()) < width) digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
  return digits;
}

std::string stem(Rng& rng) {
  std::string s(rng.pick(kStemFirst));
  s += rng.pick(kStemSecond);
  return s;
}

// Draws a name `stem + suffix` not yet in `taken`; falls back to a numbered stem after many misses.
std::string unique_name(Rng& rng, std::set<std::string>& taken, std::string_view suffix) {
  for (int attempt = 0;; ++attempt) {
    std::string name = stem(rng);
    if (attempt >= 64) name += std::to_string(attempt);
    name += suffix;
    if (taken.insert(name).second) return name;
  }
}

// Degrees are carried as integer nanodegrees; printing them this way is exact and fast.
void append_degrees(std::string& out, std::int64_t nd) {
  if (nd < 0) {
    out += '-';
    nd = -nd;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, nd / 1'000'000'000);
  (void)ec;
  out.append(buf, end);
  out += '.';
  std::int64_t frac = nd % 1'000'000'000;
  char digits[9];
  for (int i = 8; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out.append(digits, 9);
}

// days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

std::string rfc3339(long long epoch_seconds) {
  long long days = epoch_seconds / 86400;
  long long secs = epoch_seconds % 86400;
  days += 719468;
  const long long era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long y = static_cast<long long>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  return padded(y, 4) + "-" + padded(m, 2) + "-" + padded(d, 2) + "T" + padded(secs / 3600, 2) + ":" + padded(secs / 60 % 60, 2) + ":" +
         padded(secs % 60, 2) + "Z";
}

// ---------------------------------------------------------------------------------------------------
// The warped lattice.

// Cells [i0, i1) × [j0, j1); its ring uses vertices i0..i1 × j0..j1. j grows northwards.
struct Rect {
  int i0 = 0, j0 = 0, i1 = 0, j1 = 0;
  int width() const { return i1 - i0; }
  int height() const { return j1 - j0; }
  long long cells() const { return static_cast<long long>(width()) * height(); }
};

constexpr std::int64_t kBlockWidthMm = 200'000;   // nominal block side west-east
constexpr std::int64_t kBlockHeightMm = 180'000;  // nominal block side south-north
constexpr std::int64_t kMetresPerDegreeLat = 110'850;
// Zhejiang (lon 118.0-123.2 E, lat 27.0-31.2 N) shrunk by a margin so that warped edges stay inside too.
constexpr std::int64_t kMinLonNd = 118'020'000'000, kMaxLonNd = 123'180'000'000;
constexpr std::int64_t kMinLatNd = 27'020'000'000, kMaxLatNd = 31'180'000'000;

// Smooth value noise in millimetres: seeded values on a coarse lattice of `spacing` vertices, blended
// by a cubic smoothstep in exact integer arithmetic. Its slope is at most 3·amplitude/spacing per
// block, which keeps every block convex when the octaves below are summed.
std::int64_t value_noise(std::uint64_t seed, int i, int j, int spacing, std::int64_t amplitude_mm) {
  const int ci = i / spacing, cj = j / spacing;
  const std::int64_t ri = i % spacing, rj = j % spacing, s = spacing;
  auto corner = [&](int a, int b) {
    return static_cast<std::int64_t>(hash_of(seed, static_cast<std::uint64_t>(a), static_cast<std::uint64_t>(b)) %
                                     static_cast<std::uint64_t>(2 * amplitude_mm + 1)) -
           amplitude_mm;
  };
  const std::int64_t s3 = s * s * s;
  const std::int64_t sx = 3 * ri * ri * s - 2 * ri * ri * ri;
  const std::int64_t sy = 3 * rj * rj * s - 2 * rj * rj * rj;
  const std::int64_t south = corner(ci, cj) * (s3 - sx) + corner(ci + 1, cj) * sx;
  const std::int64_t north = corner(ci, cj + 1) * (s3 - sx) + corner(ci + 1, cj + 1) * sx;
  return (south * (s3 - sy) + north * sy) / (s3 * s3);
}

class Lattice {
 public:
  // `cover`: scale the lattice and place it so that its inner rectangle (inside every warped edge)
  // covers these bounds with a margin; otherwise its south-west corner goes to the origin.
  Lattice(int cols, int rows, std::uint64_t seed, double origin_lon, double origin_lat, const Bounds* cover = nullptr)
      : m_cols(cols), m_rows(rows) {
    const std::size_t count = static_cast<std::size_t>(cols + 1) * static_cast<std::size_t>(rows + 1);
    std::vector<std::int64_t> x(count), y(count);
    const std::uint64_t sx = hash_of(seed, 0x5758ULL), sy = hash_of(seed, 0x5759ULL);
    std::int64_t min_x = 0, max_x = 0, min_y = 0, max_y = 0;
    for (int j = 0; j <= rows; ++j) {
      for (int i = 0; i <= cols; ++i) {
        // Long sweeping curves, district-scale bends, street-scale wobble, then per-vertex jitter.
        std::int64_t dx =
            value_noise(sx, i, j, 64, 250'000) + value_noise(sx + 1, i, j, 16, 50'000) + value_noise(sx + 2, i, j, 5, 15'000) +
            static_cast<std::int64_t>(hash_of(sx + 3, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(j)) % 12'001) - 6'000;
        std::int64_t dy =
            value_noise(sy, i, j, 64, 250'000) + value_noise(sy + 1, i, j, 16, 50'000) + value_noise(sy + 2, i, j, 5, 15'000) +
            static_cast<std::int64_t>(hash_of(sy + 3, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(j)) % 12'001) - 6'000;
        const std::size_t k = index(i, j);
        x[k] = i * kBlockWidthMm + dx;
        y[k] = j * kBlockHeightMm + dy;
        min_x = std::min(min_x, x[k]);
        max_x = std::max(max_x, x[k]);
        min_y = std::min(min_y, y[k]);
        max_y = std::max(max_y, y[k]);
      }
    }

    if (cover) {
      place_over(*cover, x, y);
      return;
    }
    // Place the south-west corner at the requested origin, shifted only as far as needed to stay in
    // Zhejiang (the 85k-grid province is taller than the space north of Deqing).
    auto lat_offset = [](std::int64_t mm) { return mm * 1'000'000 / kMetresPerDegreeLat; };
    std::int64_t lat0 = std::llround(origin_lat * 1e9);
    lat0 = fit(lat0, lat_offset(min_y), lat_offset(max_y), kMinLatNd, kMaxLatNd);
    const double centre_lat = static_cast<double>(lat0 + lat_offset((min_y + max_y) / 2)) / 1e9;
    // Rounded to whole metres so that libm's last-bit differences cannot reach the output.
    const std::int64_t metres_per_degree_lon = std::llround(111'320.0 * std::cos(centre_lat * 3.14159265358979 / 180.0));
    auto lon_offset = [&](std::int64_t mm) { return mm * 1'000'000 / metres_per_degree_lon; };
    std::int64_t lon0 = std::llround(origin_lon * 1e9);
    lon0 = fit(lon0, lon_offset(min_x), lon_offset(max_x), kMinLonNd, kMaxLonNd);

    m_lon.resize(count);
    m_lat.resize(count);
    for (std::size_t k = 0; k < count; ++k) {
      m_lon[k] = lon0 + lon_offset(x[k]);
      m_lat[k] = lat0 + lat_offset(y[k]);
    }
  }

  int cols() const { return m_cols; }
  int rows() const { return m_rows; }
  std::int64_t lon(int i, int j) const { return m_lon[index(i, j)]; }
  std::int64_t lat(int i, int j) const { return m_lat[index(i, j)]; }

  void append_vertex(std::string& out, int i, int j) const {
    append_degrees(out, lon(i, j));
    out += ' ';
    append_degrees(out, lat(i, j));
  }

  // Counter-clockwise ring (east along the south edge, north, west, south) through every vertex.
  std::string multipolygon(const Rect& r) const {
    std::string out;
    out.reserve(static_cast<std::size_t>(2 * (r.width() + r.height()) + 1) * 27 + 24);
    out += "MULTIPOLYGON(((";
    bool first = true;
    auto add = [&](int i, int j) {
      if (!first) out += ',';
      first = false;
      append_vertex(out, i, j);
    };
    for (int i = r.i0; i <= r.i1; ++i) add(i, r.j0);
    for (int j = r.j0 + 1; j <= r.j1; ++j) add(r.i1, j);
    for (int i = r.i1 - 1; i >= r.i0; --i) add(i, r.j1);
    for (int j = r.j1 - 1; j >= r.j0; --j) add(r.i0, j);
    out += ")))";
    return out;
  }

  std::string segment(int ia, int ja, int ib, int jb) const {
    std::string out;
    out.reserve(72);
    out += "LINESTRING(";
    append_vertex(out, ia, ja);
    out += ',';
    append_vertex(out, ib, jb);
    out += ')';
    return out;
  }

  // A point well inside cell (i, j): bilinear position with u, v in [0.2, 0.8], so it lies strictly
  // inside the (convex) block and therefore strictly inside every area containing the block.
  std::pair<std::int64_t, std::int64_t> point_in_cell(int i, int j, Rng& rng) const {
    const std::int64_t u = rng.range(200, 800), v = rng.range(200, 800);
    auto blend = [&](const std::vector<std::int64_t>& c) {
      const std::int64_t a = c[index(i, j)], b = c[index(i + 1, j)];
      const std::int64_t cc = c[index(i + 1, j + 1)], d = c[index(i, j + 1)];
      return a + (u * (b - a) * 1000 + v * (d - a) * 1000 + u * v * (a - b + cc - d)) / 1'000'000;
    };
    return {blend(m_lon), blend(m_lat)};
  }

 private:
  std::size_t index(int i, int j) const {
    return static_cast<std::size_t>(j) * static_cast<std::size_t>(m_cols + 1) + static_cast<std::size_t>(i);
  }

  // Scales the warped lattice (noise included, so blocks keep their shapes) until the rectangle inside
  // all four warped borders covers `b` with 2 % to spare on each side, centred on it.
  void place_over(const Bounds& b, std::vector<std::int64_t>& x, std::vector<std::int64_t>& y) {
    std::int64_t west = x[index(0, 0)], east = x[index(m_cols, 0)], south = y[index(0, 0)], north = y[index(0, m_rows)];
    for (int j = 0; j <= m_rows; ++j) west = std::max(west, x[index(0, j)]), east = std::min(east, x[index(m_cols, j)]);
    for (int i = 0; i <= m_cols; ++i) south = std::max(south, y[index(i, 0)]), north = std::min(north, y[index(i, m_rows)]);
    const double centre_lat = (b.min_lat + b.max_lat) / 2;
    const std::int64_t metres_per_degree_lon = std::llround(111'320.0 * std::cos(centre_lat * 3.14159265358979 / 180.0));
    const double need_x_mm = (b.max_lon - b.min_lon) * static_cast<double>(metres_per_degree_lon) * 1000 * 1.04;
    const double need_y_mm = (b.max_lat - b.min_lat) * static_cast<double>(kMetresPerDegreeLat) * 1000 * 1.04;
    const std::int64_t permille = static_cast<std::int64_t>(
        std::ceil(1000 * std::max(need_x_mm / static_cast<double>(east - west), need_y_mm / static_cast<double>(north - south))));
    for (auto& v : x) v = v * permille / 1000;
    for (auto& v : y) v = v * permille / 1000;
    const std::int64_t mid_x = (west + east) * permille / 2000, mid_y = (south + north) * permille / 2000;
    const std::int64_t lon0 = std::llround((b.min_lon + b.max_lon) / 2 * 1e9) - mid_x * 1'000'000 / metres_per_degree_lon;
    const std::int64_t lat0 = std::llround(centre_lat * 1e9) - mid_y * 1'000'000 / kMetresPerDegreeLat;
    const std::size_t count = x.size();
    m_lon.resize(count);
    m_lat.resize(count);
    for (std::size_t k = 0; k < count; ++k) {
      m_lon[k] = lon0 + x[k] * 1'000'000 / metres_per_degree_lon;
      m_lat[k] = lat0 + y[k] * 1'000'000 / kMetresPerDegreeLat;
    }
  }

  static std::int64_t fit(std::int64_t origin, std::int64_t low, std::int64_t high, std::int64_t min, std::int64_t max) {
    if (high - low > max - min) throw std::invalid_argument("sample: the requested size does not fit in Zhejiang");
    if (origin + high > max) origin = max - high;
    if (origin + low < min) origin = min - low;
    return origin;
  }

  int m_cols, m_rows;
  std::vector<std::int64_t> m_lon, m_lat;
};

// ---------------------------------------------------------------------------------------------------
// Partitioning.

struct Piece {
  int grids = 1;
  Rect rect;
};

// Cells whose centre lies inside the outline, counted over any rectangle in O(1) (2-D prefix sums).
class CellWeights {
 public:
  CellWeights(int cols, int rows, const std::vector<char>& inside)
      : m_cols(cols), m_prefix(static_cast<std::size_t>(cols + 1) * (rows + 1), 0) {
    for (int j = 0; j < rows; ++j)
      for (int i = 0; i < cols; ++i)
        m_prefix[at(i + 1, j + 1)] = inside[static_cast<std::size_t>(j) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(i)] +
                                     m_prefix[at(i, j + 1)] + m_prefix[at(i + 1, j)] - m_prefix[at(i, j)];
  }
  long long of(const Rect& r) const {
    return m_prefix[at(r.i1, r.j1)] - m_prefix[at(r.i0, r.j1)] - m_prefix[at(r.i1, r.j0)] + m_prefix[at(r.i0, r.j0)];
  }

 private:
  std::size_t at(int i, int j) const {
    return static_cast<std::size_t>(j) * static_cast<std::size_t>(m_cols + 1) + static_cast<std::size_t>(i);
  }
  int m_cols;
  std::vector<long long> m_prefix;
};

// Bisects `rect` among pieces[lo, hi) kd-style: the pieces are halved by grid count, the rectangle is
// cut across its longer side in proportion (± one line of seeded jitter if asked), so every piece keeps about
// the same number of blocks per grid. `min_cells` per grid is honoured where possible, else one.
void kd_split(const Rect& rect, std::vector<Piece>& pieces, int lo, int hi, int min_cells, bool jitter_cuts, Rng& rng,
              const CellWeights* weights = nullptr);

// The outline mode's cut: the pieces share the cells inside the outline (not the rectangle) in
// proportion to their grids, each with at least `strict` inside cells per grid. False when no cut
// can honour that (the plain cut then applies).
bool kd_split_weighted(const Rect& rect, std::vector<Piece>& pieces, int lo, int hi, int min_cells, bool across_x,
                       const std::vector<int>& splits, const std::vector<long long>& prefix, Rng& rng, const CellWeights& weights) {
  const long long total = prefix.back(), inside = weights.of(rect);
  for (int strict : {min_cells, 1}) {
    for (bool axis : {across_x, !across_x}) {
      const int length = axis ? rect.width() : rect.height();
      for (int s : splits) {
        const long long g1 = prefix[static_cast<std::size_t>(s - lo)], g2 = total - g1;
        long long best_error = -1;
        int best_cut = 0;
        for (int cut = 1; cut < length; ++cut) {
          Rect first = rect;
          if (axis)
            first.i1 = rect.i0 + cut;
          else
            first.j1 = rect.j0 + cut;
          const long long w1 = weights.of(first), w2 = inside - w1;
          if (w1 < g1 * strict || w2 < g2 * strict) continue;
          const long long error = std::abs(w1 * total - g1 * inside);
          if (best_error < 0 || error < best_error) best_error = error, best_cut = cut;
        }
        if (best_error < 0) continue;
        Rect first = rect, second = rect;
        if (axis)
          first.i1 = second.i0 = rect.i0 + best_cut;
        else
          first.j1 = second.j0 = rect.j0 + best_cut;
        kd_split(first, pieces, lo, s, min_cells, false, rng, &weights);
        kd_split(second, pieces, s, hi, min_cells, false, rng, &weights);
        return true;
      }
    }
  }
  return false;
}

void kd_split(const Rect& rect, std::vector<Piece>& pieces, int lo, int hi, int min_cells, bool jitter_cuts, Rng& rng,
              const CellWeights* weights) {
  if (hi - lo == 1) {
    pieces[static_cast<std::size_t>(lo)].rect = rect;
    return;
  }
  std::vector<long long> prefix(static_cast<std::size_t>(hi - lo + 1), 0);
  for (int k = lo; k < hi; ++k)
    prefix[static_cast<std::size_t>(k - lo + 1)] = prefix[static_cast<std::size_t>(k - lo)] + pieces[static_cast<std::size_t>(k)].grids;
  const long long total = prefix.back();

  std::vector<int> splits;
  for (int s = lo + 1; s < hi; ++s) splits.push_back(s);
  std::stable_sort(splits.begin(), splits.end(), [&](int a, int b) {
    auto imbalance = [&](int s) {
      const long long left = prefix[static_cast<std::size_t>(s - lo)];
      return left * 2 > total ? left * 2 - total : total - left * 2;
    };
    return imbalance(a) < imbalance(b);
  });

  const long long width_mm = rect.width() * kBlockWidthMm, height_mm = rect.height() * kBlockHeightMm;
  bool across_x;  // true: a vertical cut, splitting the columns
  if (width_mm * 4 > height_mm * 5)
    across_x = true;
  else if (height_mm * 4 > width_mm * 5)
    across_x = false;
  else
    across_x = rng.below(2) == 0;
  // One line of jitter a third of the time, so equal-count siblings still differ in size.
  const std::uint64_t roll = rng.below(6);
  const int jitter = roll == 0 ? -1 : roll == 1 ? 1 : 0;
  if (weights && kd_split_weighted(rect, pieces, lo, hi, min_cells, across_x, splits, prefix, rng, *weights)) return;

  for (int strict : {min_cells, 1}) {
    for (bool axis : {across_x, !across_x}) {
      const long long length = axis ? rect.width() : rect.height();
      const long long other = axis ? rect.height() : rect.width();
      for (int s : splits) {
        const long long g1 = prefix[static_cast<std::size_t>(s - lo)], g2 = total - g1;
        const long long low = std::max(1LL, (g1 * strict + other - 1) / other);
        const long long high = std::min(length - 1, length - (g2 * strict + other - 1) / other);
        if (low > high) continue;
        long long cut = (2 * length * g1 + total) / (2 * total);
        if (jitter_cuts && length >= 6) cut += jitter;
        cut = std::clamp(cut, low, high);
        Rect first = rect, second = rect;
        if (axis) {
          first.i1 = second.i0 = rect.i0 + static_cast<int>(cut);
        } else {
          first.j1 = second.j0 = rect.j0 + static_cast<int>(cut);
        }
        kd_split(first, pieces, lo, s, min_cells, jitter_cuts, rng, weights);
        kd_split(second, pieces, s, hi, min_cells, jitter_cuts, rng, weights);
        return;
      }
    }
  }
  throw std::logic_error("sample: a rectangle is too small for its grids");
}

// Children numbered west→east, north→south: rows are bands of the mean child height counted from the
// parent's south edge, taken north first; within a band, west first.
std::vector<std::size_t> spatial_order(const Rect& parent, const std::vector<Piece>& pieces) {
  const long long k = static_cast<long long>(pieces.size());
  long long heights = 0;
  for (const Piece& p : pieces) heights += p.rect.height();
  struct Key {
    long long band, cx2, cy2;
    std::size_t index;
  };
  std::vector<Key> keys;
  keys.reserve(pieces.size());
  for (std::size_t n = 0; n < pieces.size(); ++n) {
    const Rect& r = pieces[n].rect;
    const long long cy2 = r.j0 + r.j1;
    keys.push_back({(cy2 - 2LL * parent.j0) * k / (2 * heights), r.i0 + r.i1, cy2, n});
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.band != b.band) return a.band > b.band;
    if (a.cx2 != b.cx2) return a.cx2 < b.cx2;
    if (a.cy2 != b.cy2) return a.cy2 > b.cy2;
    return a.index < b.index;
  });
  std::vector<std::size_t> order;
  order.reserve(keys.size());
  for (const Key& key : keys) order.push_back(key.index);
  return order;
}

// Splits `total` grids among k children, each at least one, in proportion to seeded weights.
std::vector<int> allot(int total, int k, int weight_min, int weight_max, Rng& rng) {
  std::vector<long long> weights(static_cast<std::size_t>(k));
  long long sum = 0;
  for (auto& w : weights) sum += (w = rng.range(weight_min, weight_max));
  std::vector<int> out(static_cast<std::size_t>(k));
  const long long spare = total - k;
  long long cumulative = 0, given = 0;
  for (std::size_t n = 0; n < out.size(); ++n) {
    cumulative += weights[n];
    const long long upto = spare * cumulative / sum;
    out[n] = 1 + static_cast<int>(upto - given);
    given = upto;
  }
  return out;
}

// Tiles a grid with m micro-grids of one or two blocks: the candidate dominoes are disjoint (pairs
// along each row, plus vertical pairs in an odd last column), so any n - m of them give m pieces.
std::vector<Piece> tile_micro(const Rect& grid, int m, Rng& rng) {
  const int w = grid.width(), h = grid.height();
  std::vector<Rect> slots;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x + 2 <= w - w % 2; x += 2) slots.push_back({grid.i0 + x, grid.j0 + y, grid.i0 + x + 2, grid.j0 + y + 1});
  if (w % 2 == 1)
    for (int y = 0; y + 2 <= h; y += 2) slots.push_back({grid.i1 - 1, grid.j0 + y, grid.i1, grid.j0 + y + 2});
  const std::size_t pairs = static_cast<std::size_t>(w * h - m);
  for (std::size_t n = 0; n < pairs && n < slots.size(); ++n) std::swap(slots[n], slots[n + rng.below(slots.size() - n)]);
  std::vector<char> covered(static_cast<std::size_t>(w * h), 0);
  std::vector<Piece> pieces;
  for (std::size_t n = 0; n < pairs && n < slots.size(); ++n) {
    const Rect& r = slots[n];
    for (int j = r.j0; j < r.j1; ++j)
      for (int i = r.i0; i < r.i1; ++i) covered[static_cast<std::size_t>((j - grid.j0) * w + (i - grid.i0))] = 1;
    pieces.push_back({1, r});
  }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (!covered[static_cast<std::size_t>(y * w + x)])
        pieces.push_back({1, {grid.i0 + x, grid.j0 + y, grid.i0 + x + 1, grid.j0 + y + 1}});
  return pieces;
}

// ---------------------------------------------------------------------------------------------------
// The builder.

struct Node {
  Rect rect;
  Level level = Level::province;
  int parent = -1;
  int grids = 0;        // grids allotted to this subtree
  int first_child = 0;  // children are contiguous in the node list
  int child_count = 0;
  bool urban = false;  // a township that is a 街道, or a village that is a 社区
  std::string code, name;
  int households = 0, population = 0;
  bool gone = false;  // outline mode: nothing of it lies inside the outline
  int leaf = -1;      // outline mode: a grid's index among the clipped leaves
  std::string wkt;    // outline mode: the clipped geometry
};

// Grids above this go province-wide: one county cannot hold them realistically.
constexpr int kCountyModeMaxGrids = 3000;
constexpr int kMaxGrids = 1'000'000;

class Builder {
 public:
  explicit Builder(const Options& options) : m_options(options), m_province(options.grids > kCountyModeMaxGrids) {
    if (options.grids < 1 || options.grids > kMaxGrids) throw std::invalid_argument("sample: grids must be in 1..1000000");
    if (options.micro < 0) throw std::invalid_argument("sample: micro must not be negative");
    if (!options.outline_wkt.empty()) {
      if (m_province || options.micro > 0)
        throw std::invalid_argument("sample: an outline is for one county without micro-grids (at most 3000 grids, no --micro)");
      m_clipper = std::make_unique<Clipper>(options.outline_wkt);
    }
  }

  Jurisdiction run() {
    // Blocks per grid: 7.5 on average, or what the micro-grid target needs at 1.5 blocks per micro-grid.
    const long long grids = m_options.grids;
    long long cells = grids * 15 / 2;
    if (m_options.micro > 0) cells = std::clamp(static_cast<long long>(m_options.micro) * 3 / 2, grids * 5, grids * 10);
    cells = std::max(cells, 4LL);
    // West-east extent about 1.3 × south-north, like the province.
    int cols = static_cast<int>(std::llround(std::sqrt(static_cast<double>(cells) * 1.17)));
    cols = std::max(cols, 2);
    int rows = std::max(2, static_cast<int>((cells + cols - 1) / cols));
    if (m_clipper) {
      place_over_outline(cells, cols, rows);
    } else {
      m_lattice = std::make_unique<Lattice>(cols, rows, m_options.seed, m_options.origin_lon, m_options.origin_lat);
    }

    build_tree();
    build_micro();
    count_people();

    Jurisdiction out;
    out.areas_before_clipping = static_cast<long long>(m_nodes.size());
    if (m_clipper) {
      clip_to_outline();
      out.grids_cut = static_cast<long long>(m_clipper->leaves_cut());
    }
    emit_areas(out);
    emit_streets(out);
    emit_workers(out);
    emit_incidents(out);
    emit_checkpoints(out);
    if (m_options.live) {
      emit_positions(out);
      emit_recent_cases(out);
    }
    return out;
  }

 private:
  Rng make_stream(std::uint64_t id) const { return stream(m_options.seed, id); }

  // ------------------------------------------------------------------------------------------------
  // The outline mode.

  // The lattice gets the outline's proportions and enough blocks that those inside it number about
  // what the rectangle would have; then it is scaled over the outline's bounds, and each cell whose
  // centre lies inside counts as land for the allotment of grids.
  void place_over_outline(long long cells, int& cols, int& rows) {
    const Bounds b = m_clipper->bounds();
    const double box = (b.max_lon - b.min_lon) * (b.max_lat - b.min_lat);
    const double fill = std::clamp(m_clipper->outline_area_deg2() / box, 0.05, 1.0);
    const double centre_lat = (b.min_lat + b.max_lat) / 2;
    const double aspect = (b.max_lon - b.min_lon) * std::cos(centre_lat * 3.14159265358979 / 180.0) * 111'320.0 /
                          ((b.max_lat - b.min_lat) * static_cast<double>(kMetresPerDegreeLat));
    // cols/rows in blocks: a block is kBlockWidthMm wide and kBlockHeightMm tall.
    const double ratio = aspect * static_cast<double>(kBlockHeightMm) / static_cast<double>(kBlockWidthMm);
    const double all = static_cast<double>(cells) / fill;
    cols = std::max(2, static_cast<int>(std::llround(std::sqrt(all * ratio))));
    rows = std::max(2, static_cast<int>(std::llround(all / cols)));
    m_lattice = std::make_unique<Lattice>(cols, rows, m_options.seed, m_options.origin_lon, m_options.origin_lat, &b);
    std::vector<char> inside(static_cast<std::size_t>(cols) * static_cast<std::size_t>(rows), 0);
    for (int j = 0; j < rows; ++j)
      for (int i = 0; i < cols; ++i) {
        const double lon =
            static_cast<double>(m_lattice->lon(i, j) + m_lattice->lon(i + 1, j) + m_lattice->lon(i, j + 1) + m_lattice->lon(i + 1, j + 1)) /
            4e9;
        const double lat =
            static_cast<double>(m_lattice->lat(i, j) + m_lattice->lat(i + 1, j) + m_lattice->lat(i, j + 1) + m_lattice->lat(i + 1, j + 1)) /
            4e9;
        inside[static_cast<std::size_t>(j) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(i)] =
            m_clipper->outline_contains({lon, lat}) ? 1 : 0;
      }
    m_weights = std::make_unique<CellWeights>(cols, rows, inside);
  }

  // Land cells of a rectangle: inside cells with an outline, all of them without.
  long long land(const Rect& r) const { return m_weights ? m_weights->of(r) : r.cells(); }

  // Grids are the leaves: clipped together, then every area above is the union of its grids, so
  // each level still partitions its parent. People are summed again over what is left.
  void clip_to_outline() {
    std::vector<std::string> leaves;
    for (Node& node : m_nodes) {
      if (node.level != Level::grid) continue;
      node.leaf = static_cast<int>(leaves.size());
      leaves.push_back(m_lattice->multipolygon(node.rect));
    }
    m_clipper->clip(leaves);
    std::vector<std::vector<std::size_t>> below(m_nodes.size());
    for (std::size_t n = m_nodes.size(); n-- > 0;) {
      Node& node = m_nodes[n];
      if (node.level == Level::grid && !m_clipper->leaf_empty(static_cast<std::size_t>(node.leaf)))
        below[n].push_back(static_cast<std::size_t>(node.leaf));
      node.wkt = m_clipper->union_wkt(below[n]);
      node.gone = node.wkt.empty();
      if (node.parent >= 0) {
        auto& up = below[static_cast<std::size_t>(node.parent)];
        up.insert(up.end(), below[n].begin(), below[n].end());
      }
      if (node.level != Level::grid) node.households = node.population = 0;
    }
    for (std::size_t n = m_nodes.size(); n-- > 0;) {
      const Node& node = m_nodes[n];
      if (node.parent < 0 || node.gone) continue;
      Node& parent = m_nodes[static_cast<std::size_t>(node.parent)];
      parent.households += node.households;
      parent.population += node.population;
    }
  }

  int child_count(Level child_level, int grids) const {
    int k = 1;
    switch (child_level) {
      case Level::city:
        k = std::clamp((grids + 1500) / 3000, 2, static_cast<int>(kCities.size()));
        break;
      case Level::county:
        k = std::clamp((grids + 475) / 950, 1, 99);
        break;
      case Level::township:
        k = m_province ? std::clamp((grids + 30) / 60, 1, 60)
                       : std::clamp((grids + 15) / 30, 1, static_cast<int>(kDeqingStreetOffices.size() + kDeqingTowns.size()));
        // Laid over the real county, the sample has its real number of townships.
        if (m_clipper) k = static_cast<int>(kDeqingStreetOffices.size() + kDeqingTowns.size());
        break;
      case Level::village: {
        // 10–20 villages per township: about 15, with 3–8 grids each.
        const long long per_village_x10 = std::clamp(grids * 10LL / 15, 30LL, 80LL);
        k = static_cast<int>(std::clamp((grids * 10LL + per_village_x10 / 2) / per_village_x10, 1LL, 999LL));
        break;
      }
      default:
        k = grids;
        break;
    }
    return std::min(k, grids);
  }

  void build_tree() {
    Node root;
    root.rect = {0, 0, m_lattice->cols(), m_lattice->rows()};
    root.grids = m_options.grids;
    if (m_province) {
      root.level = Level::province;
      root.code = "330000";
      root.name = "浙江省";
    } else {
      root.level = Level::county;
      root.code = "330521";
      root.name = "德清县";
    }
    m_nodes.push_back(root);

    Rng split_rng = make_stream(1);
    Rng name_rng = make_stream(2);
    std::size_t begin = 0, end = 1;
    for (Level level = root.level; level < Level::grid; level = child_of(level)) {
      for (std::size_t n = begin; n < end; ++n) split(n, child_of(level), split_rng, name_rng);
      begin = end;
      end = m_nodes.size();
    }
  }

  void split(std::size_t parent_index, Level child_level, Rng& split_rng, Rng& name_rng) {
    const Node parent = m_nodes[parent_index];  // copy: m_nodes grows below
    int k = child_count(child_level, parent.grids);
    if (child_level == Level::grid) {
      // Grids follow the village's actual area rather than its allotment, so that the cut rounding
      // of the levels above does not leave some villages with 12-block grids and others with 4:
      // a running count over all blocks keeps the total at exactly options.grids.
      const long long total_cells = static_cast<long long>(m_lattice->cols()) * m_lattice->rows();
      const long long total_land = m_weights ? std::max(1LL, land(Rect{0, 0, m_lattice->cols(), m_lattice->rows()})) : total_cells;
      m_cells_seen += land(parent.rect);
      const long long due = (m_cells_seen * m_options.grids * 2 + total_land) / (2 * total_land);
      k = static_cast<int>(std::clamp(due - m_grids_made, 1LL, std::max(1LL, land(parent.rect))));
      m_grids_made += k;
    }
    std::vector<int> grids =
        child_level == Level::grid ? std::vector<int>(static_cast<std::size_t>(k), 1) : allot(parent.grids, k, 55, 145, split_rng);
    std::vector<Piece> pieces(static_cast<std::size_t>(k));
    for (std::size_t n = 0; n < pieces.size(); ++n) pieces[n].grids = grids[n];
    // Grid cuts stay proportional: the jitter that varies the upper levels would make 4-block grids.
    kd_split(parent.rect, pieces, 0, k, child_level == Level::grid ? 5 : 4, child_level != Level::grid, split_rng, m_weights.get());

    std::vector<Node> children;
    for (std::size_t n : spatial_order(parent.rect, pieces)) {
      Node child;
      child.rect = pieces[n].rect;
      child.level = child_level;
      child.parent = static_cast<int>(parent_index);
      child.grids = pieces[n].grids;
      children.push_back(std::move(child));
    }
    name_children(parent, children, name_rng);
    std::sort(children.begin(), children.end(), [](const Node& a, const Node& b) { return a.code < b.code; });
    m_nodes[parent_index].first_child = static_cast<int>(m_nodes.size());
    m_nodes[parent_index].child_count = static_cast<int>(children.size());
    for (Node& child : children) m_nodes.push_back(std::move(child));
  }

  // `children` arrive in spatial order (west→east, north→south).
  void name_children(const Node& parent, std::vector<Node>& children, Rng& rng) {
    std::set<std::string> taken;
    switch (children.front().level) {
      case Level::city:
        for (std::size_t n = 0; n < children.size(); ++n) {
          children[n].code = kCities[n].code;
          children[n].name = kCities[n].name;
        }
        break;
      case Level::county:
        for (std::size_t n = 0; n < children.size(); ++n) {
          children[n].code = parent.code.substr(0, 4) + padded(static_cast<long long>(n) + 1, 2);
          const int roll = static_cast<int>(rng.below(100));
          children[n].name = unique_name(rng, m_county_names, roll < 40 ? "区" : roll < 85 ? "县" : "市");
        }
        break;
      case Level::township:
        name_townships(parent, children, rng);
        break;
      case Level::village:
        for (std::size_t n = 0; n < children.size(); ++n) {
          Node& c = children[n];
          c.code = parent.code + padded(static_cast<long long>(n) + 1, 3);
          c.urban = parent.urban || rng.percent(20);
          c.name = unique_name(rng, taken, c.urban ? "社区" : "村");
        }
        break;
      default:
        for (std::size_t n = 0; n < children.size(); ++n) {
          children[n].code = parent.code + padded(static_cast<long long>(n) + 1, 3);
          children[n].name = parent.name + "第" + std::to_string(n + 1) + "网格";
        }
        break;
    }
  }

  // Street offices (街道, codes 001…) take the townships nearest the county centre, towns (镇, 101…)
  // the rest; each kind is numbered in spatial order.
  void name_townships(const Node& county, std::vector<Node>& children, Rng& rng) {
    const int k = static_cast<int>(children.size());
    int street_offices = m_province ? std::max(1, (k * 35 + 50) / 100) : std::max(1, (k * 5 + 6) / 13);
    street_offices = std::min(street_offices, k);
    if (!m_province) street_offices = std::max(street_offices, k - static_cast<int>(kDeqingTowns.size()));
    std::vector<std::size_t> by_distance(children.size());
    for (std::size_t n = 0; n < by_distance.size(); ++n) by_distance[n] = n;
    const long long cx2 = county.rect.i0 + county.rect.i1, cy2 = county.rect.j0 + county.rect.j1;
    auto distance = [&](std::size_t n) {
      const Rect& r = children[n].rect;
      const long long dx = r.i0 + r.i1 - cx2, dy = r.j0 + r.j1 - cy2;
      return dx * dx + dy * dy;
    };
    std::stable_sort(by_distance.begin(), by_distance.end(), [&](std::size_t a, std::size_t b) { return distance(a) < distance(b); });
    for (int n = 0; n < street_offices; ++n) children[by_distance[static_cast<std::size_t>(n)]].urban = true;

    std::set<std::string> taken;
    int next_office = 0, next_town = 0;
    for (Node& c : children) {
      if (m_province) {
        c.code = county.code + (c.urban ? padded(++next_office, 3) : padded(100 + ++next_town, 3));
        c.name = unique_name(rng, taken, c.urban ? "街道" : "镇");
      } else {
        const CodeName& real =
            c.urban ? kDeqingStreetOffices[static_cast<std::size_t>(next_office++)] : kDeqingTowns[static_cast<std::size_t>(next_town++)];
        c.code = county.code + real.code;
        c.name = real.name;
      }
    }
  }

  // Micro-grids follow a running target (micro × blocks seen / all blocks), so a small target
  // subdivides only some grids and a large one all of them.
  void build_micro() {
    if (m_options.micro <= 0) return;
    Rng rng = make_stream(3);
    const long long total_cells = static_cast<long long>(m_lattice->cols()) * m_lattice->rows();
    long long seen = 0, produced = 0;
    const std::size_t grid_count = m_nodes.size();
    for (std::size_t g = 0; g < grid_count; ++g) {
      if (m_nodes[g].level != Level::grid) continue;
      const Rect rect = m_nodes[g].rect;
      const long long n = rect.cells();
      seen += n;
      const long long desired = static_cast<long long>(m_options.micro) * seen / total_cells - produced;
      const long long fewest = (n + 1) / 2;
      if (desired * 2 < fewest) continue;
      const int m = static_cast<int>(std::clamp(desired, fewest, n));
      produced += m;
      std::vector<Piece> pieces = tile_micro(rect, m, rng);
      std::vector<Node> children;
      for (std::size_t p : spatial_order(rect, pieces)) {
        Node child;
        child.rect = pieces[p].rect;
        child.level = Level::microgrid;
        child.parent = static_cast<int>(g);
        child.grids = 0;
        child.code = m_nodes[g].code + padded(static_cast<long long>(children.size()) + 1, 2);
        child.name = "微网格 " + padded(static_cast<long long>(children.size()) + 1, 2);
        children.push_back(std::move(child));
      }
      m_nodes[g].first_child = static_cast<int>(m_nodes.size());
      m_nodes[g].child_count = static_cast<int>(children.size());
      for (Node& child : children) m_nodes.push_back(std::move(child));
    }
  }

  // Grids get 300–500 households at 2.5–3.2 people each; micro-grids share their grid's by blocks,
  // everything above is summed, so parents always equal the sum of their children.
  void count_people() {
    Rng rng = make_stream(4);
    for (Node& node : m_nodes) {
      if (node.level != Level::grid) continue;
      node.households = rng.range(300, 500);
      node.population = static_cast<int>(static_cast<long long>(node.households) * rng.range(250, 320) / 100);
      if (node.child_count == 0) continue;
      const long long cells = node.rect.cells();
      long long cum_cells = 0, given_h = 0, cum_h = 0, given_p = 0;
      for (int c = node.first_child; c < node.first_child + node.child_count; ++c) {
        Node& micro = m_nodes[static_cast<std::size_t>(c)];
        cum_cells += micro.rect.cells();
        const long long upto_h = node.households * cum_cells / cells;
        micro.households = static_cast<int>(upto_h - given_h);
        given_h = upto_h;
        cum_h += micro.households;
        const long long upto_p = node.population * cum_h / node.households;
        micro.population = static_cast<int>(upto_p - given_p);
        given_p = upto_p;
      }
    }
    // Children come after their parents, so a reverse pass sums bottom-up.
    for (std::size_t n = m_nodes.size(); n-- > 0;) {
      const Node& node = m_nodes[n];
      if (node.parent < 0 || node.level == Level::microgrid) continue;  // grids already hold their micro-grids' sums
      Node& parent = m_nodes[static_cast<std::size_t>(node.parent)];
      parent.households += node.households;
      parent.population += node.population;
    }
  }

  void emit_areas(Jurisdiction& out) const {
    out.areas.reserve(m_nodes.size());
    for (const Node& node : m_nodes) {
      if (node.gone) continue;
      Area area;
      area.code = node.code;
      area.name = node.name;
      area.level = level_name(node.level);
      if (node.parent >= 0) area.parent_code = m_nodes[static_cast<std::size_t>(node.parent)].code;
      area.wkt = m_clipper ? node.wkt : m_lattice->multipolygon(node.rect);
      area.households = node.households;
      area.population = node.population;
      out.areas.push_back(std::move(area));
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Streets: every lattice edge is one LINESTRING, so all streets meet at shared end vertices.

  struct LineClass {
    const char* highway = "residential";
    bool oneway = false;
    bool reversed = false;  // for one-ways: traffic runs west/south-bound
  };

  // Arteries every 8–10 lines (every third one primary), a tertiary road halfway between arteries,
  // the rest residential with a quarter of them one-way in alternating directions.
  static std::vector<LineClass> classify_lines(int count, Rng& rng) {
    std::vector<LineClass> lines(static_cast<std::size_t>(count));
    int artery = 0, previous = -1;
    for (int at = rng.range(2, 5); at < count; at += rng.range(8, 10)) {
      lines[static_cast<std::size_t>(at)].highway = artery++ % 3 == 1 ? "primary" : "secondary";
      if (previous >= 0) lines[static_cast<std::size_t>((previous + at) / 2)].highway = "tertiary";
      previous = at;
    }
    for (std::size_t n = 0; n < lines.size(); ++n) {
      if (std::string_view(lines[n].highway) != "residential") continue;
      if (rng.percent(25)) {
        lines[n].oneway = true;
        lines[n].reversed = n % 2 == 1;
      }
    }
    return lines;
  }

  static constexpr int kStretch = 40;  // blocks per street name along a lattice line

  std::string street_name(bool north_south, int line, int along, const LineClass& cls) const {
    const int stretch = along / kStretch;
    const int stretches = ((north_south ? m_lattice->rows() : m_lattice->cols()) + kStretch - 1) / kStretch;
    const std::uint64_t h = hash_of(m_options.seed, north_south ? 0x4E53ULL : 0x4557ULL, static_cast<std::uint64_t>(line),
                                    static_cast<std::uint64_t>(stretch / 2));
    const std::size_t pool = kStreetStems.size() + kStemFirst.size() * kStemSecond.size();
    const std::size_t pick = h % pool;
    std::string name;
    if (pick < kStreetStems.size()) {
      name = kStreetStems[pick];
    } else {
      const std::size_t combo = pick - kStreetStems.size();
      name = kStemFirst[combo / kStemSecond.size()];
      name += kStemSecond[combo % kStemSecond.size()];
    }
    // A long line is one street with two halves (英溪南路 / 英溪北路) per pair of stretches.
    if ((stretch / 2) * 2 + 1 < stretches) name += north_south ? (stretch % 2 == 0 ? "南" : "北") : (stretch % 2 == 0 ? "西" : "东");
    const std::string_view highway = cls.highway;
    if (highway == "primary")
      name += "大道";
    else if (highway == "residential")
      name += (h >> 40) % 3 == 0 ? "巷" : (h >> 40) % 3 == 1 ? "街" : "路";
    else
      name += "路";
    return name;
  }

  void emit_streets(Jurisdiction& out) {
    Rng rng = make_stream(5);
    const int cols = m_lattice->cols(), rows = m_lattice->rows();
    m_east_west = classify_lines(rows + 1, rng);
    m_north_south = classify_lines(cols + 1, rng);
    out.streets.reserve(static_cast<std::size_t>(cols) * static_cast<std::size_t>(rows + 1) +
                        static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols + 1));
    for (int j = 0; j <= rows; ++j) {
      const LineClass& cls = m_east_west[static_cast<std::size_t>(j)];
      std::string name;
      for (int i = 0; i < cols; ++i) {
        if (i % kStretch == 0) name = street_name(false, j, i, cls);
        Street s;
        s.name = name;
        s.highway = cls.highway;
        s.oneway = cls.oneway;
        s.wkt = cls.reversed ? m_lattice->segment(i + 1, j, i, j) : m_lattice->segment(i, j, i + 1, j);
        if (m_clipper && !m_clipper->outline_intersects(s.wkt)) continue;  // never reaches the county
        out.streets.push_back(std::move(s));
      }
    }
    for (int i = 0; i <= cols; ++i) {
      const LineClass& cls = m_north_south[static_cast<std::size_t>(i)];
      std::string name;
      for (int j = 0; j < rows; ++j) {
        if (j % kStretch == 0) name = street_name(true, i, j, cls);
        Street s;
        s.name = name;
        s.highway = cls.highway;
        s.oneway = cls.oneway;
        s.wkt = cls.reversed ? m_lattice->segment(i, j + 1, i, j) : m_lattice->segment(i, j, i, j + 1);
        if (m_clipper && !m_clipper->outline_intersects(s.wkt)) continue;
        out.streets.push_back(std::move(s));
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // People and things.

  std::vector<std::size_t> grid_indices() const {
    std::vector<std::size_t> grids;
    for (std::size_t n = 0; n < m_nodes.size(); ++n)
      if (m_nodes[n].level == Level::grid && !m_nodes[n].gone) grids.push_back(n);
    return grids;
  }

  static std::string person_name(Rng& rng) {
    std::string name(rng.pick(kSurnames));
    name += rng.pick(kGivenChars);
    if (rng.percent(70)) name += rng.pick(kGivenChars);
    return name;
  }

  void emit_workers(Jurisdiction& out) {
    Rng rng = make_stream(6);
    // Phones stay unique: the last eight digits are an affine bijection of the worker index mod 1e8.
    const std::uint64_t offset = rng.below(100'000'000);
    for (std::size_t g : grid_indices()) {
      const int count = rng.percent(40) ? 2 : 1;
      m_first_worker.push_back(out.workers.size());
      for (int w = 0; w < count; ++w) {
        const std::uint64_t n = out.workers.size();
        Worker worker;
        worker.name = person_name(rng);
        worker.phone =
            std::to_string(rng.pick(kPhonePrefixes)) + padded(static_cast<long long>((n * 37'124'571ULL + offset) % 100'000'000ULL), 8);
        worker.grid_code = m_nodes[g].code;
        out.workers.push_back(std::move(worker));
        m_worker_grid.push_back(g);
      }
    }
  }

  // With an outline, drawn again until it falls inside the clipped grid (a grid's cells may lie
  // partly outside the county); the rectangle's points are taken at the first draw.
  LonLat point_in_grid(const Node& grid, Rng& rng, int* cell_i, int* cell_j) const {
    for (int attempt = 0;; ++attempt) {
      const int i = grid.rect.i0 + static_cast<int>(rng.below(static_cast<std::uint64_t>(grid.rect.width())));
      const int j = grid.rect.j0 + static_cast<int>(rng.below(static_cast<std::uint64_t>(grid.rect.height())));
      const auto [lon, lat] = m_lattice->point_in_cell(i, j, rng);
      const LonLat p{static_cast<double>(lon) / 1e9, static_cast<double>(lat) / 1e9};
      if (cell_i) *cell_i = i;
      if (cell_j) *cell_j = j;
      if (!m_clipper || m_clipper->leaf_contains(static_cast<std::size_t>(grid.leaf), p)) return p;
      if (attempt == 200) return m_clipper->point_on_leaf(static_cast<std::size_t>(grid.leaf));
    }
  }

  // ------------------------------------------------------------------------------------------------
  // The live part: ages relative to the moment of loading.

  // Seven workers in ten reported their position in the last hours (half of those within half an
  // hour), one in ten a few days ago, the rest never.
  void emit_positions(Jurisdiction& out) const {
    Rng rng = make_stream(9);
    for (std::size_t w = 0; w < out.workers.size(); ++w) {
      const int roll = static_cast<int>(rng.below(100));
      if (roll >= 80) continue;
      Position p;
      p.worker = w;
      if (roll < 35)
        p.age_seconds = rng.range(60, 30 * 60);
      else if (roll < 70)
        p.age_seconds = rng.range(30 * 60, 6 * 3600);
      else
        p.age_seconds = rng.range(24 * 3600, 4 * 24 * 3600);
      const LonLat at = point_in_grid(m_nodes[m_worker_grid[w]], rng, nullptr, nullptr);
      p.lon = at.lon, p.lat = at.lat;
      out.positions.push_back(p);
    }
  }

  // Cases of the last days in every state of the lifecycle. Dispatched cases are either fresh
  // (dispatched minutes ago: within their limit) or late (dispatched days ago: past it).
  void emit_recent_cases(Jurisdiction& out) const {
    static constexpr std::array<const char*, 9> kLiveStatuses = {"collect",  "register", "dispatch", "handle",   "hold",
                                                                 "feedback", "verified", "closed",   "cancelled"};
    static constexpr std::array<int, 9> kLiveWeights = {10, 10, 16, 20, 5, 10, 6, 18, 5};
    Rng rng = make_stream(10);
    const std::vector<std::size_t> grids = grid_indices();
    const std::size_t count = std::clamp<std::size_t>(grids.size() / 2, 20, 2000);
    for (std::size_t n = 0; n < count; ++n) {
      // Every state at least twice, then by weight.
      const std::size_t s = n < 2 * kLiveStatuses.size() ? n % kLiveStatuses.size() : weighted(rng, kLiveWeights);
      const std::string status = kLiveStatuses[s];
      const std::size_t g = rng.below(grids.size());
      RecentCase c;
      Incident& incident = c.incident;
      int i = 0, j = 0;
      const LonLat at = point_in_grid(m_nodes[grids[g]], rng, &i, &j);
      incident.lon = at.lon, incident.lat = at.lat;
      const Category& category = kCategories[weighted(rng, kCategoryWeights)];
      incident.category = category.name;
      incident.source = kSources[weighted(rng, kSourceWeights)];
      incident.status = status;
      incident.description =
          street_name(false, j, i, m_east_west[static_cast<std::size_t>(j)]) + "附近" + rng.pick(category.items) + rng.pick(kRequests);
      const std::size_t worker = m_first_worker[g];
      incident.reporter = incident.source == std::string_view("worker") ? out.workers[worker].name
                          : incident.source == std::string_view("hotline")
                              ? std::string(rng.pick(kSurnames)) + (rng.percent(50) ? "先生" : "女士")
                          : incident.source == std::string_view("app") ? "浙里办用户" + padded(static_cast<long long>(rng.below(10'000)), 4)
                                                                       : std::string("视频巡查");
      const bool dispatched = status != "collect" && status != "register" && status != "cancelled";
      if (!dispatched) {
        c.reported_age_seconds = rng.range(5 * 60, 2 * 86400);
        if (status == "cancelled") c.reported_age_seconds = rng.range(86400, 10 * 86400);
      } else {
        const bool open = status == "dispatch" || status == "handle" || status == "hold";
        const bool late = open ? rng.percent(50) : rng.percent(30);
        c.dispatched_age_seconds = late ? rng.range(4 * 86400, 12 * 86400) : rng.range(10 * 60, 90 * 60);
        if (!open && !late) c.dispatched_age_seconds = rng.range(3 * 3600, 3 * 86400);
        c.reported_age_seconds = c.dispatched_age_seconds + rng.range(5 * 60, 3 * 3600);
        if (status == "closed") c.closed_age_seconds = c.dispatched_age_seconds * rng.range(5, 60) / 100;
        incident.assignee_worker = static_cast<long long>(worker);
      }
      out.recent_cases.push_back(std::move(c));
    }
  }

  void emit_incidents(Jurisdiction& out) const {
    Rng rng = make_stream(7);
    // Draws of the live sample's finished history, from a stream of their own: the cases
    // themselves stay those of the tests' sample.
    Rng history = make_stream(11);
    const std::vector<std::size_t> grids = grid_indices();
    const std::size_t count = std::min<std::size_t>(grids.size(), 5000);
    const long long end = days_from_civil(2026, 11, 1) * 86400;
    out.incidents.reserve(count);
    for (std::size_t n = 0; n < count; ++n) {
      const std::size_t g = rng.below(grids.size());
      Incident incident;
      int i = 0, j = 0;
      const LonLat at = point_in_grid(m_nodes[grids[g]], rng, &i, &j);
      incident.lon = at.lon, incident.lat = at.lat;
      const Category& category = kCategories[weighted(rng, kCategoryWeights)];
      incident.category = category.name;
      incident.source = kSources[weighted(rng, kSourceWeights)];
      incident.status = kStatuses[weighted(rng, kStatusWeights)];
      incident.description =
          street_name(false, j, i, m_east_west[static_cast<std::size_t>(j)]) + "附近" + rng.pick(category.items) + rng.pick(kRequests);
      const std::string_view source = incident.source;
      if (source == "worker") {
        incident.reporter = out.workers[m_first_worker[g]].name;
      } else if (source == "hotline") {
        incident.reporter = std::string(rng.pick(kSurnames)) + (rng.percent(50) ? "先生" : "女士");
      } else if (source == "app") {
        incident.reporter = "浙里办用户" + padded(static_cast<long long>(rng.below(10'000)), 4);
      } else {
        incident.reporter = "视频巡查";
      }
      incident.reported_at = rfc3339(end - 1 - static_cast<long long>(rng.below(90ULL * 86400)));
      // Dispatch names an assignee; the grid's worker is the one on the spot (no random draw, so
      // the rest of the sample stays as it was).
      if (incident.status != "collect" && incident.status != "register")
        incident.assignee_worker = static_cast<long long>(m_first_worker[g]);
      if (m_options.live) finish(incident, history, m_first_worker[g]);
      out.incidents.push_back(std::move(incident));
    }
  }

  // A case of the live sample's history, a month or more before loading: one never taken up is
  // cancelled; the others were dispatched to the grid's worker within hours and closed, four in
  // five within the time allowed.
  static void finish(Incident& incident, Rng& rng, std::size_t worker) {
    if (incident.status == "collect") {
      incident.status = "cancelled";
      incident.assignee_worker = -1;
      return;
    }
    incident.status = "closed";
    incident.assignee_worker = static_cast<long long>(worker);
    incident.dispatch_delay_seconds = rng.range(10 * 60, 4 * 3600);
    incident.closed_at_percent_of_limit = rng.percent(80) ? rng.range(15, 95) : rng.range(105, 250);
  }

  void emit_checkpoints(Jurisdiction& out) const {
    Rng rng = make_stream(8);
    const std::vector<std::size_t> grids = grid_indices();
    constexpr std::size_t kCap = 20'000;
    // About two per grid; past the cap only every stride-th grid gets some, spread over the province.
    const std::size_t stride = std::max<std::size_t>(1, (grids.size() * 2 + kCap - 1) / kCap);
    for (std::size_t g = 0; g < grids.size() && out.checkpoints.size() < kCap; g += stride) {
      const Node& grid = m_nodes[grids[g]];
      const int count = rng.range(1, 3);
      for (int c = 0; c < count && out.checkpoints.size() < kCap; ++c) {
        Checkpoint cp;
        cp.grid_code = grid.code;
        const std::size_t kind = weighted(rng, kCheckpointWeights);
        cp.kind = kCheckpointKinds[kind];
        switch (kind) {
          case 0:
            cp.name = "出租房 " + std::to_string(rng.range(1, 199)) + "号";
            cp.frequency = rng.percent(75) ? "monthly" : "weekly";
            break;
          case 1:
            cp.name = stem(rng) + rng.pick(kShops);
            cp.frequency = rng.percent(60) ? "monthly" : "weekly";
            break;
          case 2:
            cp.name = stem(rng) + rng.pick(kKeyPlaces);
            cp.frequency = rng.percent(70) ? "weekly" : "daily";
            break;
          case 3:
            cp.name = stem(rng) + rng.pick(kSchools);
            cp.frequency = rng.percent(80) ? "weekly" : "daily";
            break;
          default:
            cp.name = std::string(rng.pick(kHazards)) + " " + std::to_string(rng.range(1, 99)) + "号";
            cp.frequency = rng.percent(60) ? "daily" : "weekly";
            break;
        }
        const LonLat at = point_in_grid(grid, rng, nullptr, nullptr);
        cp.lon = at.lon, cp.lat = at.lat;
        out.checkpoints.push_back(std::move(cp));
      }
    }
  }

  const Options m_options;
  const bool m_province;
  std::unique_ptr<Lattice> m_lattice;
  std::vector<Node> m_nodes;
  std::set<std::string> m_county_names;
  long long m_cells_seen = 0, m_grids_made = 0;
  std::vector<LineClass> m_east_west, m_north_south;
  std::vector<std::size_t> m_first_worker;  // index of each grid's first worker, in grid order
  std::vector<std::size_t> m_worker_grid;   // each worker's grid (node index)
  std::unique_ptr<Clipper> m_clipper;       // outline mode only
  std::unique_ptr<CellWeights> m_weights;   // outline mode only
};

}  // namespace

Jurisdiction generate(const Options& options) { return Builder(options).run(); }

}  // namespace wangge::sample
