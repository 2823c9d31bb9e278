#include "storage/index.h"

#include <fcntl.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <thread>
#include <unordered_map>

#include "storage/coding.h"
#include "storage/facts.h"
#include "storage/postings.h"
#include "storage/segment.h"

namespace sipdex::storage {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFilesCf = "files";
constexpr const char* kSegMetaCf = "segmeta";
constexpr const char* kRunsCf = "runs";
constexpr const char* kPostingsCf = "postings";
constexpr const char* kFormatKey = "format";
constexpr const char* kNextIdKey = "next_id";
// A data file takes segments until it holds about this many bytes.
constexpr std::uint64_t kDataFileBytes = 1ull << 30;
// zstd level of the postings tables' blocks.
constexpr int kPostingsLevel = 9;

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

Status FromErrno(std::string_view context) { return Status::IoError(std::string(context) + ": " + std::strerror(errno)); }

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

std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string DataFileName(std::uint32_t number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "seg-%06u.dat", number);
  return buf;
}

// The number of a data file name ("seg-000001.dat"), or -1.
std::int64_t DataFileNumber(const std::string& name) {
  unsigned n = 0;
  char tail = 0;
  if (name.size() != 14 || std::sscanf(name.c_str(), "seg-%6u.da%c", &n, &tail) != 2 || tail != 't') return -1;
  return n;
}

// Reads exactly n bytes at offset; IoError naming `what` otherwise.
Status PreadAll(int fd, std::uint64_t offset, std::size_t n, char* out, const std::string& what) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return FromErrno(what);
    if (r == 0) return Status::Corruption(what + ": the data file ends early (cut short)");
    done += static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    ssize_t r = ::write(fd, bytes.data(), bytes.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return FromErrno(what);
    bytes.remove_prefix(static_cast<std::size_t>(r));
  }
  return Status::Ok();
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
// value key -> ordinals (relative to a segment or a run), increasing.
using PostingMap = std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>>;

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
// times), min/max of records with a real time, raw bytes, stored bytes, start
// offset, data file number and offset of the payload.
struct SegMeta {
  SegmentInfo info;
  TimeMs real_min = 0;
  TimeMs real_max = -1;
  std::uint64_t start_offset = 0;
  std::uint32_t data_file = 0;
  std::uint64_t data_offset = 0;
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
  PutVarint64(&v, m.data_file);
  PutVarint64(&v, m.data_offset);
  return v;
}

bool DecodeSegMeta(std::string_view v, SegMeta* m) {
  std::uint64_t file_id = 0;
  return GetVarint32(&v, &m->info.count) && GetVarint64(&v, &file_id) && file_id <= 0xffffffffu &&
         GetSignedVarint64(&v, &m->info.min_time) && GetSignedVarint64(&v, &m->info.max_time) &&
         GetSignedVarint64(&v, &m->real_min) && GetSignedVarint64(&v, &m->real_max) &&
         GetVarint64(&v, &m->info.raw_bytes) && GetVarint64(&v, &m->info.stored_bytes) &&
         GetVarint64(&v, &m->start_offset) && GetVarint32(&v, &m->data_file) && GetVarint64(&v, &m->data_offset) &&
         v.empty() && (m->info.file_id = static_cast<std::uint32_t>(file_id), true);
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

// A committed run of postings: records [first, end).
struct Run {
  RecordId first = 0;
  RecordId end = 0;
};

// Where a segment's payload lives.
struct SegLoc {
  std::uint64_t start_offset = 0;
  std::uint32_t data_file = 0;
  std::uint64_t data_offset = 0;
};

// Read access to the data files, opened on first use. Thread-safe.
// A T taken from this thread's small pool and given back when it goes out of
// scope: decode buffers are reused across calls, and a pool rather than one
// buffer because a callback may read records itself.
template <typename T>
class Pooled {
 public:
  Pooled() {
    std::vector<std::unique_ptr<T>>& pool = Pool();
    if (pool.empty()) {
      item_ = std::make_unique<T>();
    } else {
      item_ = std::move(pool.back());
      pool.pop_back();
    }
  }
  ~Pooled() {
    if (Pool().size() < 4) Pool().push_back(std::move(item_));
  }
  Pooled(const Pooled&) = delete;
  Pooled& operator=(const Pooled&) = delete;
  T* get() const { return item_.get(); }
  T* operator->() const { return item_.get(); }

 private:
  static std::vector<std::unique_ptr<T>>& Pool() {
    thread_local std::vector<std::unique_ptr<T>> pool;
    return pool;
  }
  std::unique_ptr<T> item_;
};

// The stored columns of a decoded record that come from its segment's table
// (kind, flags, time, file, server); the caller sets id, offset, line and text.
void FillFromTable(const SegmentInfo& info, const SegmentData& data, const SegmentRecordMeta& m, StoredRecord* r) {
  r->kind = m.kind;
  r->malformed = m.malformed;
  r->time = m.time;
  r->has_time = m.has_time;
  r->file_id = info.file_id;
  r->server = m.server < data.servers.size() ? std::string_view(data.servers[m.server]) : std::string_view();
}

class DataFiles {
 public:
  explicit DataFiles(std::string dir) : dir_(std::move(dir)) {}
  ~DataFiles() {
    for (auto& [n, fd] : fds_) ::close(fd);
  }
  Status Read(std::uint32_t number, std::uint64_t offset, std::size_t n, std::string* out, const std::string& what) {
    out->resize(n);
    return ReadInto(number, offset, n, out->data(), what);
  }
  // Read, into n bytes at out.
  Status ReadInto(std::uint32_t number, std::uint64_t offset, std::size_t n, char* out, const std::string& what) {
    int fd = -1;
    SIPDEX_RETURN_IF_ERROR(Fd(number, what, &fd));
    return PreadAll(fd, offset, n, out, what);
  }

 private:
  Status Fd(std::uint32_t number, const std::string& what, int* fd) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = fds_.find(number);
    if (it != fds_.end()) {
      *fd = it->second;
      return Status::Ok();
    }
    std::string path = dir_ + "/" + DataFileName(number);
    *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return Status::Corruption(what + ": cannot open " + DataFileName(number) + ": " + std::strerror(errno));
    fds_.emplace(number, *fd);
    return Status::Ok();
  }

  std::string dir_;
  std::mutex mu_;
  std::map<std::uint32_t, int> fds_;
};

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
  Status ReadRecordTables(std::span<const RecordId> ids,
                          const std::function<void(const StoredRecord&)>& fn) const override;
  Status ReadSegment(RecordId first_id, const std::function<void(const StoredRecord&)>& fn) const override;
  Status SearchSegment(RecordId first_id, std::span<const std::string> literals,
                       const std::function<bool(const StoredRecord&)>& want,
                       const std::function<void(const StoredRecord&)>& fn) const override;
  Status ScanAll(const std::function<bool(const StoredRecord&)>& fn) const override;
  Status ScanTimeOrder(TimeMs from, TimeMs to, const std::function<bool(const StoredRecord&)>& fn) const override;
  Status Parse(const StoredRecord& r, Record* out) const override;
  Status ExportFile(std::uint32_t file_id, const std::function<Status(std::string_view)>& fn) const override;
  Status Verify(std::vector<std::string>* problems) const override;
  Result<SpaceUsage> Space(bool by_field) const override;
  Status ReadFacts(std::span<const RecordId> ids,
                   const std::function<void(const StoredRecord&, const Record&)>& fn) const override;
  Status ReadSegmentFacts(RecordId first_id,
                          const std::function<void(const StoredRecord&, const Record&)>& fn) const override;

  // Per data file, the end of its last committed segment.
  std::map<std::uint32_t, std::uint64_t> DataEnds() const {
    std::map<std::uint32_t, std::uint64_t> ends;
    for (std::size_t i = 0; i < locs_.size(); ++i) {
      std::uint64_t& e = ends[locs_[i].data_file];
      e = std::max(e, locs_[i].data_offset + time_map_[i].stored_bytes);
    }
    return ends;
  }

 private:
  // A decoded segment with each record's position. Reused across segments so
  // a scan allocates its buffers once.
  struct Loaded {
    std::string payload;
    SegmentData data;
    std::vector<StoredRecord> records;  // text views into data.text
  };
  Status LoadSegment(std::size_t index, Loaded* out) const;
  // A segment's table and facts, read from a prefix of its payload.
  struct LoadedFacts {
    SegmentDecoder decoder;
    FactsDecoder facts;
    std::string head;
    SegmentData table;
    Record record;
    bool has_facts = false;  // false: a codec without facts (the records must be parsed)
  };
  // Reads segment `index`'s table and facts into *out: one read of the
  // payload's prefix (two when the facts end past the first guess), no text.
  Status LoadFacts(std::size_t index, LoadedFacts* out) const;
  static void EmitFacts(const SegmentInfo& info, std::uint32_t ordinal, LoadedFacts* b,
                        const std::function<void(const StoredRecord&, const Record&)>& fn);
  // Index into time_map_ of the segment holding id; npos when none.
  std::size_t SegmentOf(RecordId id) const;
  // "segment 123 (records 123..456 of night1/fe01.log, bytes 0..8388608; seg-000001.dat at 0, 612345 bytes)"
  std::string DescribeSegment(std::size_t index) const;
  std::string DescribeRun(const Run& run) const;
  // Adds the ids of value key `vkey` in `run` to *ids.
  Status LookupRun(const Run& run, std::string_view vkey, std::vector<RecordId>* ids) const;

  const IndexImpl* index_;
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions ro_;
  Manifest manifest_;
  std::vector<SegmentInfo> time_map_;
  std::vector<SegLoc> locs_;  // per time_map_ entry
  std::vector<Run> runs_;     // committed runs, by first id
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
  using Index::NewWriter;
  Result<std::unique_ptr<IndexWriter>> NewWriter(const WriterOptions& options) override;
  const std::string& dir() const override { return dir_; }

  rocksdb::ColumnFamilyHandle* meta() const { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* files() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* segmeta() const { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* runs() const { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* postings() const { return handles_[4]; }
  std::vector<rocksdb::ColumnFamilyHandle*> handles() const { return handles_; }
  rocksdb::DB* db() const { return db_.get(); }
  const IndexOptions& options() const { return options_; }
  DataFiles* data_files() const { return data_files_.get(); }
  void WriterClosed() { writer_open_ = false; }

 private:
  Status TryOpen(const std::string& dir, const IndexOptions& options);

  std::string dir_;
  IndexOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<DataFiles> data_files_;
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
  locs_.clear();
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->segmeta()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key = ToView(it->key());
      RecordId id = 0;
      if (!GetFixed64BE(&key, &id) || !key.empty()) return Status::Corruption("segmeta: bad key");
      if (id >= committed) break;
      SegMeta m;
      if (!DecodeSegMeta(ToView(it->value()), &m)) {
        return Status::Corruption("segmeta: bad entry for segment " + std::to_string(id));
      }
      m.info.first_id = id;
      time_map_.push_back(m.info);
      locs_.push_back(SegLoc{m.start_offset, m.data_file, m.data_offset});
    }
    SIPDEX_RETURN_IF_ERROR(FromRocks(it->status(), "segmeta"));
  }
  runs_.clear();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->runs()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = ToView(it->key());
    std::string_view val = ToView(it->value());
    Run r;
    if (!GetFixed64BE(&key, &r.first) || !key.empty() || !GetVarint64(&val, &r.end) || !val.empty() ||
        r.end < r.first) {
      return Status::Corruption("runs: bad entry");
    }
    if (r.first >= committed) break;
    runs_.push_back(r);
  }
  return FromRocks(it->status(), "runs");
}

