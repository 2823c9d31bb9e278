#pragma once
// The sipdex index: an embedded RocksDB directory holding every ingested byte
// (compressed segments), postings from (field, value) to records, a time map
// and a manifest of ingested files. storage/README.md documents the on-disk
// format as a grammar.
//
// Records are addressed by a RecordId: a global ordinal, dense from 0, given
// in ingest order. A segment holds the records [first_id, first_id + count) of
// one file; a file part (one ingest of a file, or of the bytes appended to it
// since) owns a contiguous id range made of whole segments.
//
// Two sides:
//   * writing (one process at a time, IndexWriter): SegmentBuilder instances
//     turn parsed records into EncodedSegments on any thread; the writer
//     appends them in file order and commits the file part atomically.
//   * reading (IndexSnapshot): a consistent view of the committed files only;
//     any number of threads may read one snapshot at once.
//
// Typical ingest:
//   auto index = Index::Open(dir, IndexOptions{});   // creates dir, takes the lock
//   auto writer = index->NewWriter();
//   FileState st = writer->GetFileState(name);         // skip / append / refuse
//   writer->BeginFile(...); SegmentBuilder b(...); b.Add(r)...;
//   writer->AppendSegment(b.Finish()); ... writer->CommitFile(...);
// Typical query:
//   auto snap = index->Snapshot();
//   snap->Lookup(FieldId::kCallId, "abc...")  -> sorted ids
//   snap->ReadRecords(ids, [](const StoredRecord& r) { ... })

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "storage/record.h"
#include "storage/schema.h"

