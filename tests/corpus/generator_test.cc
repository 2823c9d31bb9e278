#include "corpus/generator.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "corpus/rng.h"
#include "tests/corpus/test_util.h"

using namespace sipdex;
using namespace sipdex::corpus;
using sipdex::corpus::testing::ReadAll;
using sipdex::corpus::testing::ReadFolder;
using sipdex::corpus::testing::ScratchDir;

namespace {

GenOptions SmallOptions(std::uint64_t seed, const std::string& out) {
  GenOptions o;
  o.seed = seed;
  o.size_bytes = 3'000'000;
  o.days = 3;
  o.start = *ParseIsoTime("2014-07-11");  // Friday: the corpus spans a weekend
  o.roll_bytes = 256 * 1024;
  o.out_dir = out;
  return o;
}

}  // namespace

TEST_CASE("The same seed gives identical bytes whatever the thread count", "[corpus][determinism]") {
  ScratchDir dir("determinism");
  GenOptions a = SmallOptions(11, dir.Sub("a"));
  a.threads = 1;
  GenOptions b = SmallOptions(11, dir.Sub("b"));
  b.threads = 2;
  GenOptions c = SmallOptions(11, dir.Sub("c"));
  c.threads = 4;
  REQUIRE(GenerateCorpus(a).ok());
  REQUIRE(GenerateCorpus(b).ok());
  REQUIRE(GenerateCorpus(c).ok());
  auto fa = ReadFolder(a.out_dir), fb = ReadFolder(b.out_dir), fc = ReadFolder(c.out_dir);
  REQUIRE(fa.size() > 10);
  // ground-truth.json names its own options, which are equal here, so it must match too.
  REQUIRE(fa == fb);
  REQUIRE(fa == fc);
}

TEST_CASE("Different seeds give different corpora", "[corpus][determinism]") {
  ScratchDir dir("seeds");
  REQUIRE(GenerateCorpus(SmallOptions(1, dir.Sub("one"))).ok());
  REQUIRE(GenerateCorpus(SmallOptions(2, dir.Sub("two"))).ok());
  auto one = ReadFolder(dir.Sub("one")), two = ReadFolder(dir.Sub("two"));
  std::size_t same = 0, common = 0;
  for (const auto& [name, bytes] : one) {
    auto it = two.find(name);
    if (it == two.end()) continue;
    ++common;
    if (it->second == bytes && !bytes.empty()) ++same;
  }
  REQUIRE(common > 0);
  REQUIRE(same == 0);
}

TEST_CASE("The corpus size is close to the requested size", "[corpus][size]") {
  ScratchDir dir("size");
  GenOptions o = SmallOptions(5, dir.path());
  auto r = GenerateCorpus(o);
  REQUIRE(r.ok());
  double total = static_cast<double>(r->truth.TotalBytes());
  REQUIRE(total >= 0.98 * static_cast<double>(o.size_bytes));
  REQUIRE(total <= 1.10 * static_cast<double>(o.size_bytes));
}

TEST_CASE("Every generated file follows the trace format", "[corpus][format]") {
  ScratchDir dir("format");
  GenOptions o = SmallOptions(7, dir.path());
  o.bad_rate = 30;
  auto r = GenerateCorpus(o);
  REQUIRE(r.ok());
  const GroundTruth& gt = r->truth;
  // Lines the ground truth lists as garbled header lines.
  std::set<std::pair<std::string, std::uint64_t>> garbled;
  for (const BadRecord& b : gt.bad_records) {
    if (b.bits & kMalformedHeaderLine) garbled.emplace(b.file, b.line);
  }
  REQUIRE_FALSE(garbled.empty());
  const std::regex header(
      R"(TL_[A-Z]+\(TF_[A-Z_]+\) \[[^\]]+\][0-9A-F]{4}\.[0-9A-F]{4}::\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\.\d{3}\.[0-9A-Fa-f]{8}( .*|\$\$begin_record)?)");
  std::size_t headers = 0, files_checked = 0;
  bool saw_crlf = false, saw_lf = false, saw_bom = false, saw_gz = false, saw_legacy = false, saw_cls = false;
  for (const FileTruth& f : gt.files) {
    std::string raw = testing::ReadRaw(dir.Sub(f.name));
    std::string text = ReadAll(dir.Sub(f.name));
    INFO(f.name);
    REQUIRE(text.size() == f.bytes);
    REQUIRE(raw.size() == f.stored_bytes);
    if (f.gz) {
      saw_gz = true;
      REQUIRE(raw.substr(0, 2) == "\x1f\x8b");
    }
    if (f.server.empty() || f.bytes == 0) continue;  // the look-alike file, empty files
    ++files_checked;
    REQUIRE((text.substr(0, 3) == "\xEF\xBB\xBF") == f.bom);
    saw_bom = saw_bom || f.bom;
    std::size_t pos = 0;
    std::uint64_t line = 0;
    while (pos < text.size()) {
      std::size_t nl = text.find('\n', pos);
      std::size_t end = nl == std::string::npos ? text.size() : nl;
      std::string l = text.substr(pos, end - pos);
      ++line;
      if (nl != std::string::npos) {
        bool cr = !l.empty() && l.back() == '\r';
        // Every complete line of a CRLF file ends in CR, none of an LF file.
        REQUIRE(cr == f.crlf);
        if (cr) l.pop_back();
      }
      if (line == 1 && f.bom) l = l.substr(3);
      if (l.rfind("TL_", 0) == 0) {
        ++headers;
        bool ok = std::regex_match(l, header);
        INFO("line " << line << ": " << l);
        REQUIRE(ok != (garbled.count({f.name, line}) > 0));
        saw_legacy = saw_legacy || l.find("$$begin_record") == std::string::npos;
        saw_cls = saw_cls || l.find("\\") != std::string::npos;
      }
      pos = end + 1;
    }
    saw_crlf = saw_crlf || f.crlf;
    saw_lf = saw_lf || !f.crlf;
  }
  REQUIRE(files_checked > 10);
  REQUIRE(headers > 1000);
  REQUIRE(saw_crlf);
  REQUIRE(saw_lf);
  REQUIRE(saw_legacy);
  REQUIRE(saw_cls);
  REQUIRE(saw_bom);
  REQUIRE(saw_gz);
}

