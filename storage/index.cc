#include "storage/index.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <unordered_map>

#include "storage/coding.h"
#include "storage/postings.h"
#include "storage/segment.h"

namespace sipdex::storage {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFilesCf = "files";
constexpr const char* kSegMetaCf = "segmeta";
constexpr const char* kSegmentsCf = "segments";
constexpr const char* kPostingsCf = "postings";
constexpr const char* kFormatKey = "format";
constexpr const char* kNextIdKey = "next_id";
// Postings are gathered over runs of about this many raw bytes of one file
// before they are written: fewer, longer posting lists.
constexpr std::uint64_t kRunBytes = 64ull << 20;

// The one place RocksDB statuses become sipdex statuses.
Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(msg);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return Status::Busy(std::string(context) + ": the index is in use by another sipdex ingest (" + s.ToString() +
                        "); wait for it to finish");
  }
  if (s.IsIOError()) return Status::IoError(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  return Status::IoError(msg);
}

std::string IdKey(RecordId id) {
  std::string k;
  PutFixed64BE(&k, id);
  return k;
}

std::string FileKey(std::uint32_t id) {
  std::string k;
  PutFixed32BE(&k, id);
  return k;
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- manifest and time map encodings ---------------------------------------

nlohmann::json CountsToJson(const KindCounts& c) {
  return nlohmann::json{{"by_kind", c.by_kind},
                        {"by_malformed_bit", c.by_malformed_bit},
                        {"malformed_records", c.malformed_records},
                        {"records", c.records}};
}

bool CountsFromJson(const nlohmann::json& j, KindCounts* c) {
  if (!j.is_object()) return false;
  auto kinds = j.value("by_kind", std::vector<std::uint64_t>());
  auto bits = j.value("by_malformed_bit", std::vector<std::uint64_t>());
  if (kinds.size() != c->by_kind.size() || bits.size() != c->by_malformed_bit.size()) return false;
  std::copy(kinds.begin(), kinds.end(), c->by_kind.begin());
  std::copy(bits.begin(), bits.end(), c->by_malformed_bit.begin());
  c->malformed_records = j.value("malformed_records", std::uint64_t{0});
  c->records = j.value("records", std::uint64_t{0});
  return true;
}

std::string EncodeFileInfo(const FileInfo& f) {
  nlohmann::json parts = nlohmann::json::array();
  for (const FilePart& p : f.parts) {
    parts.push_back({{"start", p.start_offset},
                     {"end", p.end_offset},
                     {"first_id", p.first_id},
                     {"end_id", p.end_id},
                     {"ingested_at", p.ingested_at_ms}});
  }
  nlohmann::json j{{"file_id", f.file_id},     {"name", f.name},
                   {"source_path", f.source_path}, {"server", f.server},
                   {"size", f.size},           {"prefix_hash", f.prefix_hash},
                   {"parts", parts},           {"counts", CountsToJson(f.counts)},
                   {"min_time", f.min_time},   {"max_time", f.max_time},
                   {"stored_bytes", f.stored_bytes}};
  // Names come from the file system and may not be UTF-8: replace, never throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status DecodeFileInfo(std::string_view v, FileInfo* f) {
  nlohmann::json j = nlohmann::json::parse(v, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("files: an entry is not valid JSON");
  try {
    f->file_id = j.at("file_id").get<std::uint32_t>();
    f->name = j.at("name").get<std::string>();
    f->source_path = j.at("source_path").get<std::string>();
    f->server = j.at("server").get<std::string>();
    f->size = j.at("size").get<std::uint64_t>();
    f->prefix_hash = j.at("prefix_hash").get<std::uint64_t>();
    f->min_time = j.at("min_time").get<std::int64_t>();
    f->max_time = j.at("max_time").get<std::int64_t>();
    f->stored_bytes = j.at("stored_bytes").get<std::uint64_t>();
    f->parts.clear();
    for (const auto& p : j.at("parts")) {
      FilePart part;
      part.start_offset = p.at("start").get<std::uint64_t>();
      part.end_offset = p.at("end").get<std::uint64_t>();
      part.first_id = p.at("first_id").get<std::uint64_t>();
      part.end_id = p.at("end_id").get<std::uint64_t>();
      part.ingested_at_ms = p.at("ingested_at").get<std::int64_t>();
      f->parts.push_back(part);
    }
    if (!CountsFromJson(j.at("counts"), &f->counts)) return Status::Corruption("files: bad counts");
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("files: bad entry: ") + e.what());
  }
  return Status::Ok();
}

// segmeta value: count, file_id, min_time, max_time (all records' effective
// times), min/max of records with a real time, raw bytes, stored bytes, start offset.
struct SegMeta {
  SegmentInfo info;
  TimeMs real_min = 0;
  TimeMs real_max = -1;
  std::uint64_t start_offset = 0;
};

std::string EncodeSegMeta(const SegMeta& m) {
  std::string v;
  PutVarint64(&v, m.info.count);
  PutVarint64(&v, m.info.file_id);
  PutSignedVarint64(&v, m.info.min_time);
  PutSignedVarint64(&v, m.info.max_time);
  PutSignedVarint64(&v, m.real_min);
  PutSignedVarint64(&v, m.real_max);
  PutVarint64(&v, m.info.raw_bytes);
  PutVarint64(&v, m.info.stored_bytes);
  PutVarint64(&v, m.start_offset);
  return v;
}

bool DecodeSegMeta(std::string_view v, SegMeta* m) {
  std::uint64_t file_id = 0;
  return GetVarint32(&v, &m->info.count) && GetVarint64(&v, &file_id) && file_id <= 0xffffffffu &&
         GetSignedVarint64(&v, &m->info.min_time) && GetSignedVarint64(&v, &m->info.max_time) &&
         GetSignedVarint64(&v, &m->real_min) && GetSignedVarint64(&v, &m->real_max) &&
         GetVarint64(&v, &m->info.raw_bytes) && GetVarint64(&v, &m->info.stored_bytes) &&
         GetVarint64(&v, &m->start_offset) && v.empty() && (m->info.file_id = static_cast<std::uint32_t>(file_id), true);
}

void MergeTime(TimeMs lo, TimeMs hi, TimeMs* min_t, TimeMs* max_t) {
  if (lo > hi) return;
  if (*min_t > *max_t) {
    *min_t = lo;
    *max_t = hi;
    return;
  }
  *min_t = std::min(*min_t, lo);
  *max_t = std::max(*max_t, hi);
}

class IndexImpl;

// --- reading ------------------------------------------------------------------

class SnapshotImpl final : public IndexSnapshot {
 public:
  SnapshotImpl(const IndexImpl* index, rocksdb::DB* db, const rocksdb::Snapshot* snap);
  ~SnapshotImpl() override;

  Status Load();

  const Manifest& manifest() const override { return manifest_; }
  const std::vector<SegmentInfo>& time_map() const override { return time_map_; }
  Result<std::vector<RecordId>> Lookup(FieldId field, std::string_view value) const override;
  Status ListValues(FieldId field,
                    const std::function<void(std::string_view, std::uint64_t)>& fn) const override;
  Status ReadRecords(std::span<const RecordId> ids, const std::function<void(const StoredRecord&)>& fn) const override;
  Status ReadSegment(RecordId first_id, const std::function<void(const StoredRecord&)>& fn) const override;
  Status ScanAll(const std::function<bool(const StoredRecord&)>& fn) const override;
  Status ScanTimeOrder(TimeMs from, TimeMs to, const std::function<bool(const StoredRecord&)>& fn) const override;
  Status Parse(const StoredRecord& r, Record* out) const override;
  Status ExportFile(std::uint32_t file_id, const std::function<Status(std::string_view)>& fn) const override;
  Status Verify(std::vector<std::string>* problems) const override;
  Result<SpaceUsage> Space() const override;

 private:
  // A decoded segment with each record's position.
  struct Loaded {
    SegmentData data;
    std::vector<StoredRecord> records;  // text views into data.text
  };
  Status LoadSegment(std::size_t index, Loaded* out) const;
  // Index into time_map_ of the segment holding id; npos when none.
  std::size_t SegmentOf(RecordId id) const;

  const IndexImpl* index_;
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions ro_;
  Manifest manifest_;
  std::vector<SegmentInfo> time_map_;
  std::vector<std::uint64_t> start_offsets_;  // per time_map_ entry
};

class IndexImpl final : public Index {
 public:
  ~IndexImpl() override {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    db_.reset();
  }

  Status OpenDb(const std::string& dir, const IndexOptions& options);
  Result<std::unique_ptr<IndexSnapshot>> Snapshot() const override;
  Result<std::unique_ptr<IndexWriter>> NewWriter() override;
  const std::string& dir() const override { return dir_; }

  rocksdb::ColumnFamilyHandle* files() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* segmeta() const { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* segments() const { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* postings() const { return handles_[4]; }
  rocksdb::ColumnFamilyHandle* meta() const { return handles_[0]; }
  rocksdb::DB* db() const { return db_.get(); }
  const IndexOptions& options() const { return options_; }
  void WriterClosed() { writer_open_ = false; }

 private:
  std::string dir_;
  IndexOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  bool writer_open_ = false;
};

SnapshotImpl::SnapshotImpl(const IndexImpl* index, rocksdb::DB* db, const rocksdb::Snapshot* snap)
    : index_(index), db_(db), snap_(snap) {
  ro_.snapshot = snap_;
}

SnapshotImpl::~SnapshotImpl() {
  if (snap_ != nullptr) db_->ReleaseSnapshot(snap_);
}

Status SnapshotImpl::Load() {
  std::string v;
  rocksdb::Status s = db_->Get(ro_, index_->meta(), kNextIdKey, &v);
  RecordId committed = 0;
  if (s.ok()) {
    std::string_view in(v);
    if (!GetVarint64(&in, &committed)) return Status::Corruption("meta: bad next_id");
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "meta");
  }
  manifest_ = Manifest();
  manifest_.record_count = committed;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->files()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      FileInfo f;
      SIPDEX_RETURN_IF_ERROR(DecodeFileInfo(ToView(it->value()), &f));
      if (f.file_id != manifest_.files.size()) return Status::Corruption("files: file ids are not dense");
      manifest_.files.push_back(std::move(f));
    }
    SIPDEX_RETURN_IF_ERROR(FromRocks(it->status(), "files"));
  }
  std::set<std::string> servers;
  for (const FileInfo& f : manifest_.files) {
    manifest_.counts.Add(f.counts);
    MergeTime(f.min_time, f.max_time, &manifest_.min_time, &manifest_.max_time);
    manifest_.raw_bytes += f.size;
    manifest_.stored_bytes += f.stored_bytes;
    if (!f.server.empty()) servers.insert(f.server);
  }
  manifest_.servers.assign(servers.begin(), servers.end());
  time_map_.clear();
  start_offsets_.clear();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->segmeta()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = ToView(it->key());
    RecordId id = 0;
    if (!GetFixed64BE(&key, &id) || !key.empty()) return Status::Corruption("segmeta: bad key");
    if (id >= committed) break;  // leftovers of an interrupted ingest
    SegMeta m;
    if (!DecodeSegMeta(ToView(it->value()), &m)) {
      return Status::Corruption("segmeta: bad entry for segment " + std::to_string(id));
    }
    m.info.first_id = id;
    time_map_.push_back(m.info);
    start_offsets_.push_back(m.start_offset);
  }
  return FromRocks(it->status(), "segmeta");
}