namespace sipdex::storage {

using RecordId = std::uint64_t;

inline constexpr int kFormatVersion = 3;

// Parses a record's exact text into *out (the indexer's parser, handed in by
// the caller, since storage must not depend on indexer/). `kind` and
// `malformed` are what ingest stored (the framer's and parser's verdicts); the
// parser may refine them but the snapshot restores the stored values after.
using RecordParser =
    std::function<void(std::string_view text, RecordKind kind, std::uint32_t malformed, Record* out)>;

struct IndexOptions {
  // Open read-only (no lock, no writer; `query`, `show`, `stats`, `export`,
  // `verify`). A read-only open of a directory without an index is NotFound.
  bool read_only = false;
  // Used by IndexSnapshot::Parse. May be empty when nobody calls Parse.
  RecordParser parser;
};

// What one stored record carries without reparsing its text.
struct StoredRecord {
  RecordId id = 0;
  RecordKind kind = RecordKind::kOther;
  std::uint32_t malformed = kMalformedNone;
  TimeMs time = 0;
  bool has_time = false;
  std::uint32_t file_id = 0;   // index into Manifest::files (FileInfo::file_id)
  std::uint64_t offset = 0;    // byte offset of the record in its (decompressed) file
  std::uint32_t line = 0;      // 1-based line of its first line in that file
  std::string_view server;     // the record's server ("" when unknown)
  std::string_view text;       // exact bytes; valid only during the callback
};

// The time map: one entry per segment. Segments of one file are in file
// order; segments of different files overlap in time.
struct SegmentInfo {
  RecordId first_id = 0;
  std::uint32_t count = 0;
  std::uint32_t file_id = 0;
  TimeMs min_time = 0;         // over records with has_time; min > max when none has a time
  TimeMs max_time = -1;
  std::uint64_t raw_bytes = 0;
  std::uint64_t stored_bytes = 0;  // compressed payload
};

// One ingest of a file: the whole file, or the bytes appended since.
struct FilePart {
  std::uint64_t start_offset = 0;  // file bytes [start_offset, end_offset)
  std::uint64_t end_offset = 0;
  RecordId first_id = 0;           // records [first_id, end_id)
  RecordId end_id = 0;
  std::int64_t ingested_at_ms = 0; // wall clock of the commit
};

struct KindCounts {
  std::array<std::uint64_t, kRecordKindCount> by_kind{};
  std::array<std::uint64_t, kMalformedBitCount> by_malformed_bit{};
  std::uint64_t malformed_records = 0;  // records with any malformed bit
  std::uint64_t records = 0;
  void Add(const KindCounts& o);
};

struct FileInfo {
  std::uint32_t file_id = 0;
  std::string name;         // identity: the path as given, relative to a folder argument ("night1/fe01.log")
  std::string source_path;  // where it was read from at the last ingest
  std::string server;       // from the file name or the records' [machine]
  std::uint64_t size = 0;   // decompressed bytes ingested so far (sum of parts)
  std::uint64_t prefix_hash = 0;  // XXH3-64 of bytes [0, size)
  std::vector<FilePart> parts;
  KindCounts counts;
  TimeMs min_time = 0;
  TimeMs max_time = -1;
  std::uint64_t stored_bytes = 0;  // compressed segment payloads
};

struct Manifest {
  std::vector<FileInfo> files;           // by file_id (files[i].file_id == i)
  std::vector<std::string> servers;      // distinct, sorted
  RecordId record_count = 0;             // ids [0, record_count) are committed
  KindCounts counts;
  TimeMs min_time = 0;
  TimeMs max_time = -1;
  std::uint64_t raw_bytes = 0;
  std::uint64_t stored_bytes = 0;        // segment payloads only
  // Finds a file by name; nullptr when absent.
  const FileInfo* FindFile(std::string_view name) const;
};

// Sizes of the index's parts on disk (RocksDB's estimates plus files).
struct SpaceUsage {
  std::uint64_t directory_bytes = 0;  // everything under the index directory
  std::uint64_t segment_bytes = 0;    // compressed record payloads
  std::uint64_t facts_bytes = 0;      // of segment_bytes: the payloads' compressed facts sections
  std::uint64_t postings_bytes = 0;   // postings column family (SST sizes)
  std::uint64_t other_bytes = 0;      // manifest, time map, WAL, metadata
  // Per indexed field: (field name, keys, uncompressed bytes of keys and
  // values), largest first. Filled only by Space(true) (reads every posting).
  struct FieldPostings {
    std::string field;
    std::uint64_t keys = 0;
    std::uint64_t bytes = 0;
  };
  std::vector<FieldPostings> postings_by_field;
};

// ---------------------------------------------------------------------------
// Postings values. Every indexed field (schema.h, indexed == true) gets
// postings from its normalised value. Normalisation (also applied to lookup
// values, so callers pass the value as the user typed it):
//   * strings and URIs: ASCII lower-cased, surrounding spaces trimmed, cut to
//     kMaxPostingValueBytes (a longer lookup value is cut the same way);
//   * integers: decimal ("403", "-1" is never stored: absent values get no posting);
//   * bool (malformed): "true" / "false";
//   * from/to (kFrom, kTo) are the same postings as from.uri/to.uri; resource
//     and resource.uri likewise.
//   * high-cardinality random identifiers (call_id, from/to tag and epid,
//     correlation_id, instance_id) are stored as a 32-bit hash of the
//     normalised value: lookups may return a few extra ids and cannot list
//     values (ListValues returns nothing for them).
// Postings are therefore a superset filter: lookups are exact for the common
// case, but the executor re-checks the record's real value (case-sensitive
// user parts, long values, hash collisions).
inline constexpr std::size_t kMaxPostingValueBytes = 200;
// The normalised form a lookup of `value` in `field` uses.
std::string NormalizePostingValue(FieldId field, std::string_view value);
// True when `field` postings are hashed (see above).
bool IsHashedField(FieldId field);
// The field whose postings answer `field` (kFrom -> kFromUri, kTo -> kToUri,
// kResource -> kResourceUri), else `field` itself.
FieldId CanonicalPostingField(FieldId field);

// ---------------------------------------------------------------------------
// Writing.

struct SegmentBuilderOptions {
  // zstd level of the column streams. Default 3.
  int level = 3;
  // Split lines into per-header-name columns before compressing (smaller);
  // false stores the plain text (for comparison). Default true.
  bool columns = true;
};

// One segment's postings, sorted by value key (storage/postings.h). Opaque to
// callers; produced by SegmentBuilder::Finish.
struct SegmentPostings {
  std::string keys;                      // value keys back to back, increasing
  std::vector<std::uint32_t> key_ends;   // key i is keys[key_ends[i - 1], key_ends[i])
  std::vector<std::uint32_t> list_ends;  // its list is ordinals[list_ends[i - 1], list_ends[i])
  std::vector<std::uint32_t> ordinals;   // within the segment, increasing per list
  std::size_t size() const { return key_ends.size(); }
  std::size_t MemoryBytes() const {
    return keys.capacity() + 4 * (key_ends.capacity() + list_ends.capacity() + ordinals.capacity());
  }
};

// The compressed form of one segment plus its postings, ready to be written.
// Opaque to callers; produced by SegmentBuilder::Finish.
struct EncodedSegment {
  std::string payload;           // the segment value (storage/README.md)
  std::uint32_t count = 0;
  std::uint64_t raw_bytes = 0;
  std::uint64_t start_offset = 0;
  TimeMs min_time = 0;       // over all records' times (records without one carry the previous time)
  TimeMs max_time = -1;
  std::string server;        // first non-empty record server (the file's server when none was given)
  TimeMs real_min_time = 0;  // over records with has_time only
  TimeMs real_max_time = -1;
  KindCounts counts;
  SegmentPostings postings;
};

// Collects the records of one segment (consecutive records of one file) and
// encodes them. One thread per builder; builders are independent, so several
// run in parallel. Cheap to construct.
class SegmentBuilder {
 public:
  // `file_name` feeds the `file` postings.
  explicit SegmentBuilder(std::string_view file_name,
                          const SegmentBuilderOptions& options = SegmentBuilderOptions());
  ~SegmentBuilder();
  SegmentBuilder(const SegmentBuilder&) = delete;
  SegmentBuilder& operator=(const SegmentBuilder&) = delete;