std::size_t SnapshotImpl::SegmentOf(RecordId id) const {
  auto it = std::upper_bound(time_map_.begin(), time_map_.end(), id,
                             [](RecordId v, const SegmentInfo& s) { return v < s.first_id; });
  if (it == time_map_.begin()) return std::string::npos;
  --it;
  if (id >= it->first_id + it->count) return std::string::npos;
  return static_cast<std::size_t>(it - time_map_.begin());
}

std::string SnapshotImpl::DescribeSegment(std::size_t index) const {
  const SegmentInfo& s = time_map_[index];
  const SegLoc& l = locs_[index];
  std::string file = s.file_id < manifest_.files.size() ? manifest_.files[s.file_id].name : "an unknown file";
  return "segment " + std::to_string(s.first_id) + " (records " + std::to_string(s.first_id) + ".." +
         std::to_string(s.first_id + s.count) + " of " + file + ", bytes " + std::to_string(l.start_offset) + ".." +
         std::to_string(l.start_offset + s.raw_bytes) + "; " + DataFileName(l.data_file) + " at offset " +
         std::to_string(l.data_offset) + ", " + std::to_string(s.stored_bytes) + " bytes)";
}

std::string SnapshotImpl::DescribeRun(const Run& run) const {
  return "run " + std::to_string(run.first) + " (records " + std::to_string(run.first) + ".." +
         std::to_string(run.end) + ")";
}

Status SnapshotImpl::LoadSegment(std::size_t index, Loaded* out) const {
  const SegmentInfo& info = time_map_[index];
  const SegLoc& loc = locs_[index];
  SIPDEX_RETURN_IF_ERROR(index_->data_files()->Read(loc.data_file, loc.data_offset,
                                                    static_cast<std::size_t>(info.stored_bytes), &out->payload,
                                                    DescribeSegment(index)));
  Status s = DecodeSegment(out->payload, &out->data);
  if (!s.ok()) return Status::Corruption(DescribeSegment(index) + ": " + s.message());
  if (out->data.records.size() != info.count) {
    return Status::Corruption(DescribeSegment(index) + ": record count differs from the time map");
  }
  out->records.resize(out->data.records.size());
  std::uint64_t offset = out->data.start_offset;
  std::uint32_t line = out->data.start_line;
  std::size_t pos = 0;
  std::string_view text(out->data.text);
  for (std::size_t i = 0; i < out->records.size(); ++i) {
    const SegmentRecordMeta& m = out->data.records[i];
    StoredRecord& r = out->records[i];
    r.id = info.first_id + i;
    FillFromTable(info, out->data, m, &r);
    r.offset = offset;
    r.line = line;
    r.text = text.substr(pos, m.size);
    pos += m.size;
    offset += m.size;
    line += static_cast<std::uint32_t>(CountLineFeeds(r.text));
  }
  return Status::Ok();
}

Status SnapshotImpl::LookupRun(const Run& run, std::string_view vkey, std::vector<RecordId>* ids) const {
  auto field = static_cast<FieldId>(static_cast<std::uint8_t>(vkey[0]));
  std::string what = "postings of field '" + std::string(GetField(field).name) + "' in " + DescribeRun(run);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(ro_, index_->postings(), RunPostingKey(run.first, vkey), &value);
  if (s.IsNotFound()) return Status::Ok();
  SIPDEX_RETURN_IF_ERROR(FromRocks(s, what));
  std::string_view list = ToView(value);
  if (IsHashedField(field) && vkey.size() == 5) {
    bool found = false;
    auto lo = static_cast<std::uint16_t>(static_cast<std::uint8_t>(vkey[3]) << 8 | static_cast<std::uint8_t>(vkey[4]));
    if (!FindInBucket(ToView(value), lo, &list, &found)) return Status::Corruption(what + ": damaged bucket");
    if (!found) return Status::Ok();
  }
  thread_local std::vector<std::uint32_t> ordinals;
  ordinals.clear();
  if (!DecodePostingList(&list, run.end - run.first, &ordinals)) return Status::Corruption(what + ": damaged list");
  for (std::uint32_t o : ordinals) ids->push_back(run.first + o);
  return Status::Ok();
}

Result<std::vector<RecordId>> SnapshotImpl::Lookup(FieldId field, std::string_view value) const {
  if (static_cast<std::size_t>(field) >= static_cast<std::size_t>(FieldId::kCount_) || !GetField(field).indexed) {
    return Status::InvalidArgument("field '" + std::string(GetField(field).name) + "' has no postings");
  }
  std::string vkey = PostingValueKey(field, value);
  std::vector<RecordId> ids;
  for (const Run& run : runs_) SIPDEX_RETURN_IF_ERROR(LookupRun(run, vkey, &ids));
  return ids;
}