std::size_t SnapshotImpl::SegmentOf(RecordId id) const {
  auto it = std::upper_bound(time_map_.begin(), time_map_.end(), id,
                             [](RecordId v, const SegmentInfo& s) { return v < s.first_id; });
  if (it == time_map_.begin()) return std::string::npos;
  --it;
  if (id >= it->first_id + it->count) return std::string::npos;
  return static_cast<std::size_t>(it - time_map_.begin());
}

Status SnapshotImpl::LoadSegment(std::size_t index, Loaded* out) const {
  const SegmentInfo& info = time_map_[index];
  rocksdb::PinnableSlice value;
  std::string what = "segment " + std::to_string(info.first_id);
  SIPDEX_RETURN_IF_ERROR(FromRocks(db_->Get(ro_, index_->segments(), IdKey(info.first_id), &value), what));
  Status s = DecodeSegment(ToView(value), &out->data);
  if (!s.ok()) return Status::Corruption(what + ": " + s.message());
  if (out->data.records.size() != info.count) return Status::Corruption(what + ": record count differs from the time map");
  out->records.resize(out->data.records.size());
  std::uint64_t offset = out->data.start_offset;
  std::uint32_t line = out->data.start_line;
  std::size_t pos = 0;
  std::string_view text(out->data.text);
  for (std::size_t i = 0; i < out->records.size(); ++i) {
    const SegmentRecordMeta& m = out->data.records[i];
    StoredRecord& r = out->records[i];
    r.id = info.first_id + i;
    r.kind = m.kind;
    r.malformed = m.malformed;
    r.time = m.time;
    r.has_time = m.has_time;
    r.file_id = info.file_id;
    r.offset = offset;
    r.line = line;
    r.server = m.server < out->data.servers.size() ? std::string_view(out->data.servers[m.server]) : std::string_view();
    r.text = text.substr(pos, m.size);
    pos += m.size;
    offset += m.size;
    line += static_cast<std::uint32_t>(std::count(r.text.begin(), r.text.end(), '\n'));
  }
  return Status::Ok();
}