  // Adds the next record of the file; `server` is the record's server (the
  // indexer's ServerName). REQUIRES: r.text is the bytes that follow the
  // previous record's text in the file (records are contiguous), r.line and
  // r.offset are set.
  void Add(const Record& r, std::string_view server);
  // Shifts the offsets and lines of the records added next (the framer of an
  // appended part counts from the part's start). Default 0 / 0.
  void Rebase(std::uint64_t offset_delta, std::uint32_t line_delta);
  // Reserves room for `bytes` of record text (the batch's size), so that Add
  // copies each record's text once instead of regrowing its buffer.
  void Reserve(std::uint64_t bytes);
  // Makes an empty builder (new, or after Finish) collect a segment of file
  // `file_name`, keeping the buffers' capacity: a builder reused for many
  // segments writes into memory that is already mapped. Offsets and lines
  // restart at 0 / 0 until Rebase.
  void Restart(std::string_view file_name);
  std::uint32_t count() const;
  std::uint64_t raw_bytes() const;
  // Compresses everything added. The builder is empty afterwards.
  EncodedSegment Finish();

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// What the index knows of a file before ingesting it again.
struct FileState {
  bool known = false;            // ingested before (then the fields below are set)
  std::uint64_t size = 0;        // bytes ingested so far
  std::uint64_t prefix_hash = 0; // XXH3-64 of those bytes
};

struct FileHeader {
  std::string name;         // identity (see FileInfo::name)
  std::string source_path;
  std::string server;
  std::uint64_t start_offset = 0;  // == FileState::size of a known file, else 0
};

// How a writer groups its commits.
struct WriterOptions {
  // CommitFile makes a file visible at once when at least this many raw bytes
  // were completed since the last commit; otherwise the commit waits for a
  // later CommitFile, Flush or the writer's destruction (several files then
  // appear together, each whole). Bigger groups make fewer, longer posting
  // lists. Default 0: every CommitFile commits.
  std::uint64_t commit_bytes = 0;
  // Postings are gathered in memory over a run of about this many raw bytes
  // (or up to the commit) before they are written as one sorted table.
  // Bounds the writer's memory. Default 1 GiB.
  std::uint64_t run_bytes = 1ull << 30;
};

// Single writer. Obtained from Index::NewWriter, which takes the index's lock
// (a second writer, in this or another process, gets Busy).
class IndexWriter {
 public:
  virtual ~IndexWriter() = default;

