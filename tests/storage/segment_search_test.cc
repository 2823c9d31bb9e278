// The chunk-level text search (SegmentDecoder::Search, FindRecordsHolding,
// FindLiteral): it must find exactly the records that memmem finds in each
// record's own bytes, on generated corpora and on literals that cross line
// ends, record boundaries and chunk boundaries.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "corpus/generator.h"
#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"
#include "storage/segment.h"
#include "tests/storage/segments_of_file.h"
#include "tests/corpus/test_util.h"

using namespace sipdex;
using namespace sipdex::storage;

namespace {

SegmentData MakeData(const std::vector<std::string>& texts) {
  SegmentData d;
  d.servers = {"fe01"};
  d.start_offset = 1000;
  d.start_line = 7;
  for (const std::string& t : texts) {
    SegmentRecordMeta m;
    m.size = static_cast<std::uint32_t>(t.size());
    d.records.push_back(m);
    d.text += t;
  }
  return d;
}


struct Hit {
  std::uint32_t ordinal = 0;
  std::string text;
  std::uint64_t offset = 0;
  std::uint32_t line = 0;
  bool operator==(const Hit& o) const {
    return ordinal == o.ordinal && text == o.text && offset == o.offset && line == o.line;
  }
};

// What a per-record memmem finds: the records (of those `wanted` allows)
// holding one of `literals`, with their file offset and line.
std::vector<Hit> Expected(const SegmentData& d, const std::vector<std::string>& literals,
                          const std::vector<std::uint8_t>& wanted) {
  std::vector<Hit> out;
  std::uint64_t offset = 0;
  std::uint32_t line = d.start_line;
  for (std::uint32_t i = 0; i < d.records.size(); ++i) {
    std::string_view t = std::string_view(d.text).substr(offset, d.records[i].size);
    bool any = false;
    for (const std::string& lit : literals) {
      any = any || memmem(t.data(), t.size(), lit.data(), lit.size()) != nullptr;
    }
    if (any && (wanted.empty() || wanted[i] != 0)) out.push_back({i, std::string(t), d.start_offset + offset, line});
    offset += t.size();
    line += static_cast<std::uint32_t>(std::count(t.begin(), t.end(), '\n'));
  }
  return out;
}

std::vector<Hit> Searched(SegmentDecoder* decoder, std::string_view payload, const std::vector<std::string>& literals,
                          const std::vector<std::uint8_t>& wanted, std::vector<std::uint32_t>* asked = nullptr) {
  std::vector<Hit> out;
  SegmentData table;
  std::function<bool(const SegmentData&, std::uint32_t)> want;
  if (!wanted.empty()) {
    want = [&](const SegmentData&, std::uint32_t ordinal) {
      if (asked != nullptr) asked->push_back(ordinal);
      return wanted[ordinal] != 0;
    };
  }
  Status s = decoder->Search(payload, literals, want, &table, [&](const SegmentDecoder::Found& f) {
    out.push_back({f.ordinal, std::string(f.text), f.position.offset, f.position.line});
  });
  REQUIRE(s.ok());
  return out;
}

// Literals from the text itself: substrings across every record boundary,
// line ends, and random places (so some cross chunk boundaries).
std::vector<std::string> LiteralsOf(const SegmentData& d, std::mt19937* rng) {
  std::vector<std::string> lits = {"SIPPROXY_E_ROUTING", "SUBSCRIBE", "2157", "$$end_record", "\nTL_", "\r\nCSeq: ",
                                   "", "no such text anywhere", std::string(d.text.size() + 1, 'x')};
  std::uint64_t end = 0;
  for (std::size_t i = 0; i + 1 < d.records.size() && i < 40; ++i) {
    end += d.records[i].size;
    if (end < 6) continue;
    lits.push_back(d.text.substr(end - 6, 12));  // spans records i and i + 1
    lits.push_back(d.text.substr(end - 3, 3));   // ends exactly at the end of record i
  }
  for (int k = 0; k < 40 && !d.text.empty(); ++k) {
    std::size_t at = (*rng)() % d.text.size();
    std::size_t len = 1 + (*rng)() % 48;
    lits.push_back(d.text.substr(at, len));
  }
  for (std::size_t nl = d.text.find('\n', d.text.size() / 3); nl != std::string::npos && lits.size() < 110;
       nl = d.text.find('\n', nl + 9000)) {
    lits.push_back(d.text.substr(nl - std::min<std::size_t>(nl, 4), 9));  // across a line end
  }
  return lits;
}

}  // namespace