Result<std::vector<RecordId>> SnapshotImpl::Lookup(FieldId field, std::string_view value) const {
  if (static_cast<std::size_t>(field) >= static_cast<std::size_t>(FieldId::kCount_) || !GetField(field).indexed) {
    return Status::InvalidArgument("field '" + std::string(GetField(field).name) + "' has no postings");
  }
  std::string prefix = PostingValueKey(field, value);
  std::vector<RecordId> ids;
  std::vector<std::uint32_t> ordinals;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->postings()));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view key = ToView(it->key());
    if (!key.starts_with(prefix)) break;
    if (key.size() != prefix.size() + 8) continue;
    RecordId run = DecodeFixed64BE(key.data() + prefix.size());
    if (run >= manifest_.record_count) continue;  // not committed
    if (!DecodePostingList(ToView(it->value()), &ordinals)) {
      return Status::Corruption("postings: bad list for run " + std::to_string(run));
    }
    for (std::uint32_t o : ordinals) {
      if (run + o < manifest_.record_count) ids.push_back(run + o);
    }
  }
  SIPDEX_RETURN_IF_ERROR(FromRocks(it->status(), "postings"));
  return ids;
}

Status SnapshotImpl::ListValues(FieldId field,
                                const std::function<void(std::string_view, std::uint64_t)>& fn) const {
  field = CanonicalPostingField(field);
  if (!GetField(field).indexed) {
    return Status::InvalidArgument("field '" + std::string(GetField(field).name) + "' has no postings");
  }
  if (IsHashedField(field)) return Status::Ok();
  std::string prefix(1, static_cast<char>(field));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->postings()));
  std::string current;
  std::uint64_t count = 0;
  bool have = false;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view key = ToView(it->key());
    if (!key.starts_with(prefix)) break;
    FieldId f;
    std::string_view v;
    RecordId run = 0;
    if (!ParsePostingKey(key, &f, &v, &run)) return Status::Corruption("postings: bad key");
    if (run >= manifest_.record_count) continue;
    std::string_view list = ToView(it->value());
    std::uint64_t n = 0;
    if (!GetVarint64(&list, &n)) return Status::Corruption("postings: bad list");
    if (have && v != current) {
      fn(current, count);
      count = 0;
    }
    current.assign(v);
    have = true;
    count += n;
  }
  if (have) fn(current, count);
  return FromRocks(it->status(), "postings");
}