Status SnapshotImpl::ListValues(FieldId field,
                                const std::function<void(std::string_view, std::uint64_t)>& fn) const {
  field = CanonicalPostingField(field);
  if (!GetField(field).indexed) {
    return Status::InvalidArgument("field '" + std::string(GetField(field).name) + "' has no postings");
  }
  if (IsHashedField(field)) return Status::Ok();
  std::map<std::string, std::uint64_t, std::less<>> counts;
  for (const Run& run : runs_) {
    std::string prefix = IdKey(run.first);
    prefix.push_back(static_cast<char>(field));
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->postings()));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      std::string_view key = ToView(it->key());
      if (!key.starts_with(prefix)) break;
      std::uint64_t n = 0;
      if (!PostingListCount(ToView(it->value()), &n)) {
        return Status::Corruption("postings of field '" + std::string(GetField(field).name) + "' in " +
                                  DescribeRun(run) + ": damaged list");
      }
      std::string_view v = key.substr(prefix.size());
      auto c = counts.find(v);
      if (c == counts.end()) c = counts.emplace(std::string(v), 0).first;
      c->second += n;
    }
    SIPDEX_RETURN_IF_ERROR(FromRocks(it->status(), "postings of field '" + std::string(GetField(field).name) +
                                                       "' in " + DescribeRun(run)));
  }
  for (const auto& [v, n] : counts) fn(v, n);
  return Status::Ok();
}

Status SnapshotImpl::ReadRecords(std::span<const RecordId> ids,
                                 const std::function<void(const StoredRecord&)>& fn) const {
  // Point reads: per segment, only the chunks holding the ids are decoded.
  struct PointBuffers {
    SegmentDecoder decoder;
    ScratchBuffer payload;
    SegmentData data;
    std::vector<RecordPosition> positions;
    std::vector<std::uint32_t> ordinals;
  };
  Pooled<PointBuffers> b;  // fn may read records itself
  std::size_t k = 0;
  while (k < ids.size()) {
    std::size_t seg = SegmentOf(ids[k]);
    if (seg == std::string::npos) return Status::NotFound("record " + std::to_string(ids[k]) + " is not in the index");
    const SegmentInfo& info = time_map_[seg];
    b->ordinals.clear();
    std::size_t end = k;
    for (; end < ids.size() && ids[end] >= info.first_id && ids[end] < info.first_id + info.count; ++end) {
      auto ord = static_cast<std::uint32_t>(ids[end] - info.first_id);
      if (!b->ordinals.empty() && ord <= b->ordinals.back()) break;  // unsorted: a new group
      b->ordinals.push_back(ord);
    }
    const SegLoc& loc = locs_[seg];
    const auto size = static_cast<std::size_t>(info.stored_bytes);
    char* payload = b->payload.Reserve(size);
    SIPDEX_RETURN_IF_ERROR(
        index_->data_files()->ReadInto(loc.data_file, loc.data_offset, size, payload, DescribeSegment(seg)));
    Status s = b->decoder.DecodeSelected(std::string_view(payload, size), b->ordinals, &b->data, &b->positions);
    if (!s.ok()) return Status::Corruption(DescribeSegment(seg) + ": " + s.message());
    std::size_t pos = 0;
    std::string_view text(b->data.text);
    for (std::size_t j = 0; j < b->ordinals.size(); ++j) {
      const SegmentRecordMeta& m = b->data.records[j];
      StoredRecord r;
      r.id = info.first_id + b->ordinals[j];
      FillFromTable(info, b->data, m, &r);
      r.offset = b->positions[j].offset;
      r.line = b->positions[j].line;
      r.text = text.substr(pos, m.size);
      pos += m.size;
      fn(r);
    }
    k = end;
  }
  return Status::Ok();
}

Status SnapshotImpl::ReadRecordTables(std::span<const RecordId> ids,
                                      const std::function<void(const StoredRecord&)>& fn) const {
  thread_local SegmentDecoder decoder;
  std::string head;
  SegmentData table;  // local: fn may read records itself
  std::size_t k = 0;
  while (k < ids.size()) {
    std::size_t seg = SegmentOf(ids[k]);
    if (seg == std::string::npos) return Status::NotFound("record " + std::to_string(ids[k]) + " is not in the index");
    const SegmentInfo& info = time_map_[seg];
    const SegLoc& loc = locs_[seg];
    // The table sits at the payload's start: read a prefix, more if needed.
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(info.stored_bytes, 64u << 10));
    for (;;) {
      SIPDEX_RETURN_IF_ERROR(index_->data_files()->Read(loc.data_file, loc.data_offset, want, &head,
                                                        DescribeSegment(seg)));
      std::size_t needed = 0;
      Status s = decoder.DecodeTable(head, info.stored_bytes, &table, &needed);
      if (!s.ok()) return Status::Corruption(DescribeSegment(seg) + ": " + s.message());
      if (needed == 0) break;
      want = needed;
    }
    if (table.records.size() != info.count) {
      return Status::Corruption(DescribeSegment(seg) + ": record count differs from the time map");
    }
    for (; k < ids.size() && ids[k] >= info.first_id && ids[k] < info.first_id + info.count; ++k) {
      const SegmentRecordMeta& m = table.records[static_cast<std::size_t>(ids[k] - info.first_id)];
      StoredRecord r;
      r.id = ids[k];
      FillFromTable(info, table, m, &r);
      fn(r);
    }
  }
  return Status::Ok();
}

Status SnapshotImpl::ReadSegment(RecordId first_id, const std::function<void(const StoredRecord&)>& fn) const {
  std::size_t seg = SegmentOf(first_id);
  if (seg == std::string::npos || time_map_[seg].first_id != first_id) {
    return Status::NotFound("no segment starts at record " + std::to_string(first_id));
  }
  // A scan segment by segment allocates once per thread.
  Pooled<Loaded> loaded;
  SIPDEX_RETURN_IF_ERROR(LoadSegment(seg, loaded.get()));
  for (const StoredRecord& r : loaded->records) fn(r);
  return Status::Ok();
}

Status SnapshotImpl::LoadFacts(std::size_t index, LoadedFacts* out) const {
  const SegmentInfo& info = time_map_[index];
  const SegLoc& loc = locs_[index];
  // Header, table and facts sit at the payload's start: a first guess of the
  // prefix holds them for most segments (meta and facts are ~10% of it).
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(info.stored_bytes, 192u << 10));
  std::string_view facts;
  for (;;) {
    SIPDEX_RETURN_IF_ERROR(
        index_->data_files()->Read(loc.data_file, loc.data_offset, want, &out->head, DescribeSegment(index)));
    std::size_t needed = 0;
    Status s = out->decoder.DecodeFacts(out->head, info.stored_bytes, &out->table, &facts, &needed);
    if (!s.ok()) return Status::Corruption(DescribeSegment(index) + ": " + s.message());
    if (needed == 0) break;
    want = needed;
  }
  if (out->table.records.size() != info.count) {
    return Status::Corruption(DescribeSegment(index) + ": record count differs from the time map");
  }
  const bool templates =
      out->head.size() > 4 && static_cast<std::uint8_t>(out->head[4]) == static_cast<std::uint8_t>(TextCodec::kTemplates);
  out->has_facts = !facts.empty();
  if (!out->has_facts) {
    if (templates) return Status::Corruption(DescribeSegment(index) + ": the segment has no facts");
    return Status::Ok();
  }
  Status s = out->facts.Reset(facts, info.count);
  if (!s.ok()) return Status::Corruption(DescribeSegment(index) + ": " + s.message());
  return Status::Ok();
}