TEST_CASE("FindLiteral finds what memmem finds at every length and position", "[storage][search]") {
  std::mt19937 rng(3);
  const std::string alphabet = "abAB_\n\r:0";
  for (int round = 0; round < 3000; ++round) {
    std::string hay(rng() % 90, 'a');
    for (char& c : hay) c = alphabet[rng() % alphabet.size()];
    std::string needle(rng() % 6, 'a');
    for (char& c : needle) c = alphabet[rng() % alphabet.size()];
    if (rng() % 2 == 0 && !hay.empty()) {
      std::size_t at = rng() % hay.size();
      needle = hay.substr(at, rng() % 20);
    }
    INFO("hay '" << hay << "' needle '" << needle << "'");
    const void* expected = memmem(hay.data(), hay.size(), needle.data(), needle.size());
    REQUIRE(FindLiteral(hay.data(), hay.size(), needle) == expected);
  }
}

TEST_CASE("A literal spanning two records matches neither of them", "[storage][search]") {
  SegmentData d = MakeData({"alpha\nbeta\n", "gamma\n", "delta"});
  std::vector<std::uint8_t> found;
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{"beta\ngam"}, {}, &found);
  CHECK(found == std::vector<std::uint8_t>{0, 0, 0});
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{"beta\n"}, {}, &found);
  CHECK(found == std::vector<std::uint8_t>{1, 0, 0});  // ends exactly at the record's end
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{"a\n"}, {}, &found);
  CHECK(found == std::vector<std::uint8_t>{1, 1, 0});  // first hit of record 1 spans, a later one does not
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{"\ngamma\nd"}, {}, &found);
  CHECK(found == std::vector<std::uint8_t>{0, 0, 0});  // spans three records
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{"lta", "alpha"}, {}, &found);
  CHECK(found == std::vector<std::uint8_t>{1, 0, 1});  // any of two literals
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{""}, {}, &found);
  CHECK(found == std::vector<std::uint8_t>{1, 1, 1});  // the empty literal is in every record
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{"", "x"}, std::vector<std::uint8_t>{1, 0, 1}, &found);
  CHECK(found == std::vector<std::uint8_t>{1, 0, 1});  // ... that is wanted
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{"alpha\nbeta\ngamma"}, {}, &found);
  CHECK(found == std::vector<std::uint8_t>{0, 0, 0});  // longer than the record it starts in
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{"gamma"}, std::vector<std::uint8_t>{1, 0, 1}, &found);
  CHECK(found == std::vector<std::uint8_t>{0, 0, 0});  // in a record that is not wanted
  FindRecordsHolding(d.text, d.records, std::vector<std::string>{}, {}, &found);
  CHECK(found == std::vector<std::uint8_t>{0, 0, 0});  // no literal: nothing
}

TEST_CASE("Searching a generated corpus chunk by chunk finds exactly the records memmem finds", "[storage][search]") {
  corpus::testing::ScratchDir dir("segment_search_test");
  corpus::GenOptions options;
  options.size_bytes = 3u << 20;
  options.seed = 11;
  options.days = 2;
  options.threads = 1;
  options.out_dir = dir.path();
  REQUIRE(corpus::GenerateCorpus(options).ok());
  auto files = ExpandInputs({dir.path()});
  REQUIRE(files.ok());
  REQUIRE(!files->empty());
  std::mt19937 rng(5);
  SegmentDecoder decoder;
  std::size_t hits = 0, searched = 0;
  for (const LogicalFile& f : *files) {
    INFO(f.name);
    for (const SegmentData& d : testing::SegmentsOfFile(f, 1u << 20)) {
      // Small chunks: many literals cross a chunk boundary.
      for (std::size_t chunk : {std::size_t{16} << 10, kDefaultChunkBytes}) {
        std::string payload = EncodeSegment(d, TextCodec::kTemplates, 1, chunk);
        for (const std::string& lit : LiteralsOf(d, &rng)) {
          INFO("literal '" << lit.substr(0, 60) << "' chunk " << chunk);
          std::vector<Hit> expected = Expected(d, {lit}, {});
          REQUIRE(Searched(&decoder, payload, {lit}, {}) == expected);
          hits += expected.size();
          ++searched;
        }
        std::vector<std::string> two = {"SIPPROXY_E_ROUTING", "NOTIFY"};
        REQUIRE(Searched(&decoder, payload, two, {}) == Expected(d, two, {}));
      }
    }
  }
  CHECK(searched > 200);
  CHECK(hits > 1000);
}