Status SnapshotImpl::ReadRecords(std::span<const RecordId> ids,
                                 const std::function<void(const StoredRecord&)>& fn) const {
  Loaded loaded;
  std::size_t current = std::string::npos;
  for (RecordId id : ids) {
    std::size_t seg = SegmentOf(id);
    if (seg == std::string::npos) return Status::NotFound("record " + std::to_string(id) + " is not in the index");
    if (seg != current) {
      SIPDEX_RETURN_IF_ERROR(LoadSegment(seg, &loaded));
      current = seg;
    }
    fn(loaded.records[static_cast<std::size_t>(id - time_map_[seg].first_id)]);
  }
  return Status::Ok();
}

Status SnapshotImpl::ReadSegment(RecordId first_id, const std::function<void(const StoredRecord&)>& fn) const {
  std::size_t seg = SegmentOf(first_id);
  if (seg == std::string::npos || time_map_[seg].first_id != first_id) {
    return Status::NotFound("no segment starts at record " + std::to_string(first_id));
  }
  Loaded loaded;
  SIPDEX_RETURN_IF_ERROR(LoadSegment(seg, &loaded));
  for (const StoredRecord& r : loaded.records) fn(r);
  return Status::Ok();
}

Status SnapshotImpl::ScanAll(const std::function<bool(const StoredRecord&)>& fn) const {
  Loaded loaded;
  for (std::size_t i = 0; i < time_map_.size(); ++i) {
    SIPDEX_RETURN_IF_ERROR(LoadSegment(i, &loaded));
    for (const StoredRecord& r : loaded.records) {
      if (!fn(r)) return Status::Ok();
    }
  }
  return Status::Ok();
}

Status SnapshotImpl::ScanTimeOrder(TimeMs from, TimeMs to,
                                   const std::function<bool(const StoredRecord&)>& fn) const {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < time_map_.size(); ++i) {
    const SegmentInfo& s = time_map_[i];
    if (s.count == 0 || s.min_time > to || s.max_time < from) continue;
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return time_map_[a].min_time < time_map_[b].min_time; });
  struct Item {
    TimeMs time;
    RecordId id;
    std::size_t slot;
    std::size_t rec;
  };
  auto later = [](const Item& a, const Item& b) { return a.time != b.time ? a.time > b.time : a.id > b.id; };
  std::priority_queue<Item, std::vector<Item>, decltype(later)> heap(later);
  std::map<std::size_t, std::pair<std::unique_ptr<Loaded>, std::size_t>> live;  // slot -> (segment, records left)
  std::size_t next = 0;
  while (true) {
    while (next < order.size() && (heap.empty() || time_map_[order[next]].min_time <= heap.top().time)) {
      auto loaded = std::make_unique<Loaded>();
      SIPDEX_RETURN_IF_ERROR(LoadSegment(order[next], loaded.get()));
      std::size_t left = 0;
      for (std::size_t i = 0; i < loaded->records.size(); ++i) {
        const StoredRecord& r = loaded->records[i];
        if (r.time < from || r.time > to) continue;
        heap.push(Item{r.time, r.id, next, i});
        ++left;
      }
      if (left > 0) live.emplace(next, std::make_pair(std::move(loaded), left));
      ++next;
    }
    if (heap.empty()) break;
    Item top = heap.top();
    heap.pop();
    auto it = live.find(top.slot);
    if (!fn(it->second.first->records[top.rec])) return Status::Ok();
    if (--it->second.second == 0) live.erase(it);
  }
  return Status::Ok();
}

Status SnapshotImpl::Parse(const StoredRecord& r, Record* out) const {
  if (!index_->options().parser) return Status::InvalidArgument("Parse: the index was opened without a parser");
  index_->options().parser(r.text, r.kind, r.malformed, out);
  out->kind = r.kind;
  out->malformed = r.malformed;
  out->offset = r.offset;
  out->line = r.line;
  out->text = r.text;
  if (!out->has_time) out->time = r.time;
  return Status::Ok();
}

Status SnapshotImpl::ExportFile(std::uint32_t file_id, const std::function<Status(std::string_view)>& fn) const {
  if (file_id >= manifest_.files.size()) return Status::NotFound("no file with id " + std::to_string(file_id));
  const FileInfo& f = manifest_.files[file_id];
  std::uint64_t expect = 0;
  Loaded loaded;
  for (const FilePart& p : f.parts) {
    if (p.start_offset != expect) return Status::Corruption(f.name + ": parts are not contiguous");
    std::size_t seg = p.first_id < p.end_id ? SegmentOf(p.first_id) : std::string::npos;
    for (; seg != std::string::npos && seg < time_map_.size() && time_map_[seg].first_id < p.end_id; ++seg) {
      if (start_offsets_[seg] != expect) {
        return Status::Corruption(f.name + ": segment " + std::to_string(time_map_[seg].first_id) +
                                  " starts at byte " + std::to_string(start_offsets_[seg]) + ", expected " +
                                  std::to_string(expect));
      }
      SIPDEX_RETURN_IF_ERROR(LoadSegment(seg, &loaded));
      SIPDEX_RETURN_IF_ERROR(fn(loaded.data.text));
      expect += loaded.data.text.size();
    }
    if (expect != p.end_offset) {
      return Status::Corruption(f.name + ": stored bytes end at " + std::to_string(expect) + ", the manifest says " +
                                std::to_string(p.end_offset));
    }
  }
  return Status::Ok();
}