// Gives fn record `ordinal` of a segment whose table and facts `b` holds:
// its table columns and its facts (in b->record, reused between records).
void SnapshotImpl::EmitFacts(const SegmentInfo& info, std::uint32_t ordinal, LoadedFacts* b,
                             const std::function<void(const StoredRecord&, const Record&)>& fn) {
  const SegmentRecordMeta& m = b->table.records[ordinal];
  StoredRecord r;
  r.id = info.first_id + ordinal;
  FillFromTable(info, b->table, m, &r);
  Record& rec = b->record;
  rec.kind = m.kind;
  rec.malformed = m.malformed;
  rec.time = m.time;
  rec.has_time = m.has_time;
  b->facts.Fill(ordinal, &rec);
  fn(r, rec);
}

Status SnapshotImpl::ReadFacts(std::span<const RecordId> ids,
                               const std::function<void(const StoredRecord&, const Record&)>& fn) const {
  Pooled<LoadedFacts> b;  // fn may read facts itself
  b->record.Clear();
  std::size_t k = 0;
  while (k < ids.size()) {
    std::size_t seg = SegmentOf(ids[k]);
    if (seg == std::string::npos) return Status::NotFound("record " + std::to_string(ids[k]) + " is not in the index");
    const SegmentInfo& info = time_map_[seg];
    std::size_t end = k;
    while (end < ids.size() && ids[end] >= info.first_id && ids[end] < info.first_id + info.count) ++end;
    SIPDEX_RETURN_IF_ERROR(LoadFacts(seg, b.get()));
    if (!b->has_facts) {
      SIPDEX_RETURN_IF_ERROR(IndexSnapshot::ReadFacts(ids.subspan(k, end - k), fn));
      k = end;
      continue;
    }
    for (; k < end; ++k) EmitFacts(info, static_cast<std::uint32_t>(ids[k] - info.first_id), b.get(), fn);
  }
  return Status::Ok();
}

Status SnapshotImpl::ReadSegmentFacts(RecordId first_id,
                                      const std::function<void(const StoredRecord&, const Record&)>& fn) const {
  std::size_t seg = SegmentOf(first_id);
  if (seg == std::string::npos || time_map_[seg].first_id != first_id) {
    return Status::NotFound("no segment starts at record " + std::to_string(first_id));
  }
  Pooled<LoadedFacts> b;
  SIPDEX_RETURN_IF_ERROR(LoadFacts(seg, b.get()));
  if (!b->has_facts) return IndexSnapshot::ReadSegmentFacts(first_id, fn);
  const SegmentInfo& info = time_map_[seg];
  b->record.Clear();
  for (std::uint32_t i = 0; i < info.count; ++i) EmitFacts(info, i, b.get(), fn);
  return Status::Ok();
}

Status SnapshotImpl::SearchSegment(RecordId first_id, std::span<const std::string> literals,
                                   const std::function<bool(const StoredRecord&)>& want,
                                   const std::function<void(const StoredRecord&)>& fn) const {
  std::size_t seg = SegmentOf(first_id);
  if (seg == std::string::npos || time_map_[seg].first_id != first_id) {
    return Status::NotFound("no segment starts at record " + std::to_string(first_id));
  }
  struct SearchBuffers {
    SegmentDecoder decoder;
    ScratchBuffer payload;
    SegmentData table;
  };
  Pooled<SearchBuffers> b;  // fn may read records itself
  const SegmentInfo& info = time_map_[seg];
  const SegLoc& loc = locs_[seg];
  const auto size = static_cast<std::size_t>(info.stored_bytes);
  char* payload = b->payload.Reserve(size);
  SIPDEX_RETURN_IF_ERROR(
      index_->data_files()->ReadInto(loc.data_file, loc.data_offset, size, payload, DescribeSegment(seg)));
  bool count_ok = true;
  std::function<bool(const SegmentData&, std::uint32_t)> table_want;
  if (want) {
    table_want = [&](const SegmentData& table, std::uint32_t ordinal) {
      count_ok = count_ok && table.records.size() == info.count;
      if (!count_ok) return false;
      StoredRecord r;
      r.id = info.first_id + ordinal;
      FillFromTable(info, table, table.records[ordinal], &r);
      return want(r);
    };
  }
  Status s = b->decoder.Search(std::string_view(payload, size), literals, table_want, &b->table,
                               [&](const SegmentDecoder::Found& f) {
                                 count_ok = count_ok && b->table.records.size() == info.count;
                                 if (!count_ok) return;
                                 StoredRecord r;
                                 r.id = info.first_id + f.ordinal;
                                 FillFromTable(info, b->table, b->table.records[f.ordinal], &r);
                                 r.offset = f.position.offset;
                                 r.line = f.position.line;
                                 r.text = f.text;
                                 fn(r);
                               });
  if (!s.ok()) return Status::Corruption(DescribeSegment(seg) + ": " + s.message());
  if (!count_ok || b->table.records.size() != info.count) {
    return Status::Corruption(DescribeSegment(seg) + ": record count differs from the time map");
  }
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
  std::vector<std::unique_ptr<Loaded>> spare;  // finished segments' buffers, reused
  std::size_t next = 0;
  while (true) {
    while (next < order.size() && (heap.empty() || time_map_[order[next]].min_time <= heap.top().time)) {
      std::unique_ptr<Loaded> loaded;
      if (spare.empty()) {
        loaded = std::make_unique<Loaded>();
      } else {
        loaded = std::move(spare.back());
        spare.pop_back();
      }
      SIPDEX_RETURN_IF_ERROR(LoadSegment(order[next], loaded.get()));
      std::size_t left = 0;
      for (std::size_t i = 0; i < loaded->records.size(); ++i) {
        const StoredRecord& r = loaded->records[i];
        if (r.time < from || r.time > to) continue;
        heap.push(Item{r.time, r.id, next, i});
        ++left;
      }
      if (left > 0) {
        live.emplace(next, std::make_pair(std::move(loaded), left));
      } else {
        spare.push_back(std::move(loaded));
      }
      ++next;
    }
    if (heap.empty()) break;
    Item top = heap.top();
    heap.pop();
    auto it = live.find(top.slot);
    if (!fn(it->second.first->records[top.rec])) return Status::Ok();
    if (--it->second.second == 0) {
      spare.push_back(std::move(it->second.first));
      live.erase(it);
    }
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
      if (locs_[seg].start_offset != expect) {
        return Status::Corruption(f.name + ": " + DescribeSegment(seg) + " starts at byte " +
                                  std::to_string(locs_[seg].start_offset) + ", expected " + std::to_string(expect));
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
  // Segments: each reads, its checksum matches, it decodes, and counts and
  // offsets agree with the manifest; the files' parts are covered exactly.
  Loaded loaded;
  LoadedFacts verify_facts;
  RecordId expect_id = 0;
  std::vector<std::uint64_t> file_end(manifest_.files.size(), 0);
  for (std::size_t i = 0; i < time_map_.size(); ++i) {
    const SegmentInfo& info = time_map_[i];
    if (info.first_id != expect_id) {
      problems->push_back("time map: records " + std::to_string(expect_id) + ".." + std::to_string(info.first_id) +
                          " have no segment");
    }
    expect_id = info.first_id + info.count;
    if (info.file_id >= manifest_.files.size()) {
      problems->push_back(DescribeSegment(i) + ": unknown file id " + std::to_string(info.file_id));
      continue;
    }
    Status s = LoadSegment(i, &loaded);
    if (!s.ok()) {
      problems->push_back(s.message());
      continue;
    }
    if (loaded.data.text.size() != info.raw_bytes || loaded.data.start_offset != locs_[i].start_offset) {
      problems->push_back(DescribeSegment(i) + ": its bytes differ from the time map");
    }
    // The facts: their own checksum, their frame, one row per record.
    std::size_t needed = 0;
    std::string_view facts;
    s = verify_facts.decoder.DecodeFacts(loaded.payload, loaded.payload.size(), &verify_facts.table, &facts,
                                         &needed);
    if (s.ok() && facts.empty() && loaded.payload.size() > 4 &&
        static_cast<std::uint8_t>(loaded.payload[4]) == static_cast<std::uint8_t>(TextCodec::kTemplates)) {
      s = Status::Corruption("the segment has no facts");
    }
    if (s.ok() && !facts.empty()) s = verify_facts.facts.Reset(facts, info.count);
    if (!s.ok()) problems->push_back(DescribeSegment(i) + ": " + s.message());
  }
  if (expect_id != manifest_.record_count) {
    problems->push_back("time map: segments end at record " + std::to_string(expect_id) + ", the manifest has " +
                        std::to_string(manifest_.record_count));
  }
  // Files: parts contiguous and covered by their segments (cheap: the time map only).
  std::uint64_t counted = 0;
  for (const FileInfo& f : manifest_.files) {
    std::uint64_t expect = 0;
    for (const FilePart& p : f.parts) {
      counted += p.end_id - p.first_id;
      if (p.start_offset != expect) problems->push_back("file " + f.name + ": parts are not contiguous");
      expect = p.start_offset;
      std::size_t seg = p.first_id < p.end_id ? SegmentOf(p.first_id) : std::string::npos;
      if (p.first_id < p.end_id && seg == std::string::npos) {
        problems->push_back("file " + f.name + ": records " + std::to_string(p.first_id) + ".." +
                            std::to_string(p.end_id) + " have no segment");
        expect = p.end_offset;
        continue;
      }
      for (; seg != std::string::npos && seg < time_map_.size() && time_map_[seg].first_id < p.end_id; ++seg) {
        if (time_map_[seg].file_id != f.file_id || locs_[seg].start_offset != expect) {
          problems->push_back("file " + f.name + ": " + DescribeSegment(seg) + " does not continue it at byte " +
                              std::to_string(expect));
          break;
        }
        expect += time_map_[seg].raw_bytes;
      }
      if (expect != p.end_offset) {
        problems->push_back("file " + f.name + ": segments end at byte " + std::to_string(expect) +
                            ", the manifest says " + std::to_string(p.end_offset));
        expect = p.end_offset;
      }
    }
  }
  if (counted != manifest_.record_count) {
    problems->push_back("manifest: file parts hold " + std::to_string(counted) + " records, the index " +
                        std::to_string(manifest_.record_count));
  }
  // Postings: runs tile the records; every table block reads with a good
  // checksum; every list decodes and points inside its run. Checked field by
  // field, so a damaged block is named by its field and the others still count.
  RecordId run_expect = 0;
  for (const Run& run : runs_) {
    if (run.first != run_expect) {
      problems->push_back("runs: records " + std::to_string(run_expect) + ".." + std::to_string(run.first) +
                          " have no postings");
    }
    run_expect = run.end;
  }
  if (run_expect != manifest_.record_count) {
    problems->push_back("runs: postings end at record " + std::to_string(run_expect) + ", the manifest has " +
                        std::to_string(manifest_.record_count));
  }
  rocksdb::ReadOptions ro = ro_;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::size_t bad = 0;
  auto report = [&](const std::string& what) {
    if (++bad <= 20) problems->push_back(what);
  };
  std::vector<std::uint32_t> ordinals;
  for (const Run& run : runs_) {
    for (std::size_t f = 0; f < static_cast<std::size_t>(FieldId::kCount_); ++f) {
      auto field = static_cast<FieldId>(f);
      if (!GetField(field).indexed || CanonicalPostingField(field) != field) continue;
      std::string prefix = IdKey(run.first);
      prefix.push_back(static_cast<char>(f));
      std::string what = "postings of field '" + std::string(GetField(field).name) + "' in " + DescribeRun(run);
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index_->postings()));
      for (it->Seek(prefix); it->Valid(); it->Next()) {
        std::string_view key = ToView(it->key());
        if (!key.starts_with(prefix)) break;
        RecordId r = 0;
        FieldId kf;
        std::string_view rest;
        if (!ParseRunPostingKey(key, &r, &kf, &rest)) {
          report(what + ": a key that does not parse");
          continue;
        }
        std::string_view value = ToView(it->value());
        std::vector<std::string_view> lists;
        if (IsHashedField(field)) {
          std::uint64_t m = 0;
          bool ok = GetVarint64(&value, &m) && m <= value.size();
          for (std::uint64_t k = 0; ok && k < m; ++k) {
            std::string_view h, l;
            ok = GetBytes(&value, 2, &h) && GetLengthPrefixed(&value, &l);
            if (ok) lists.push_back(l);
          }
          if (!ok || !value.empty()) {
            report(what + ": damaged bucket");
            continue;
          }
        } else {
          lists.push_back(value);
        }
        for (std::string_view l : lists) {
          ordinals.clear();
          if (!DecodePostingList(&l, run.end - run.first, &ordinals) || !l.empty()) {
            report(what + ": a damaged list (points outside records " + std::to_string(run.first) + ".." +
                   std::to_string(run.end) + ")");
            break;
          }
        }
      }
      if (!it->status().ok()) report(what + ": damaged table block: " + it->status().ToString());
    }
  }
  if (bad > 20) problems->push_back("postings: " + std::to_string(bad - 20) + " more damaged entries");
  return Status::Ok();
}