TEST_CASE("File names follow SERVER_YYYYMMDD_n.log and roll at the size limit", "[corpus][format]") {
  ScratchDir dir("names");
  GenOptions o = SmallOptions(3, dir.path());
  auto r = GenerateCorpus(o);
  REQUIRE(r.ok());
  const std::regex name(R"([A-Z]+[0-9]{2}_201407(11|12|13)_[1-9][0-9]*\.log(\.gz)?)");
  std::map<std::string, int> parts;
  for (const FileTruth& f : r->truth.files) {
    INFO(f.name);
    REQUIRE(std::regex_match(f.name, name));
    if (f.server.empty()) continue;
    std::string unit = f.name.substr(0, f.name.rfind('_'));
    parts[unit]++;
    // A part only exceeds the roll size by its last record.
    REQUIRE(f.bytes < o.roll_bytes + 200 * 1024);
  }
  int rolled = 0;
  for (const auto& [unit, n] : parts) rolled += n > 1 ? 1 : 0;
  REQUIRE(rolled > 0);
}

TEST_CASE("Weekends are quieter than weekdays", "[corpus][model]") {
  ScratchDir dir("weekend");
  auto r = GenerateCorpus(SmallOptions(9, dir.path()));
  REQUIRE(r.ok());
  std::map<std::string, std::uint64_t> per_day;
  for (const FileTruth& f : r->truth.files) {
    if (!f.server.empty()) per_day[f.name.substr(f.name.find('_') + 1, 8)] += f.bytes;
  }
  REQUIRE(per_day.size() == 3);
  REQUIRE(per_day["20140711"] > 2 * per_day["20140712"]);  // Friday vs Saturday
  REQUIRE(per_day["20140711"] > 2 * per_day["20140713"]);  // Friday vs Sunday
}

TEST_CASE("The ground truth agrees with itself", "[corpus][ground-truth]") {
  for (std::uint64_t seed : {21, 22, 23}) {
    ScratchDir dir("consistency");
    GenOptions o = SmallOptions(seed, dir.path());
    auto r = GenerateCorpus(o);
    REQUIRE(r.ok());
    const GroundTruth& gt = r->truth;
    INFO("seed " << seed);
    Status s = gt.CheckConsistency();
    INFO(s.ToString());
    REQUIRE(s.ok());
    RefusalCounts total = gt.TotalRefusals();
    REQUIRE(total.single > 0);
    REQUIRE(total.batch > 0);
    REQUIRE(total.notify > 0);
    REQUIRE_FALSE(gt.stuck_call_ids.empty());
    REQUIRE(gt.UserEndpointSuccesses() > 0);
    // Refused users are homed online on the day of the refusal; users that
    // never move online are never refused.
    for (const auto& [user, c] : gt.refusals_by_user) REQUIRE(r->deployment.users[user].online_from_day >= 0);
    // The written JSON says the same as the in-memory truth.
    std::ifstream in(dir.Sub("ground-truth.json"));
    nlohmann::json j = nlohmann::json::parse(in);
    REQUIRE(j["bytes"]["total"].get<std::uint64_t>() == gt.TotalBytes());
    REQUIRE(j["records"]["total"].get<std::uint64_t>() == gt.TotalRecords());
    REQUIRE(j["refusals"]["total"]["single"].get<std::uint64_t>() == total.single);
    REQUIRE(j["refusals"]["total"]["batch"].get<std::uint64_t>() == total.batch);
    REQUIRE(j["refusals"]["total"]["notify"].get<std::uint64_t>() == total.notify);
    REQUIRE(j["stuck_subscriptions"]["count"].get<std::size_t>() == gt.stuck_call_ids.size());
    REQUIRE(j["refusals"]["distinct_pair_count"].get<std::size_t>() == gt.refused_pairs.size());
    std::uint64_t per_file = 0;
    for (const auto& [name, n] : j["bytes"]["per_file"].items()) per_file += n.get<std::uint64_t>();
    REQUIRE(per_file == gt.TotalBytes());
    std::uint64_t day_total = 0;
    for (const auto& [day, c] : j["refusals"]["by_day"].items()) day_total += c["total"].get<std::uint64_t>();
    REQUIRE(day_total == total.Total());
    // Every trusted application is listed, with an RTCC user agent.
    REQUIRE(j["deployment"]["trusted_applications"].size() >= 3);
    REQUIRE(j["deployment"]["trusted_applications"].size() <= 8);
    for (const auto& app : j["deployment"]["trusted_applications"]) {
      REQUIRE(app["user_agent"].get<std::string>().rfind("RTCC/", 0) == 0);
    }
  }
}