Status SnapshotImpl::Verify(std::vector<std::string>* problems) const {
  // Segments: each decodes, checksums match, counts and offsets agree with
  // the manifest, and the files' parts are covered exactly.
  Loaded loaded;
  std::vector<bool> covered(time_map_.size(), false);
  for (const FileInfo& f : manifest_.files) {
    Status s = ExportFile(f.file_id, [](std::string_view) { return Status::Ok(); });
    if (!s.ok()) problems->push_back("file " + f.name + ": " + s.message());
  }
  RecordId expect_id = 0;
  for (std::size_t i = 0; i < time_map_.size(); ++i) {
    const SegmentInfo& info = time_map_[i];
    if (info.first_id != expect_id) {
      problems->push_back("time map: records " + std::to_string(expect_id) + ".." + std::to_string(info.first_id) +
                          " have no segment");
    }
    expect_id = info.first_id + info.count;
    if (info.file_id >= manifest_.files.size()) {
      problems->push_back("segment " + std::to_string(info.first_id) + ": unknown file id");
    }
    Status s = LoadSegment(i, &loaded);
    if (!s.ok()) problems->push_back(s.message());
  }
  if (expect_id != manifest_.record_count) {
    problems->push_back("time map: segments end at record " + std::to_string(expect_id) + ", the manifest has " +
                        std::to_string(manifest_.record_count));
  }
  std::uint64_t counted = 0;
  for (const FileInfo& f : manifest_.files) {
    for (const FilePart& p : f.parts) counted += p.end_id - p.first_id;
  }
  if (counted != manifest_.record_count) {
    problems->push_back("manifest: file parts hold " + std::to_string(counted) + " records, the index " +
                        std::to_string(manifest_.record_count));
  }
  // Postings: every entry names a committed record.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->postings()));
  std::vector<std::uint32_t> ordinals;
  std::size_t bad_postings = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    FieldId field;
    std::string_view value;
    RecordId run = 0;
    auto report = [&](const std::string& what) {
      if (++bad_postings <= 20) problems->push_back(what);
    };
    if (!ParsePostingKey(ToView(it->key()), &field, &value, &run)) {
      report("postings: a key that does not parse");
      continue;
    }
    if (run >= manifest_.record_count) continue;  // an ingest running now
    if (!DecodePostingList(ToView(it->value()), &ordinals)) {
      report("postings: damaged list for " + std::string(GetField(field).name) + " in run " + std::to_string(run));
      continue;
    }
    if (!ordinals.empty() && run + ordinals.back() >= manifest_.record_count) {
      report("postings: " + std::string(GetField(field).name) + " points at record " +
             std::to_string(run + ordinals.back()) + ", past the last record");
    } else if (!ordinals.empty() && SegmentOf(run) == std::string::npos) {
      report("postings: " + std::string(GetField(field).name) + " run " + std::to_string(run) + " has no segment");
    }
  }
  if (bad_postings > 20) problems->push_back("postings: " + std::to_string(bad_postings - 20) + " more damaged entries");
  return FromRocks(it->status(), "postings");
}

Result<SpaceUsage> SnapshotImpl::Space() const {
  SpaceUsage u;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(index_->dir(), ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) u.directory_bytes += it->file_size(ec);
  }
  auto prop = [&](rocksdb::ColumnFamilyHandle* cf, const char* name) {
    std::uint64_t v = 0;
    return db_->GetIntProperty(cf, name, &v) ? v : 0;
  };
  u.segment_bytes = prop(index_->segments(), "rocksdb.total-sst-files-size") +
                    prop(index_->segments(), "rocksdb.total-blob-file-size");
  u.postings_bytes = prop(index_->postings(), "rocksdb.total-sst-files-size");
  u.other_bytes = u.directory_bytes > u.segment_bytes + u.postings_bytes
                      ? u.directory_bytes - u.segment_bytes - u.postings_bytes
                      : 0;
  return u;
}

// --- writing ------------------------------------------------------------------

class WriterImpl final : public IndexWriter {
 public:
  WriterImpl(IndexImpl* index, RecordId next_id, std::vector<FileInfo> files)
      : index_(index), next_id_(next_id), files_(std::move(files)) {
    for (const FileInfo& f : files_) by_name_.emplace(f.name, f.file_id);
  }
  ~WriterImpl() override {
    if (open_) AbortFile().IgnoreError();
    index_->WriterClosed();
  }

  Result<FileState> GetFileState(std::string_view name) override {
    FileState st;
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return st;
    st.known = true;
    st.size = files_[it->second].size;
    st.prefix_hash = files_[it->second].prefix_hash;
    return st;
  }

  Status BeginFile(const FileHeader& header) override {
    if (open_) return Status::InvalidArgument("BeginFile: a file is already open");
    auto it = by_name_.find(header.name);
    std::uint64_t known_size = it == by_name_.end() ? 0 : files_[it->second].size;
    if (header.start_offset != known_size) {
      return Status::InvalidArgument(header.name + ": start offset " + std::to_string(header.start_offset) +
                                     " differs from the ingested size " + std::to_string(known_size));
    }
    header_ = header;
    file_id_ = it == by_name_.end() ? static_cast<std::uint32_t>(files_.size()) : it->second;
    part_first_ = next_id_;
    part_counts_ = KindCounts();
    part_min_ = 0;
    part_max_ = -1;
    part_stored_ = 0;
    first_server_.clear();
    expect_offset_ = header.start_offset;
    run_first_ = next_id_;
    run_raw_ = 0;
    run_.clear();
    open_ = true;
    return Status::Ok();
  }