Result<SpaceUsage> SnapshotImpl::Space(bool by_field) const {
  SpaceUsage u;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(index_->dir(), ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::uint64_t size = it->file_size(ec);
    u.directory_bytes += size;
    if (DataFileNumber(it->path().filename().string()) >= 0) u.segment_bytes += size;
  }
  std::uint64_t v = 0;
  if (db_->GetIntProperty(index_->postings(), "rocksdb.total-sst-files-size", &v)) u.postings_bytes = v;
  u.other_bytes = u.directory_bytes > u.segment_bytes + u.postings_bytes
                      ? u.directory_bytes - u.segment_bytes - u.postings_bytes
                      : 0;
  // The facts sections: a small read of each payload's head (two when its
  // table frame is larger than the first guess).
  std::string head;
  for (std::size_t i = 0; i < time_map_.size(); ++i) {
    const std::uint64_t stored = time_map_[i].stored_bytes;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(stored, 4096));
    for (;;) {
      SIPDEX_RETURN_IF_ERROR(
          index_->data_files()->Read(locs_[i].data_file, locs_[i].data_offset, want, &head, DescribeSegment(i)));
      std::uint64_t frame = 0;
      std::size_t needed = 0;
      Status s = FactsFrameSize(head, stored, &frame, &needed);
      if (!s.ok()) return Status::Corruption(DescribeSegment(i) + ": " + s.message());
      if (needed == 0) {
        u.facts_bytes += frame;
        break;
      }
      want = needed;
    }
  }
  if (!by_field) return u;
  std::vector<SpaceUsage::FieldPostings> fields(static_cast<std::size_t>(FieldId::kCount_));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, index_->postings()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    RecordId run = 0;
    FieldId field;
    std::string_view rest;
    if (!ParseRunPostingKey(ToView(it->key()), &run, &field, &rest)) continue;
    SpaceUsage::FieldPostings& f = fields[static_cast<std::size_t>(field)];
    ++f.keys;
    f.bytes += it->key().size() + it->value().size();
  }
  SIPDEX_RETURN_IF_ERROR(FromRocks(it->status(), "postings"));
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].keys == 0) continue;
    fields[i].field = std::string(GetField(static_cast<FieldId>(i)).name);
    u.postings_by_field.push_back(fields[i]);
  }
  std::sort(u.postings_by_field.begin(), u.postings_by_field.end(),
            [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  return u;
}

// --- writing ------------------------------------------------------------------

rocksdb::ColumnFamilyOptions CfOptions(std::string_view name);

class WriterImpl final : public IndexWriter {
 public:
  WriterImpl(IndexImpl* index, const WriterOptions& options, RecordId next_id, std::vector<FileInfo> files,
             std::uint32_t data_file, std::uint64_t data_size)
      : index_(index),
        options_(options),
        next_id_(next_id),
        committed_id_(next_id),
        run_first_(next_id),
        files_(std::move(files)),
        data_number_(data_file),
        data_size_(data_size),
        committed_data_number_(data_file),
        committed_data_size_(data_size) {
    for (const FileInfo& f : files_) by_name_.emplace(f.name, f.file_id);
  }
  ~WriterImpl() override {
    if (open_) AbortFile().IgnoreError();
    Commit().IgnoreError();
    if (data_fd_ >= 0) ::close(data_fd_);
    index_->WriterClosed();
  }

  Result<FileState> GetFileState(std::string_view name) override {
    std::lock_guard<std::mutex> l(mu_);
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
    std::lock_guard<std::mutex> l(mu_);
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
    SIPDEX_RETURN_IF_ERROR(AppendData(seg.payload));
    SegMeta m;
    m.info.first_id = first;
    m.info.count = seg.count;
    m.info.file_id = file_id_;
    m.info.min_time = seg.min_time;
    m.info.max_time = seg.max_time;
    m.info.raw_bytes = seg.raw_bytes;
    m.info.stored_bytes = seg.payload.size();
    m.real_min = seg.real_min_time;
    m.real_max = seg.real_max_time;
    m.start_offset = seg.start_offset;
    m.data_file = data_number_;
    m.data_offset = data_size_ - seg.payload.size();
    pending_segments_.push_back(m);
    // The segment's postings are already sorted; FlushRun merges them.
    if (seg.postings.size() > 0) {
      run_.emplace_back(static_cast<std::uint32_t>(first - run_first_), std::move(seg.postings));
    }
    run_raw_ += seg.raw_bytes;
    next_id_ += seg.count;
    expect_offset_ += seg.raw_bytes;
    part_counts_.Add(seg.counts);
    MergeTime(seg.real_min_time, seg.real_max_time, &part_min_, &part_max_);
    part_stored_ += seg.payload.size();
    if (first_server_.empty()) first_server_ = seg.server;
    if (run_raw_ >= options_.run_bytes) SIPDEX_RETURN_IF_ERROR(FlushRun());
    return Status::Ok();
  }

  Status CommitFile(std::uint64_t total_size, std::uint64_t hash) override {
    if (!open_) return Status::InvalidArgument("CommitFile: no file is open");
    if (total_size != expect_offset_) {
      return Status::InvalidArgument(header_.name + ": committing " + std::to_string(total_size) +
                                     " bytes but the segments hold " + std::to_string(expect_offset_));
    }
    FileInfo f;
    {
      std::lock_guard<std::mutex> l(mu_);
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
      if (file_id_ == files_.size()) {
        files_.push_back(f);
        by_name_.emplace(f.name, f.file_id);
      } else {
        files_[file_id_] = f;
      }
    }
    pending_files_.insert(file_id_);
    pending_raw_ += total_size - header_.start_offset;
    open_ = false;
    if (pending_raw_ >= options_.commit_bytes) return Commit();
    return Status::Ok();
  }

  Status AbortFile() override {
    if (!open_ && pending_files_.empty() && next_id_ == committed_id_) return Status::Ok();
    open_ = false;
    return DropPending();
  }

  Status Flush() override {
    if (open_) return Status::InvalidArgument("Flush: a file is open");
    SIPDEX_RETURN_IF_ERROR(Commit());
    // The flushed tables hold at most the batches committed since the last flush.
    SIPDEX_RETURN_IF_ERROR(CheckSpace(unflushed_bytes_));
    rocksdb::FlushOptions fo;
    fo.wait = true;
    SIPDEX_RETURN_IF_ERROR(FromRocks(index_->db()->Flush(fo, index_->handles()), "flush"));
    unflushed_bytes_ = 0;
    // Automatic compactions are off (readers never meet a file deleted under
    // them); the small tables of the manifest column families are merged here
    // when many ingests have piled them up.
    for (rocksdb::ColumnFamilyHandle* cf : {index_->meta(), index_->files(), index_->segmeta(), index_->runs()}) {
      std::string n;
      if (index_->db()->GetProperty(cf, "rocksdb.num-files-at-level0", &n) && std::atoi(n.c_str()) > 16) {
        SIPDEX_RETURN_IF_ERROR(
            FromRocks(index_->db()->CompactRange(rocksdb::CompactRangeOptions(), cf, nullptr, nullptr), "compact"));
      }
    }
    return Status::Ok();
  }

  // Leftovers of an interrupted writer: data file bytes past the committed
  // segments and postings tables of uncommitted runs.
  static Status DeleteLeftovers(IndexImpl* index, RecordId committed,
                                const std::map<std::uint32_t, std::uint64_t>& data_ends) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(index->dir(), ec)) {
      std::string name = entry.path().filename().string();
      std::int64_t number = DataFileNumber(name);
      if (number < 0) {
        if (name.starts_with("run-") && name.ends_with(".sst.tmp")) fs::remove(entry.path(), ec);
        continue;
      }
      auto it = data_ends.find(static_cast<std::uint32_t>(number));
      if (it == data_ends.end()) {
        if (!fs::remove(entry.path(), ec)) return Status::IoError("cannot remove " + name + ": " + ec.message());
        continue;
      }
      std::uint64_t size = entry.file_size(ec);
      if (!ec && size > it->second) {
        if (::truncate(entry.path().c_str(), static_cast<off_t>(it->second)) != 0) return FromErrno("truncate " + name);
      }
    }
    rocksdb::DB* db = index->db();
    std::string begin = IdKey(committed);
    std::string end = IdKey(~RecordId{0});
    auto any = [&]() {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), index->postings()));
      it->Seek(begin);
      return it->Valid();
    };
    if (!any()) return Status::Ok();
    rocksdb::Slice b(begin), e(end);
    SIPDEX_RETURN_IF_ERROR(FromRocks(rocksdb::DeleteFilesInRange(db, index->postings(), &b, &e), "cleanup"));
    if (!any()) return Status::Ok();
    rocksdb::WriteBatch batch;
    SIPDEX_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(index->postings(), b, e), "cleanup"));
    return FromRocks(db->Write(rocksdb::WriteOptions(), &batch), "cleanup");
  }

 private:
  Status AppendData(std::string_view payload) {
    if (data_fd_ < 0 || (data_size_ > 0 && data_size_ + payload.size() > kDataFileBytes)) {
      if (data_fd_ >= 0) {
        ::close(data_fd_);
        data_fd_ = -1;
        ++data_number_;
        data_size_ = 0;
      } else if (data_size_ >= kDataFileBytes) {
        ++data_number_;
        data_size_ = 0;
      }
      std::string path = index_->dir() + "/" + DataFileName(data_number_);
      data_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (data_fd_ < 0) return FromErrno("open " + path);
      // Anything past the committed size is a leftover: write over it.
      if (::ftruncate(data_fd_, static_cast<off_t>(data_size_)) != 0 ||
          ::lseek(data_fd_, static_cast<off_t>(data_size_), SEEK_SET) < 0) {
        return FromErrno("seek " + path);
      }
    }
    SIPDEX_RETURN_IF_ERROR(WriteAll(data_fd_, payload, "write " + DataFileName(data_number_)));
    data_size_ += payload.size();
    return Status::Ok();
  }

  // The database's own writes (log, memtable flush, manifest) must never meet
  // a full disk (Debian's RocksDB may abort there): refuses with IoError when
  // the index's file system has less than `need` bytes plus a spare of
  // kSpareBytes available (256 KB: the log of a commit batch is in `need`,
  // manifest edits are a few KB in space RocksDB preallocates; Flush adds the
  // batches committed since the last flush).
  Status CheckSpace(std::uint64_t need) const {
    static constexpr std::uint64_t kSpareBytes = 256ull << 10;
    struct statvfs st;
    if (::statvfs(index_->dir().c_str(), &st) != 0) return FromErrno("statvfs " + index_->dir());
    std::uint64_t avail = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
    if (avail >= need + kSpareBytes) return Status::Ok();
    return Status::IoError("no space left on the disk of " + index_->dir() + ": " + std::to_string(avail >> 10) +
                           " KB free, sipdex keeps " + std::to_string((need + kSpareBytes) >> 10) +
                           " KB for the index database's own writes");
  }

  // Writes the run's postings as one sorted table and adds it to the index
  // (outside the write-ahead log and the memtable); invisible until Commit
  // records the run.
  Status FlushRun() {
    if (next_id_ == run_first_) return Status::Ok();
    Run run{run_first_, next_id_};
    if (!run_.empty()) {
      std::string path = index_->dir() + "/run-" + std::to_string(run.first) + ".sst.tmp";
      rocksdb::Options o(rocksdb::DBOptions(), CfOptions(kPostingsCf));
      rocksdb::SstFileWriter sst(rocksdb::EnvOptions(), o, index_->postings());
      SIPDEX_RETURN_IF_ERROR(FromRocks(sst.Open(path), "postings table"));
      // Hashed fields: one bucket per field and high 16 bits of the hash,
      // gathered while the merged keys go by.
      std::string key, value, list, bucket_key, bucket;
      std::uint64_t bucket_n = 0;
      auto put_bucket = [&]() -> Status {
        if (bucket_n == 0) return Status::Ok();
        value.clear();
        PutVarint64(&value, bucket_n);
        value.append(bucket);
        bucket.clear();
        bucket_n = 0;
        return FromRocks(sst.Put(bucket_key, value), "postings table");
      };
      SIPDEX_RETURN_IF_ERROR(MergeSegmentPostings(
          run_, [&](std::string_view vkey, std::span<const std::uint32_t> ords) -> Status {
            auto field = static_cast<FieldId>(static_cast<std::uint8_t>(vkey[0]));
            if (IsHashedField(field) && vkey.size() == 5) {
              key = RunPostingKey(run.first, vkey);
              if (bucket_n > 0 && key != bucket_key) SIPDEX_RETURN_IF_ERROR(put_bucket());
              bucket_key = key;
              bucket.append(vkey.substr(3, 2));
              list.clear();
              EncodePostingList(ords, &list);
              PutLengthPrefixed(&bucket, list);
              ++bucket_n;
              return Status::Ok();
            }
            SIPDEX_RETURN_IF_ERROR(put_bucket());
            value.clear();
            EncodePostingList(ords, &value);
            return FromRocks(sst.Put(RunPostingKey(run.first, vkey), value), "postings table");
          }));
      SIPDEX_RETURN_IF_ERROR(put_bucket());
      SIPDEX_RETURN_IF_ERROR(FromRocks(sst.Finish(), "postings table"));
      SIPDEX_RETURN_IF_ERROR(CheckSpace(0));
      rocksdb::IngestExternalFileOptions io;
      io.move_files = true;
      io.write_global_seqno = false;
      SIPDEX_RETURN_IF_ERROR(
          FromRocks(index_->db()->IngestExternalFile(index_->postings(), {path}, io), "add postings table"));
    }
    run_.clear();
    pending_runs_.push_back(run);
    run_first_ = next_id_;
    run_raw_ = 0;
    return Status::Ok();
  }

  // Makes every ended part visible in one write batch: their segments' time
  // map entries, their runs, their manifest entries and next_id.
  Status Commit() {
    if (open_) return Status::Ok();  // the open part's records share the run: wait for it
    if (pending_files_.empty() && pending_segments_.empty()) return Status::Ok();
    SIPDEX_RETURN_IF_ERROR(FlushRun());
    rocksdb::WriteBatch batch;
    for (const SegMeta& m : pending_segments_) {
      SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Put(index_->segmeta(), IdKey(m.info.first_id), EncodeSegMeta(m)), "segmeta"));
    }
    for (const Run& r : pending_runs_) {
      std::string v;
      PutVarint64(&v, r.end);
      SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Put(index_->runs(), IdKey(r.first), v), "runs"));
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      for (std::uint32_t id : pending_files_) {
        SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Put(index_->files(), FileKey(id), EncodeFileInfo(files_[id])), "files"));
      }
    }
    std::string next;
    PutVarint64(&next, next_id_);
    SIPDEX_RETURN_IF_ERROR(FromRocks(batch.Put(index_->meta(), kNextIdKey, next), "meta"));
    SIPDEX_RETURN_IF_ERROR(CheckSpace(batch.GetDataSize()));
    SIPDEX_RETURN_IF_ERROR(FromRocks(index_->db()->Write(rocksdb::WriteOptions(), &batch), "commit"));
    unflushed_bytes_ += batch.GetDataSize();
    committed_id_ = next_id_;
    committed_data_number_ = data_number_;
    committed_data_size_ = data_size_;
    committed_files_ = files_.size();
    pending_segments_.clear();
    pending_runs_.clear();
    pending_files_.clear();
    pending_raw_ = 0;
    return Status::Ok();
  }

  // Forgets everything not committed: the in-memory run, the tables of
  // pending runs, the data written since the commit and the files' new state.
  Status DropPending() {
    run_.clear();
    pending_segments_.clear();
    pending_runs_.clear();
    pending_raw_ = 0;
    next_id_ = committed_id_;
    run_first_ = committed_id_;
    run_raw_ = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      Result<std::unique_ptr<IndexSnapshot>> snap = index_->Snapshot();
      if (!snap.ok()) return snap.status();
      files_ = (*snap)->manifest().files;
      by_name_.clear();
      for (const FileInfo& f : files_) by_name_.emplace(f.name, f.file_id);
    }
    pending_files_.clear();
    if (data_fd_ >= 0) ::close(data_fd_);
    data_fd_ = -1;
    data_number_ = committed_data_number_;
    data_size_ = committed_data_size_;
    Result<std::unique_ptr<IndexSnapshot>> snap = index_->Snapshot();
    if (!snap.ok()) return snap.status();
    return DeleteLeftovers(index_, committed_id_, static_cast<const SnapshotImpl&>(**snap).DataEnds());
  }

  IndexImpl* index_;
  WriterOptions options_;
  RecordId next_id_;
  RecordId committed_id_;
  RecordId run_first_;
  std::mutex mu_;  // files_ and by_name_ (GetFileState may run on another thread)
  std::vector<FileInfo> files_;
  std::unordered_map<std::string, std::uint32_t> by_name_;
  std::size_t committed_files_ = 0;
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
  std::uint64_t run_raw_ = 0;
  // The current run's postings: (ordinal base in the run, segment postings),
  // in segment order.
  std::vector<std::pair<std::uint32_t, SegmentPostings>> run_;
  std::vector<SegMeta> pending_segments_;
  std::vector<Run> pending_runs_;
  std::set<std::uint32_t> pending_files_;
  std::uint64_t pending_raw_ = 0;
  std::uint64_t unflushed_bytes_ = 0;  // commit batches written since the last Flush
  int data_fd_ = -1;
  std::uint32_t data_number_;
  std::uint64_t data_size_;
  std::uint32_t committed_data_number_;
  std::uint64_t committed_data_size_;
};

