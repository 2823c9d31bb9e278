#pragma once
// The ingest pipeline: files and folders -> readers -> framer -> parser ->
// storage segments, in parallel and with bounded memory.
//
// Per logical file (indexer/reader.h), in order:
//   * a file the index has not seen is ingested whole;
//   * a known file is read from the start and its first `ingested size` bytes
//     are hashed: equal to the stored hash and no more bytes -> unchanged
//     (nothing added); equal and more bytes (a CLS append) -> only the new
//     bytes are ingested, as a new part; different, or the file is now
//     shorter -> refused with a message saying so, nothing added.
//   * the calling thread reads and frames the bytes into batches of about
//     IngestOptions::segment_bytes; worker threads parse each batch and encode
//     it as one storage segment; a writer thread appends segments in order
//     and commits files at their ends, in groups (each file's records appear
//     all at once, never part of them). Files overlap in the pipeline.
// Memory: about (2 * threads + 2) batches in flight plus the postings of one
// run (IngestOptions::commit_bytes), whatever the corpus size.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/index.h"
#include "storage/record.h"

namespace sipdex {

struct IngestOptions {
  // Worker threads for parsing and compression; 0 = all cores.
  int threads = 0;
  // Raw bytes per segment (one framer batch). Default 8 MB.
  std::size_t segment_bytes = 8u << 20;
  // A progress line on stderr (the caller enables it only on a terminal).
  bool progress = false;
  // Files are committed in groups of about this many new bytes (each file
  // whole, never part of one); also the postings run size, which bounds the
  // writer's memory. Default 512 MiB (1 GiB held ~700 MB of postings and
  // buffers at peak on 1 GB).
  std::uint64_t commit_bytes = 512ull << 20;
  storage::SegmentBuilderOptions segment;
};

// Where a malformed record is, for the summary.
struct MalformedExample {
  std::string file;
  std::uint32_t line = 0;
};

struct IngestSummary {
  std::uint64_t files_new = 0;        // ingested whole
  std::uint64_t files_appended = 0;   // grew since the last ingest: new bytes ingested
  std::uint64_t files_unchanged = 0;  // nothing new
  std::uint64_t files_refused = 0;    // earlier part changed
  std::uint64_t files_failed = 0;     // unreadable or cut short (what could be read was kept)
  std::uint64_t empty_files = 0;
  storage::KindCounts counts;         // records added
  // Up to three examples per malformed reason (MalformedBit index).
  std::array<std::vector<MalformedExample>, kMalformedBitCount> examples;
  std::uint64_t bytes_in = 0;         // new (decompressed) bytes ingested
  std::uint64_t bytes_read = 0;       // all bytes read, including re-hashed prefixes
  std::uint64_t bytes_stored = 0;     // compressed segment payloads written
  double seconds = 0;
  std::vector<std::string> problems;  // "name: message", one per refused or failed file
  std::vector<std::string> warnings;  // from expanding the inputs
};

// Ingests `paths` (files and folders) into `index`. Returns the summary when
// the run went through (refused or failed files are listed in it); an error
// Status only when nothing could be done (no such path: NotFound or
// InvalidArgument; the index is busy: Busy; a write failed: IoError).
// REQUIRES: index was opened writable.
Result<IngestSummary> Ingest(storage::Index* index, const std::vector<std::string>& paths,
                             const IngestOptions& options);

// A storage::RecordParser backed by ParseRecord (for IndexOptions::parser).
storage::RecordParser MakeRecordParser();

// The summary for people: files, records by kind, malformed by reason with
// examples as file:line, bytes in and stored, ratio, time and speed.
std::string FormatIngestSummary(const IngestSummary& s);

}  // namespace sipdex