  Status AppendSegment(EncodedSegment seg) override {
    if (!open_) return Status::InvalidArgument("AppendSegment: no file is open");
    if (seg.count == 0) return Status::Ok();
    if (seg.start_offset != expect_offset_) {
      return Status::InvalidArgument(header_.name + ": segment starts at byte " + std::to_string(seg.start_offset) +
                                     ", expected " + std::to_string(expect_offset_));
    }
    RecordId first = next_id_;
    SegMeta m;
    m.info.count = seg.count;
    m.info.file_id = file_id_;
    m.info.min_time = seg.min_time;
    m.info.max_time = seg.max_time;
    m.info.raw_bytes = seg.raw_bytes;
    m.info.stored_bytes = seg.payload.size();
    m.real_min = seg.real_min_time;
    m.real_max = seg.real_max_time;
    m.start_offset = seg.start_offset;
    rocksdb::WriteBatch batch;
    std::string key = IdKey(first);
    SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Put(index_->segments(), key, ToSlice(seg.payload)), "segment"));
    SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Put(index_->segmeta(), key, EncodeSegMeta(m)), "segmeta"));
    std::uint32_t base = static_cast<std::uint32_t>(first - run_first_);
    for (auto& [k, ords] : seg.postings) {
      auto& list = run_[k];
      for (std::uint32_t o : ords) list.push_back(base + o);
    }
    run_raw_ += seg.raw_bytes;
    next_id_ += seg.count;
    expect_offset_ += seg.raw_bytes;
    part_counts_.Add(seg.counts);
    MergeTime(seg.real_min_time, seg.real_max_time, &part_min_, &part_max_);
    part_stored_ += seg.payload.size();
    if (first_server_.empty()) first_server_ = seg.server;
    if (run_raw_ >= kRunBytes) SIPDEX_RETURN_IF_ERROR(FlushRun(&batch));
    return FromRocks(index_->db()->Write(rocksdb::WriteOptions(), &batch), "write segment");
  }

  Status CommitFile(std::uint64_t total_size, std::uint64_t hash) override {
    if (!open_) return Status::InvalidArgument("CommitFile: no file is open");
    if (total_size != expect_offset_) {
      return Status::InvalidArgument(header_.name + ": committing " + std::to_string(total_size) +
                                     " bytes but the segments hold " + std::to_string(expect_offset_));
    }
    rocksdb::WriteBatch batch;
    SIPDEX_RETURN_IF_ERROR(FlushRun(&batch));
    FileInfo f;
    if (file_id_ < files_.size()) f = files_[file_id_];
    f.file_id = file_id_;
    f.name = header_.name;
    f.source_path = header_.source_path;
    if (f.server.empty()) f.server = header_.server;
    if (f.server.empty()) f.server = first_server_;
    f.size = total_size;
    f.prefix_hash = hash;
    if (total_size > header_.start_offset || f.parts.empty()) {
      FilePart p;
      p.start_offset = header_.start_offset;
      p.end_offset = total_size;
      p.first_id = part_first_;
      p.end_id = next_id_;
      p.ingested_at_ms = NowMs();
      f.parts.push_back(p);
    }
    f.counts.Add(part_counts_);
    MergeTime(part_min_, part_max_, &f.min_time, &f.max_time);
    f.stored_bytes += part_stored_;
    SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Put(index_->files(), FileKey(file_id_), EncodeFileInfo(f)), "files"));
    std::string next;
    PutVarint64(&next, next_id_);
    SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Put(index_->meta(), kNextIdKey, next), "meta"));
    SIPDEX_RETURN_IF_ERROR(FromRocks(index_->db()->Write(rocksdb::WriteOptions(), &batch), "commit " + header_.name));
    if (file_id_ == files_.size()) {
      files_.push_back(f);
      by_name_.emplace(f.name, f.file_id);
    } else {
      files_[file_id_] = f;
    }
    committed_id_ = next_id_;
    open_ = false;
    return Status::Ok();
  }

  Status AbortFile() override {
    if (!open_) return Status::Ok();
    open_ = false;
    run_.clear();
    RecordId from = part_first_;
    next_id_ = part_first_;
    return DeleteFrom(index_, from);
  }

  Status Flush() override {
    if (open_) return Status::InvalidArgument("Flush: a file is open");
    rocksdb::FlushOptions fo;
    fo.wait = true;
    std::vector<rocksdb::ColumnFamilyHandle*> cfs = {index_->meta(), index_->files(), index_->segmeta(),
                                                     index_->segments(), index_->postings()};
    return FromRocks(index_->db()->Flush(fo, cfs), "flush");
  }

  // Deletes segments and postings of ids >= from (never committed).
  static Status DeleteFrom(IndexImpl* index, RecordId from) {
    rocksdb::DB* db = index->db();
    std::string begin = IdKey(from);
    std::string end = IdKey(~RecordId{0});
    rocksdb::WriteBatch batch;
    SIPDEX_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(index->segments(), begin, end), "cleanup"));
    SIPDEX_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(index->segmeta(), begin, end), "cleanup"));
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), index->postings()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key = ToView(it->key());
      if (key.size() >= 8 && DecodeFixed64BE(key.data() + key.size() - 8) >= from) {
        SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Delete(index->postings(), it->key()), "cleanup"));
      }
    }
    SIPDEX_RETURN_IF_ERROR(FromRocks(it->status(), "cleanup"));
    return FromRocks(db->Write(rocksdb::WriteOptions(), &batch), "cleanup");
  }

 private:
  Status FlushRun(rocksdb::WriteBatch* batch) {
    std::string full;
    std::string value;
    for (auto& [k, ords] : run_) {
      full.assign(k);
      PutFixed64BE(&full, run_first_);
      value.clear();
      EncodePostingList(ords, &value);
      SIPDEX_RETURN_IF_ERROR(FromRocks(batch->Put(index_->postings(), full, value), "postings"));
    }
    run_.clear();
    run_first_ = next_id_;
    run_raw_ = 0;
    return Status::Ok();
  }

  IndexImpl* index_;
  RecordId next_id_;
  RecordId committed_id_ = 0;
  std::vector<FileInfo> files_;
  std::unordered_map<std::string, std::uint32_t> by_name_;
  bool open_ = false;
  FileHeader header_;
  std::uint32_t file_id_ = 0;
  RecordId part_first_ = 0;
  KindCounts part_counts_;
  TimeMs part_min_ = 0;
  TimeMs part_max_ = -1;
  std::uint64_t part_stored_ = 0;
  std::string first_server_;
  std::uint64_t expect_offset_ = 0;
  RecordId run_first_ = 0;
  std::uint64_t run_raw_ = 0;
  std::unordered_map<std::string, std::vector<std::uint32_t>> run_;
};