  virtual Result<FileState> GetFileState(std::string_view name) = 0;

  // Starts a file part. REQUIRES: no file is open. For a known file,
  // header.start_offset must equal its ingested size (the caller checked the
  // prefix hash: a changed prefix must be refused before this call).
  virtual Status BeginFile(const FileHeader& header) = 0;
  // Writes the next segment of the open file (in file order). Its records
  // stay invisible until CommitFile. May fail with IoError.
  virtual Status AppendSegment(EncodedSegment segment) = 0;
  // Ends the part: `total_size` and `hash` are the file's new ingested size and
  // XXH3-64 of bytes [0, total_size). A part with no records (nothing new)
  // still records the new size. The part's records become visible all at
  // once, now or with the group (WriterOptions::commit_bytes).
  virtual Status CommitFile(std::uint64_t total_size, std::uint64_t hash) = 0;
  // Drops the open part and every part not committed yet (a writer error).
  virtual Status AbortFile() = 0;
  // Commits every ended part, then moves the write-ahead log into tables so
  // reopening is fast and the directory size is final. Call at the end of an
  // ingest. REQUIRES: no file is open.
  virtual Status Flush() = 0;
};

// ---------------------------------------------------------------------------
// Reading.

class IndexSnapshot {
 public:
  virtual ~IndexSnapshot() = default;

  virtual const Manifest& manifest() const = 0;
  // All segments of committed files, ordered by first_id.
  virtual const std::vector<SegmentInfo>& time_map() const = 0;

  // Sorted, distinct record ids whose `field` has `value` (normalised as
  // above; a superset, see the postings notes). NotFound never: no match is an
  // empty vector. InvalidArgument when the field is not indexed.
  virtual Result<std::vector<RecordId>> Lookup(FieldId field, std::string_view value) const = 0;
  // Calls fn(normalised value, record count) for each distinct stored value of
  // a non-hashed indexed field (for globs, regexes and ranges over values).
  virtual Status ListValues(FieldId field,
                            const std::function<void(std::string_view value, std::uint64_t count)>& fn) const = 0;

  // Calls fn for each of `ids` (sorted ascending), in id order. Each segment
  // is decoded once. An id that is not committed is NotFound.
  virtual Status ReadRecords(std::span<const RecordId> ids,
                             const std::function<void(const StoredRecord&)>& fn) const = 0;
  // Like ReadRecords, but reads only the segments' record tables, not their
  // text: r.text is empty and r.offset and r.line are 0; id, kind, malformed,
  // time, has_time, file_id and server are as ReadRecords gives them. For
  // answers from postings that need record times only (a count by day).
  // Does not check the segment checksum, which covers the text (Verify does).
  // The default implementation calls ReadRecords.
  virtual Status ReadRecordTables(std::span<const RecordId> ids,
                                  const std::function<void(const StoredRecord&)>& fn) const;
  // Every record of one segment, in id order (SegmentInfo::first_id).
  virtual Status ReadSegment(RecordId first_id, const std::function<void(const StoredRecord&)>& fn) const = 0;
  // The records of one segment whose text holds at least one of `literals`
  // (an empty literal is in every record; each record is searched on its
  // own), in id order, as ReadSegment gives them. `want`, when set, is asked
  // first about each record with its table columns only (text empty, offset
  // and line 0): records it refuses are never searched or given to fn. The
  // snapshot searches whole decoded chunks at once, so records without a hit
  // are never made into StoredRecords, and chunks without a wanted record
  // are not decompressed (storage/segment.h, SegmentDecoder::Search). The
  // default implementation calls ReadSegment and memmem.
  virtual Status SearchSegment(RecordId first_id, std::span<const std::string> literals,
                               const std::function<bool(const StoredRecord&)>& want,
                               const std::function<void(const StoredRecord&)>& fn) const;