rocksdb::ColumnFamilyOptions CfOptions(std::string_view name) {
  rocksdb::ColumnFamilyOptions o;
  o.compression = rocksdb::kZSTD;
  o.bottommost_compression = rocksdb::kZSTD;
  // No automatic compactions: a compaction deletes tables that a reader
  // opening at that moment may be about to open. Postings tables never
  // overlap (keys start with their run) and are added at the bottom level;
  // the other families are small and merged by IndexWriter::Flush.
  o.disable_auto_compactions = true;
  if (name == kPostingsCf) {
    rocksdb::BlockBasedTableOptions t;
    t.block_size = 64 * 1024;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    o.compression_opts.level = kPostingsLevel;
    o.bottommost_compression_opts.level = kPostingsLevel;
    o.bottommost_compression_opts.enabled = true;
  }
  return o;
}

const char* const kColumnFamilies[] = {"default", kFilesCf, kSegMetaCf, kRunsCf, kPostingsCf};

// The Env of read-only opens: the default one, except that opening a database
// starts no background threads (a read-only database has no flush or
// compaction to run; each thread costs a clone, a stack and a malloc arena).
rocksdb::Env* ReadOnlyEnv() {
  class NoThreadsEnv final : public rocksdb::EnvWrapper {
   public:
    NoThreadsEnv() : EnvWrapper(rocksdb::Env::Default()) {}
    const char* Name() const override { return "SipdexReadOnlyEnv"; }
    void IncBackgroundThreadsIfNeeded(int /*number*/, Priority /*pri*/) override {}
  };
  static NoThreadsEnv* env = new NoThreadsEnv();  // never destroyed: outlives every database
  return env;
}