rocksdb::ColumnFamilyOptions CfOptions(std::string_view name) {
  rocksdb::ColumnFamilyOptions o;
  o.compression = rocksdb::kZSTD;
  o.bottommost_compression = rocksdb::kZSTD;
  if (name == kSegmentsCf) {
    // Payloads are already compressed: keep them out of compactions in blob files.
    o.compression = rocksdb::kNoCompression;
    o.bottommost_compression = rocksdb::kNoCompression;
    o.enable_blob_files = true;
    o.min_blob_size = 0;
    o.blob_file_size = 256ull << 20;
    o.enable_blob_garbage_collection = true;
    o.write_buffer_size = 64ull << 20;
  }
  if (name == kPostingsCf) {
    rocksdb::BlockBasedTableOptions t;
    t.block_size = 32 * 1024;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    o.write_buffer_size = 64ull << 20;
  }
  return o;
}

Status IndexImpl::OpenDb(const std::string& dir, const IndexOptions& options) {
  dir_ = dir;
  options_ = options;
  std::error_code ec;
  bool exists = fs::exists(fs::path(dir) / "CURRENT", ec);
  if (options.read_only && !exists) return Status::NotFound("no index at " + dir + " (run sipdex ingest first)");
  if (!options.read_only && !exists) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 2;
  db_options.max_total_wal_size = 256ull << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : {rocksdb::kDefaultColumnFamilyName.c_str(), kFilesCf, kSegMetaCf, kSegmentsCf, kPostingsCf}) {
    cfs.emplace_back(name, CfOptions(name));
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = options.read_only ? rocksdb::DB::OpenForReadOnly(db_options, dir, cfs, &handles_, &raw)
                                        : rocksdb::DB::Open(db_options, dir, cfs, &handles_, &raw);
  db_.reset(raw);  // adopt at once
  if (options.read_only && s.IsInvalidArgument() && s.ToString().find("olumn famil") != std::string::npos) {
    // Killed while the index was being created: nothing was ever committed.
    return Status::NotFound("no index at " + dir + " (its creation was interrupted; run sipdex ingest)");
  }
  SIPDEX_RETURN_IF_ERROR(FromRocks(s, "open " + dir));
  std::string v;
  s = db_->Get(rocksdb::ReadOptions(), meta(), kFormatKey, &v);
  if (s.IsNotFound()) {
    // Killed between creating the database and writing its version: empty.
    if (options.read_only) return Status::NotFound("no index at " + dir + " (its creation was interrupted; run sipdex ingest)");
    return FromRocks(db_->Put(rocksdb::WriteOptions(), meta(), kFormatKey, std::to_string(kFormatVersion)),
                     "open " + dir);
  }
  SIPDEX_RETURN_IF_ERROR(FromRocks(s, "open " + dir));
  if (v != std::to_string(kFormatVersion)) {
    return Status::Corruption(dir + ": index format version " + v + ", this sipdex reads version " +
                              std::to_string(kFormatVersion));
  }
  return Status::Ok();
}

Result<std::unique_ptr<IndexSnapshot>> IndexImpl::Snapshot() const {
  auto snap = std::make_unique<SnapshotImpl>(this, db_.get(), db_->GetSnapshot());
  SIPDEX_RETURN_IF_ERROR(snap->Load());
  return std::unique_ptr<IndexSnapshot>(std::move(snap));
}

Result<std::unique_ptr<IndexWriter>> IndexImpl::NewWriter() {
  if (options_.read_only) return Status::InvalidArgument(dir_ + ": opened read-only");
  if (writer_open_) return Status::Busy(dir_ + ": a writer is already open");
  Result<std::unique_ptr<IndexSnapshot>> snap = Snapshot();
  if (!snap.ok()) return snap.status();
  RecordId committed = (*snap)->manifest().record_count;
  std::vector<FileInfo> files = (*snap)->manifest().files;
  snap->reset();
  // Leftovers of an interrupted ingest: segments (and their postings) past the
  // last committed record.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), segments()));
  it->Seek(IdKey(committed));
  bool leftovers = it->Valid();
  it.reset();
  if (!leftovers) {
    std::unique_ptr<rocksdb::Iterator> pit(db_->NewIterator(rocksdb::ReadOptions(), postings()));
    for (pit->SeekToFirst(); pit->Valid() && !leftovers; pit->Next()) {
      std::string_view key = ToView(pit->key());
      leftovers = key.size() >= 8 && DecodeFixed64BE(key.data() + key.size() - 8) >= committed;
    }
  }
  if (leftovers) SIPDEX_RETURN_IF_ERROR(WriterImpl::DeleteFrom(this, committed));
  writer_open_ = true;
  return std::unique_ptr<IndexWriter>(std::make_unique<WriterImpl>(this, committed, std::move(files)));
}

}  // namespace