  // The facts of records (storage/facts.h): calls fn(stored, facts) for each
  // of `ids` (sorted ascending), in id order. `stored` is as ReadRecordTables
  // gives it (no text, offset or line); `facts` holds every field that
  // IsFactField names exactly as Parse gives it, plus kind, malformed, time
  // and has_time. Views live until fn returns. The default implementation
  // reads and parses the whole records (a superset of the facts).
  virtual Status ReadFacts(std::span<const RecordId> ids,
                           const std::function<void(const StoredRecord&, const Record&)>& fn) const;
  // The facts of every record of one segment, in id order (like ReadSegment).
  virtual Status ReadSegmentFacts(RecordId first_id,
                                  const std::function<void(const StoredRecord&, const Record&)>& fn) const;
  // Every committed record in id order (file by file). Stops early when fn returns false.
  virtual Status ScanAll(const std::function<bool(const StoredRecord&)>& fn) const = 0;
  // Records with time in [from, to] in time order across files and servers
  // (ties by id); records without a time sort with the time the parser gave
  // them. Memory: the segments overlapping the current instant. Stops early
  // when fn returns false.
  virtual Status ScanTimeOrder(TimeMs from, TimeMs to, const std::function<bool(const StoredRecord&)>& fn) const = 0;

  // Parses a stored record with IndexOptions::parser and restores the stored
  // kind, malformed bits, offset and line. *out's views point into r.text and
  // out->scratch. REQUIRES: a parser was given.
  virtual Status Parse(const StoredRecord& r, Record* out) const = 0;

  // The exact bytes of file `file_id` (all parts, in order) to fn in pieces.
  virtual Status ExportFile(std::uint32_t file_id, const std::function<Status(std::string_view bytes)>& fn) const = 0;

  // Checks every segment (checksum, decoding, counts, contiguity with the
  // manifest) and every posting (points at a committed record). Appends a
  // line per problem to *problems; ok when it ran (even with problems).
  virtual Status Verify(std::vector<std::string>* problems) const = 0;

  // Sizes on disk; with `by_field`, also the postings per field (reads them all).
  virtual Result<SpaceUsage> Space(bool by_field) const = 0;
  Result<SpaceUsage> Space() const { return Space(false); }
};

// The index directory used when --index is not given: $SIPDEX_INDEX when set
// and not empty, else "./sipdex-index".
std::string DefaultIndexDir();

class Index {
 public:
  // Opens (or, unless read_only, creates) the index in `dir`. Corruption when
  // the format version is not kFormatVersion; NotFound for a read-only open of
  // a missing index; Busy when a writer open meets another writer.
  static Result<std::unique_ptr<Index>> Open(const std::string& dir, const IndexOptions& options);
  virtual ~Index() = default;

  // A consistent view of everything committed now.
  virtual Result<std::unique_ptr<IndexSnapshot>> Snapshot() const = 0;
  // The single writer. InvalidArgument on a read-only index; Busy when one is
  // already open in this process. Deletes leftovers of an interrupted ingest.
  virtual Result<std::unique_ptr<IndexWriter>> NewWriter(const WriterOptions& options) = 0;
  Result<std::unique_ptr<IndexWriter>> NewWriter() { return NewWriter(WriterOptions()); }
  // Where the index lives.
  virtual const std::string& dir() const = 0;
};

}  // namespace sipdex::storage