TEST_CASE("A search asks about each record before decoding and skips chunks without a wanted record",
          "[storage][search]") {
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) {
    texts.push_back("TL_INFO(TF_PROTOCOL) [0]0A1B.2C3D::07/16/2014-10:17:57.003.0000" + std::to_string(1000 + i) +
                    "\nCSeq: " + std::to_string(i) + " SUBSCRIBE\n" + (i % 7 == 0 ? "SIPPROXY_E_ROUTING\n" : "") +
                    "$$end_record\n");
  }
  SegmentData d = MakeData(texts);
  std::string payload = EncodeSegment(d, TextCodec::kTemplates, 1, 2048);  // many chunks
  std::vector<std::uint8_t> wanted(texts.size(), 0);
  for (std::size_t i = 0; i < wanted.size(); ++i) wanted[i] = i % 3 == 0 || (i >= 200 && i < 210) ? 1 : 0;
  SegmentDecoder decoder;
  std::vector<std::uint32_t> asked;
  for (const char* lit : {"SIPPROXY_E_ROUTING", "CSeq: 21", "\n$$end", "", "end_record\nTL_"}) {
    INFO(lit);
    asked.clear();
    REQUIRE(Searched(&decoder, payload, {lit}, wanted, &asked) == Expected(d, {lit}, wanted));
    REQUIRE(asked.size() == texts.size());
    for (std::uint32_t i = 0; i < asked.size(); ++i) REQUIRE(asked[i] == i);
  }
  // Nothing wanted: nothing found, whatever the literal.
  std::vector<std::uint8_t> none(texts.size(), 0);
  CHECK(Searched(&decoder, payload, {""}, none).empty());
}

TEST_CASE("Plain and column segments are searched like templated ones", "[storage][search]") {
  std::vector<std::string> texts = {"one\r\nSUBSCRIBE x\r\n", "two SUBSCRIBE\n", "three",
                                    "\nfour\n",                 "SUBSCR",          "IBE\n"};
  SegmentData d = MakeData(texts);
  SegmentDecoder decoder;
  for (TextCodec codec : {TextCodec::kPlain, TextCodec::kColumns, TextCodec::kTemplates}) {
    std::string payload = EncodeSegment(d, codec, 1, 8);
    for (const char* lit : {"SUBSCRIBE", "\n", "SUBSCRIBE\n", "four", "", "three\nfour"}) {
      INFO(static_cast<int>(codec) << " " << lit);
      CHECK(Searched(&decoder, payload, {lit}, {}) == Expected(d, {lit}, {}));
    }
  }
}

TEST_CASE("A damaged payload is corruption to a search, never a crash", "[storage][search]") {
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) texts.push_back("record " + std::to_string(i) + " SUBSCRIBE sip:a@b\n");
  SegmentData d = MakeData(texts);
  std::string payload = EncodeSegment(d, TextCodec::kTemplates, 1, 256);
  SegmentDecoder decoder;
  std::mt19937 rng(9);
  for (int round = 0; round < 200; ++round) {
    std::string bad = payload;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    if (rng() % 4 == 0) bad.resize(rng() % bad.size());
    SegmentData table;
    std::size_t n = 0;
    Status s = decoder.Search(bad, std::vector<std::string>{"SUBSCRIBE"}, {}, &table,
                              [&](const SegmentDecoder::Found&) { ++n; });
    if (!s.ok()) CHECK(s.code() == Status::Code::kCorruption);
  }
}