TEST_CASE("Stuck subscriptions have no response anywhere in the corpus", "[corpus][ground-truth]") {
  ScratchDir dir("stuck");
  auto r = GenerateCorpus(SmallOptions(31, dir.path()));
  REQUIRE(r.ok());
  std::string all;
  for (const FileTruth& f : r->truth.files) all += ReadAll(dir.Sub(f.name));
  REQUIRE_FALSE(r->truth.stuck_call_ids.empty());
  for (const std::string& id : r->truth.stuck_call_ids) {
    INFO(id);
    // The Call-ID occurs once: in the SUBSCRIBE request, never in a response.
    std::size_t first = all.find(id);
    REQUIRE(first != std::string::npos);
    REQUIRE(all.find(id, first + 1) == std::string::npos);
  }
}

TEST_CASE("Bad options are rejected with a message", "[corpus][options]") {
  GenOptions o;
  o.out_dir = "unused";
  o.days = 0;
  auto r = GenerateCorpus(o);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.status().message() == "--days must be between 1 and 62");
  o.days = 7;
  o.size_bytes = 10;
  REQUIRE(GenerateCorpus(o).status().message() == "--size must be at least 64KB");
}

TEST_CASE("Sizes read decimal and binary units", "[corpus][options]") {
  REQUIRE(ParseSize("2GB") == 2'000'000'000ull);
  REQUIRE(ParseSize("200mb") == 200'000'000ull);
  REQUIRE(ParseSize("1GiB") == 1073741824ull);
  REQUIRE(ParseSize("512KiB") == 524288ull);
  REQUIRE(ParseSize("1000") == 1000ull);
  REQUIRE_FALSE(ParseSize("").has_value());
  REQUIRE_FALSE(ParseSize("GB").has_value());
  REQUIRE_FALSE(ParseSize("12TB").has_value());
  REQUIRE_FALSE(ParseSize("99999999999999999999999").has_value());
}

TEST_CASE("Derived seeds differ per input and repeat per input", "[corpus][rng]") {
  REQUIRE(DeriveSeed(1, 2, 3) == DeriveSeed(1, 2, 3));
  REQUIRE(DeriveSeed(1, 2, 3) != DeriveSeed(1, 3, 2));
  REQUIRE(DeriveSeed(1, 2, 3) != DeriveSeed(2, 2, 3));
  Rng a(5), b(5);
  for (int i = 0; i < 100; ++i) REQUIRE(a.Next() == b.Next());
  Rng c(6);
  for (int i = 0; i < 1000; ++i) {
    std::uint32_t v = c.Below(7);
    REQUIRE(v < 7);
  }
}

TEST_CASE("User and application URIs are unique, ignoring case", "[corpus][model]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Deployment d = BuildDeployment(seed, *ParseIsoTime("2014-07-07"), 14);
    std::set<std::string> uris;
    auto lower = [](std::string s) {
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    for (const User& u : d.users) REQUIRE(uris.insert(lower(u.uri)).second);
    for (const TrustedApp& a : d.apps) REQUIRE(uris.insert(lower(a.uri)).second);
    REQUIRE(d.apps.size() >= 3);
    REQUIRE(d.apps.size() <= 8);
    REQUIRE(d.users[0].online_from_day == 0);
    int moving = 0;
    for (const User& u : d.users) moving += u.online_from_day > 0 ? 1 : 0;
    REQUIRE(moving > 0);
  }
}