Status IndexImpl::OpenDb(const std::string& dir, const IndexOptions& options) {
  // A read-only open may race with a writer deleting an obsolete log or a
  // leftover table between reading the list of files and opening them: retry.
  Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    s = TryOpen(dir, options);
    if (s.ok() || !options.read_only || s.code() != Status::Code::kIoError) return s;
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    db_.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return s;
}

Status IndexImpl::TryOpen(const std::string& dir, const IndexOptions& options) {
  dir_ = dir;
  options_ = options;
  data_files_ = std::make_unique<DataFiles>(dir);
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
  db_options.max_total_wal_size = 64ull << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.skip_stats_update_on_db_open = true;
  db_options.max_file_opening_threads = 1;
  // A format-1 index has a "segments" column family. A writer checks before
  // opening (the open would add the new families to it); a read-only open
  // of one fails for the missing families, and checks then (one read of the
  // MANIFEST less on every query).
  auto format1 = [&]() {
    std::vector<std::string> names;
    rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
    return ls.ok() && std::find(names.begin(), names.end(), "segments") != names.end();
  };
  const Status format1_error = Status::Corruption(dir + ": index format version 1, this sipdex reads version " +
                                                  std::to_string(kFormatVersion) +
                                                  " (ingest again into a new index directory)");
  if (exists && !options.read_only && format1()) return format1_error;
  if (options.read_only) {
    db_options.table_cache_numshardbits = 0;  // a few tables, one thread or two
    // A read-only open never flushes or compacts: no background threads (the
    // default Env starts one per pool at every open), no periodic statistics,
    // no stat of every table file (a table cut short fails its footer read).
    db_options.env = ReadOnlyEnv();
    db_options.skip_checking_sst_file_sizes_on_db_open = true;
    db_options.stats_dump_period_sec = 0;
    db_options.stats_persist_period_sec = 0;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : kColumnFamilies) cfs.emplace_back(name, CfOptions(name));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = options.read_only ? rocksdb::DB::OpenForReadOnly(db_options, dir, cfs, &handles_, &raw)
                                        : rocksdb::DB::Open(db_options, dir, cfs, &handles_, &raw);
  db_.reset(raw);  // adopt at once
  if (options.read_only && !s.ok() && format1()) return format1_error;
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
                              std::to_string(kFormatVersion) + " (ingest again into a new index directory)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<IndexSnapshot>> IndexImpl::Snapshot() const {
  auto snap = std::make_unique<SnapshotImpl>(this, db_.get(), db_->GetSnapshot());
  SIPDEX_RETURN_IF_ERROR(snap->Load());
  return std::unique_ptr<IndexSnapshot>(std::move(snap));
}