void KindCounts::Add(const KindCounts& o) {
  for (std::size_t i = 0; i < by_kind.size(); ++i) by_kind[i] += o.by_kind[i];
  for (std::size_t i = 0; i < by_malformed_bit.size(); ++i) by_malformed_bit[i] += o.by_malformed_bit[i];
  malformed_records += o.malformed_records;
  records += o.records;
}

const FileInfo* Manifest::FindFile(std::string_view name) const {
  for (const FileInfo& f : files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string DefaultIndexDir() {
  const char* env = std::getenv("SIPDEX_INDEX");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string("./sipdex-index");
}

Result<std::unique_ptr<Index>> Index::Open(const std::string& dir, const IndexOptions& options) {
  auto index = std::make_unique<IndexImpl>();
  Status s = index->OpenDb(dir, options);
  if (!s.ok()) return s;
  return std::unique_ptr<Index>(std::move(index));
}

// --- SegmentBuilder --------------------------------------------------------------

struct SegmentBuilder::Rep {
  std::string file_name;
  SegmentBuilderOptions options;
  SegmentData data;
  std::unordered_map<std::string, std::uint32_t> server_ids;
  std::unordered_map<std::string, std::vector<std::uint32_t>> postings;
  std::vector<std::string> record_keys;
  EncodedSegment seg;
  std::uint64_t offset_delta = 0;
  std::uint32_t line_delta = 0;
};

SegmentBuilder::SegmentBuilder(std::string_view file_name, const SegmentBuilderOptions& options)
    : rep_(std::make_unique<Rep>()) {
  rep_->file_name.assign(file_name);
  rep_->options = options;
}

SegmentBuilder::~SegmentBuilder() = default;

void SegmentBuilder::Add(const Record& r, std::string_view server) {
  Rep& p = *rep_;
  auto ordinal = static_cast<std::uint32_t>(p.data.records.size());
  if (ordinal == 0) {
    p.data.start_offset = r.offset + p.offset_delta;
    p.data.start_line = r.line + p.line_delta;
    p.seg.start_offset = p.data.start_offset;
  }
  SegmentRecordMeta m;
  m.size = static_cast<std::uint32_t>(r.text.size());
  m.kind = r.kind;
  m.malformed = r.malformed;
  m.time = r.time;
  m.has_time = r.has_time;
  auto [sit, inserted] = p.server_ids.emplace(std::string(server), static_cast<std::uint32_t>(p.data.servers.size()));
  if (inserted) p.data.servers.emplace_back(server);
  if (p.seg.server.empty()) p.seg.server.assign(server);
  m.server = sit->second;
  p.data.records.push_back(m);
  p.data.text.append(r.text);
  MergeTime(r.time, r.time, &p.seg.min_time, &p.seg.max_time);
  if (r.has_time) MergeTime(r.time, r.time, &p.seg.real_min_time, &p.seg.real_max_time);
  KindCounts& c = p.seg.counts;
  ++c.records;
  ++c.by_kind[static_cast<std::size_t>(r.kind)];
  if (r.malformed != kMalformedNone) ++c.malformed_records;
  for (int b = 0; b < kMalformedBitCount; ++b) {
    if (r.malformed & (1u << b)) ++c.by_malformed_bit[static_cast<std::size_t>(b)];
  }
  p.record_keys.clear();
  ExtractPostings(r, server, p.file_name, [&](std::string&& k) { p.record_keys.push_back(std::move(k)); });
  std::sort(p.record_keys.begin(), p.record_keys.end());
  p.record_keys.erase(std::unique(p.record_keys.begin(), p.record_keys.end()), p.record_keys.end());
  for (std::string& k : p.record_keys) p.postings[std::move(k)].push_back(ordinal);
}

void SegmentBuilder::Rebase(std::uint64_t offset_delta, std::uint32_t line_delta) {
  rep_->offset_delta = offset_delta;
  rep_->line_delta = line_delta;
}

std::uint32_t SegmentBuilder::count() const { return static_cast<std::uint32_t>(rep_->data.records.size()); }
std::uint64_t SegmentBuilder::raw_bytes() const { return rep_->data.text.size(); }

EncodedSegment SegmentBuilder::Finish() {
  Rep& p = *rep_;
  EncodedSegment seg = std::move(p.seg);
  seg.count = static_cast<std::uint32_t>(p.data.records.size());
  seg.raw_bytes = p.data.text.size();
  seg.payload = EncodeSegment(p.data, p.options.columns ? TextCodec::kColumns : TextCodec::kPlain, p.options.level);
  seg.postings.reserve(p.postings.size());
  for (auto& [k, v] : p.postings) seg.postings.emplace_back(k, std::move(v));
  std::sort(seg.postings.begin(), seg.postings.end());
  p.postings.clear();
  p.data = SegmentData();
  p.server_ids.clear();
  p.seg = EncodedSegment();
  return seg;
}

}  // namespace sipdex::storage
