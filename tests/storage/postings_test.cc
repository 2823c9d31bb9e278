#include "storage/postings.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace sipdex;
using namespace sipdex::storage;

namespace {

using Reference = std::map<std::string, std::vector<std::uint32_t>>;

// The postings of `p` as a map, checking on the way that keys are strictly
// increasing and each list strictly increasing.
Reference ToMap(const SegmentPostings& p) {
  Reference out;
  REQUIRE(p.key_ends.size() == p.list_ends.size());
  std::string prev;
  for (std::size_t i = 0; i < p.size(); ++i) {
    std::uint32_t kb = i == 0 ? 0 : p.key_ends[i - 1];
    std::uint32_t lb = i == 0 ? 0 : p.list_ends[i - 1];
    std::string key = p.keys.substr(kb, p.key_ends[i] - kb);
    if (i > 0) CHECK(prev < key);
    prev = key;
    std::vector<std::uint32_t> list(p.ordinals.begin() + lb, p.ordinals.begin() + p.list_ends[i]);
    for (std::size_t j = 1; j < list.size(); ++j) CHECK(list[j - 1] < list[j]);
    out[key] = list;
  }
  return out;
}

// Adds the (field, value) pairs of a synthetic record to the collector and to
// the reference (record `ordinal` of a segment whose ordinals start at `base`
// in the run).
void AddRecord(PostingCollector* c, Reference* ref, std::uint32_t ordinal, std::uint32_t base,
               const std::vector<std::pair<FieldId, std::string>>& values) {
  c->SetRecord(ordinal);
  for (const auto& [f, v] : values) {
    c->Add(f, v);
    std::vector<std::uint32_t>& list = (*ref)[PostingValueKey(f, v)];
    if (list.empty() || list.back() != base + ordinal) list.push_back(base + ordinal);
  }
}

// A record with a few repeated and a few random values, mixed case.
std::vector<std::pair<FieldId, std::string>> RandomRecord(std::mt19937* rng) {
  std::uniform_int_distribution<int> small(0, 6), big(0, 20000);
  std::vector<std::pair<FieldId, std::string>> v;
  v.emplace_back(FieldId::kMethod, small(*rng) % 2 ? "INVITE" : "invite ");
  v.emplace_back(FieldId::kStatus, std::to_string(200 + small(*rng)));
  v.emplace_back(FieldId::kFromTag, "Tag" + std::to_string(big(*rng)));
  v.emplace_back(FieldId::kCallId, "call-" + std::to_string(big(*rng)));
  v.emplace_back(FieldId::kFromUri, "sip:user" + std::to_string(big(*rng) % 500) + "@example.com");
  v.emplace_back(FieldId::kMethod, "Invite");  // the same value again in the record
  return v;
}

}  // namespace

TEST_CASE("A collector returns each value key once, sorted, with the records holding it once each", "[storage][postings]") {
  PostingCollector c;
  Reference ref;
  AddRecord(&c, &ref, 0, 0, {{FieldId::kMethod, "INVITE"}, {FieldId::kMethod, "invite"}, {FieldId::kStatus, "200"}});
  AddRecord(&c, &ref, 1, 0, {{FieldId::kStatus, "200"}, {FieldId::kFromTag, "abc"}});
  AddRecord(&c, &ref, 5, 0, {{FieldId::kMethod, "Invite "}, {FieldId::kFromTag, "ABC"}});
  SegmentPostings p = c.Finish();
  Reference got = ToMap(p);
  CHECK(got == ref);
  REQUIRE(got.size() == 3);
  CHECK(got[PostingValueKey(FieldId::kMethod, "invite")] == std::vector<std::uint32_t>{0, 5});
  CHECK(got[PostingValueKey(FieldId::kFromTag, "abc")] == std::vector<std::uint32_t>{1, 5});
  CHECK(PostingValueKey(FieldId::kFromTag, "abc").size() == 5);  // hashed: field and 4 hash bytes

  // The collector is empty afterwards and works again.
  AddRecord(&c, &ref, 0, 0, {});
  CHECK(c.Finish().size() == 0);
}

TEST_CASE("A collector with many thousands of keys agrees with a map of the same postings", "[storage][postings]") {
  std::mt19937 rng(11);
  PostingCollector c;
  for (int round = 0; round < 2; ++round) {
    Reference ref;
    for (std::uint32_t i = 0; i < 6000; ++i) AddRecord(&c, &ref, i, 0, RandomRecord(&rng));
    SegmentPostings p = c.Finish();
    CHECK(p.size() > 10000);
    CHECK(ToMap(p) == ref);
  }
}

TEST_CASE("Merging segment postings gives every key once, in order, with lists joined in segment order", "[storage][postings]") {
  std::mt19937 rng(5);
  PostingCollector c;
  Reference ref;
  std::vector<std::pair<std::uint32_t, SegmentPostings>> parts;
  std::uint32_t base = 0;
  for (int seg = 0; seg < 7; ++seg) {
    std::uint32_t n = seg == 3 ? 0 : 300 + 100 * static_cast<std::uint32_t>(seg);  // one empty segment
    for (std::uint32_t i = 0; i < n; ++i) AddRecord(&c, &ref, i, base, RandomRecord(&rng));
    parts.emplace_back(base, c.Finish());
    base += n;
  }
  Reference got;
  std::string prev;
  Status s = MergeSegmentPostings(parts, [&](std::string_view key, std::span<const std::uint32_t> ords) {
    if (!got.empty()) CHECK(prev < key);
    prev = std::string(key);
    CHECK(got.count(prev) == 0);
    got[prev].assign(ords.begin(), ords.end());
    return Status::Ok();
  });
  REQUIRE(s.ok());
  CHECK(got == ref);
  // The common method value is in every non-empty segment: one list of all its records.
  CHECK(got[PostingValueKey(FieldId::kMethod, "invite")].size() == base);
}

TEST_CASE("Merging stops at the first error the receiver returns", "[storage][postings]") {
  PostingCollector c;
  Reference ref;
  AddRecord(&c, &ref, 0, 0, {{FieldId::kMethod, "A"}, {FieldId::kMethod, "B"}, {FieldId::kMethod, "C"}});
  std::vector<std::pair<std::uint32_t, SegmentPostings>> parts;
  parts.emplace_back(0, c.Finish());
  int calls = 0;
  Status s = MergeSegmentPostings(parts, [&](std::string_view, std::span<const std::uint32_t>) {
    return ++calls == 2 ? Status::IoError("disk full") : Status::Ok();
  });
  CHECK(s.code() == Status::Code::kIoError);
  CHECK(calls == 2);
}