Result<std::unique_ptr<IndexWriter>> IndexImpl::NewWriter(const WriterOptions& options) {
  if (options_.read_only) return Status::InvalidArgument(dir_ + ": opened read-only");
  if (writer_open_) return Status::Busy(dir_ + ": a writer is already open");
  Result<std::unique_ptr<IndexSnapshot>> snap = Snapshot();
  if (!snap.ok()) return snap.status();
  RecordId committed = (*snap)->manifest().record_count;
  std::vector<FileInfo> files = (*snap)->manifest().files;
  std::map<std::uint32_t, std::uint64_t> ends = static_cast<const SnapshotImpl&>(**snap).DataEnds();
  snap->reset();
  SIPDEX_RETURN_IF_ERROR(WriterImpl::DeleteLeftovers(this, committed, ends));
  std::uint32_t data_file = ends.empty() ? 1 : ends.rbegin()->first;
  std::uint64_t data_size = ends.empty() ? 0 : ends.rbegin()->second;
  writer_open_ = true;
  return std::unique_ptr<IndexWriter>(
      std::make_unique<WriterImpl>(this, options, committed, std::move(files), data_file, data_size));
}

}  // namespace

Status IndexSnapshot::ReadRecordTables(std::span<const RecordId> ids,
                                       const std::function<void(const StoredRecord&)>& fn) const {
  return ReadRecords(ids, [&](const StoredRecord& r) {
    StoredRecord t = r;
    t.text = std::string_view();
    t.offset = 0;
    t.line = 0;
    fn(t);
  });
}

namespace {

// Runs `read` (ReadRecords or ReadSegment of `snap`) and gives fn each record
// parsed whole (a superset of its facts), without text as ReadRecordTables
// gives it: the default ReadFacts / ReadSegmentFacts.
Status ReadParsed(const IndexSnapshot& snap,
                  const std::function<Status(const std::function<void(const StoredRecord&)>&)>& read,
                  const std::function<void(const StoredRecord&, const Record&)>& fn) {
  Record parsed;
  Status inner;
  Status s = read([&](const StoredRecord& r) {
    if (!inner.ok()) return;
    inner = snap.Parse(r, &parsed);
    if (!inner.ok()) return;
    StoredRecord t = r;
    t.text = std::string_view();
    t.offset = 0;
    t.line = 0;
    fn(t, parsed);
  });
  return s.ok() ? inner : s;
}

}  // namespace

Status IndexSnapshot::ReadFacts(std::span<const RecordId> ids,
                                const std::function<void(const StoredRecord&, const Record&)>& fn) const {
  return ReadParsed(*this, [&](const auto& visit) { return ReadRecords(ids, visit); }, fn);
}

Status IndexSnapshot::ReadSegmentFacts(RecordId first_id,
                                       const std::function<void(const StoredRecord&, const Record&)>& fn) const {
  return ReadParsed(*this, [&](const auto& visit) { return ReadSegment(first_id, visit); }, fn);
}

Status IndexSnapshot::SearchSegment(RecordId first_id, std::span<const std::string> literals,
                                    const std::function<bool(const StoredRecord&)>& want,
                                    const std::function<void(const StoredRecord&)>& fn) const {
  return ReadSegment(first_id, [&](const StoredRecord& r) {
    if (want) {
      StoredRecord t = r;
      t.text = std::string_view();
      t.offset = 0;
      t.line = 0;
      if (!want(t)) return;
    }
    for (const std::string& lit : literals) {
      if (r.text.find(lit) != std::string_view::npos) {
        fn(r);
        return;
      }
    }
  });
}

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
  PostingCollector postings;  // each (field, value) once per record
  FactsEncoder facts;         // the facts columns (kTemplates payloads only)
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
  auto sit = p.server_ids.find(std::string(server));
  if (sit == p.server_ids.end()) {
    sit = p.server_ids.emplace(std::string(server), static_cast<std::uint32_t>(p.data.servers.size())).first;
    p.data.servers.emplace_back(server);
  }
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
  p.postings.SetRecord(ordinal);
  ExtractPostings(r, server, p.file_name, &p.postings);
  if (p.options.columns) p.facts.Add(r);
}

void SegmentBuilder::Rebase(std::uint64_t offset_delta, std::uint32_t line_delta) {
  rep_->offset_delta = offset_delta;
  rep_->line_delta = line_delta;
}

void SegmentBuilder::Reserve(std::uint64_t bytes) { rep_->data.text.reserve(static_cast<std::size_t>(bytes)); }

void SegmentBuilder::Restart(std::string_view file_name) {
  rep_->file_name.assign(file_name);
  rep_->offset_delta = 0;
  rep_->line_delta = 0;
}

std::uint32_t SegmentBuilder::count() const { return static_cast<std::uint32_t>(rep_->data.records.size()); }
std::uint64_t SegmentBuilder::raw_bytes() const { return rep_->data.text.size(); }

EncodedSegment SegmentBuilder::Finish() {
  Rep& p = *rep_;
  EncodedSegment seg = std::move(p.seg);
  seg.count = static_cast<std::uint32_t>(p.data.records.size());
  seg.raw_bytes = p.data.text.size();
  p.data.facts.clear();
  if (p.options.columns) p.facts.Finish(&p.data.facts);
  seg.payload = EncodeSegment(p.data, p.options.columns ? TextCodec::kTemplates : TextCodec::kPlain, p.options.level);
  seg.postings = p.postings.Finish();
  p.data.text.clear();
  p.data.records.clear();
  p.data.servers.clear();
  p.server_ids.clear();
  p.seg = EncodedSegment();
  return seg;
}

}  // namespace sipdex::storage
