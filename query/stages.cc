#include "query/stages.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace sipdex::query {
namespace {

// Approximate heap bytes of a row.
std::size_t RowBytes(const Row& r) {
  std::size_t n = sizeof(Row) + r.raw.size() + r.cells.size() * sizeof(OutCell);
  for (const OutCell& c : r.cells) n += c.text.size();
  return n;
}

// A collision-free key of some cells of a row.
std::string KeyOf(const Row& r, const std::vector<int>& indexes) {
  std::string key;
  for (int i : indexes) {
    const OutCell& c = r.cells.at(static_cast<std::size_t>(i));
    key += static_cast<char>(c.kind);
    if (c.kind == OutCell::Kind::kNumber) {
      key.append(reinterpret_cast<const char*>(&c.number), sizeof(c.number));
    } else if (c.kind == OutCell::Kind::kText) {
      std::uint32_t n = static_cast<std::uint32_t>(c.text.size());
      key.append(reinterpret_cast<const char*>(&n), sizeof(n));
      key += c.text;
    }
  }
  return key;
}

Status TooBig(std::string_view stage, std::size_t limit) {
  return Status::ResourceExhausted(std::string(stage) + ": more distinct values than fit in " +
                                   std::to_string(limit >> 20) + " MiB; narrow the query or group by fewer fields");
}

class LimitStage : public RowSink {
 public:
  LimitStage(std::int64_t n, RowSink* next) : left_(n), next_(next) {}
  Status Push(Row&& row) override {
    if (left_ <= 0) return Status::Ok();
    --left_;
    return next_->Push(std::move(row));
  }
  bool Done() const override { return left_ <= 0 || next_->Done(); }
  Status Finish() override { return next_->Finish(); }

 private:
  std::int64_t left_;
  RowSink* next_;
};

class FieldsStage : public RowSink {
 public:
  FieldsStage(std::vector<int> indexes, RowSink* next) : indexes_(std::move(indexes)), next_(next) {}
  Status Push(Row&& row) override {
    Row out;
    for (int i : indexes_) out.cells.push_back(std::move(row.cells.at(static_cast<std::size_t>(i))));
    return next_->Push(std::move(out));
  }
  bool Done() const override { return next_->Done(); }
  Status Finish() override { return next_->Finish(); }

 private:
  std::vector<int> indexes_;
  RowSink* next_;
};

class DistinctStage : public RowSink {
 public:
  DistinctStage(std::vector<int> indexes, std::size_t limit, RowSink* next)
      : indexes_(std::move(indexes)), limit_(limit), next_(next) {}
  Status Push(Row&& row) override {
    std::string key = KeyOf(row, indexes_);
    if (seen_.count(key) > 0) return Status::Ok();
    bytes_ += key.size() + 48;
    if (bytes_ > limit_) return TooBig("distinct", limit_);
    seen_.insert(std::move(key));
    Row out;
    for (int i : indexes_) out.cells.push_back(std::move(row.cells.at(static_cast<std::size_t>(i))));
    return next_->Push(std::move(out));
  }
  bool Done() const override { return next_->Done(); }
  Status Finish() override { return next_->Finish(); }

 private:
  std::vector<int> indexes_;
  std::size_t limit_;
  RowSink* next_;
  std::unordered_set<std::string> seen_;
  std::size_t bytes_ = 0;
};

class CountStage : public RowSink {
 public:
  CountStage(std::vector<int> keys, int distinct, std::int64_t top_n, std::size_t limit, RowSink* next)
      : keys_(std::move(keys)), distinct_(distinct), top_n_(top_n), limit_(limit), next_(next) {}

  Status Push(Row&& row) override { return Add(std::move(row), 1); }
  Status PushMany(Row&& row, std::uint64_t n) override {
    if (distinct_ >= 0) return RowSink::PushMany(std::move(row), n);
    return n == 0 ? Status::Ok() : Add(std::move(row), static_cast<std::int64_t>(n));
  }

 private:
  // Counts `n` rows equal to `row` (n is 1 when counting distinct values).
  Status Add(Row&& row, std::int64_t n) {
    if (top_n_ > 0 && row.cells.at(static_cast<std::size_t>(keys_.at(0))).kind == OutCell::Kind::kNull) {
      return Status::Ok();  // top ranks values; rows without one do not compete
    }
    std::string key = KeyOf(row, keys_);
    auto it = groups_.find(key);
    if (it == groups_.end()) {
      Group g;
      for (int i : keys_) g.keys.push_back(row.cells.at(static_cast<std::size_t>(i)));
      bytes_ += 2 * key.size() + 96;
      it = groups_.emplace(std::move(key), std::move(g)).first;
    }
    Group& g = it->second;
    if (distinct_ >= 0) {
      const OutCell& c = row.cells.at(static_cast<std::size_t>(distinct_));
      if (c.kind != OutCell::Kind::kNull) {
        std::string v = KeyOf(row, {distinct_});
        if (g.values.count(v) == 0) {
          bytes_ += v.size() + 48;
          g.values.insert(std::move(v));
          ++g.count;
        }
      }
    } else {
      g.count += n;
    }
    if (bytes_ > limit_) return TooBig(top_n_ > 0 ? "top" : "count", limit_);
    return Status::Ok();
  }

 public:
  Status Finish() override {
    std::vector<Group*> order;
    order.reserve(groups_.size());
    for (auto& [k, g] : groups_) order.push_back(&g);
    auto by_keys = [](const Group* a, const Group* b) {
      for (std::size_t i = 0; i < a->keys.size(); ++i) {
        int c = CompareCells(a->keys[i], b->keys[i]);
        if (c != 0) return c < 0;
      }
      return false;
    };
    if (top_n_ > 0) {
      std::sort(order.begin(), order.end(), [&](const Group* a, const Group* b) {
        if (a->count != b->count) return a->count > b->count;
        return by_keys(a, b);
      });
      if (order.size() > static_cast<std::size_t>(top_n_)) order.resize(static_cast<std::size_t>(top_n_));
    } else {
      std::sort(order.begin(), order.end(), by_keys);
    }
    if (keys_.empty() && order.empty()) {
      Row r;
      r.cells.push_back(OutCell::Number(0));
      SIPDEX_RETURN_IF_ERROR(next_->Push(std::move(r)));
    }
    for (Group* g : order) {
      if (next_->Done()) break;
      Row r;
      r.cells = std::move(g->keys);
      r.cells.push_back(OutCell::Number(g->count));
      SIPDEX_RETURN_IF_ERROR(next_->Push(std::move(r)));
    }
    return next_->Finish();
  }

 private:
  struct Group {
    std::vector<OutCell> keys;
    std::int64_t count = 0;
    std::unordered_set<std::string> values;
  };
  std::vector<int> keys_;
  int distinct_;
  std::int64_t top_n_;
  std::size_t limit_;
  RowSink* next_;
  std::unordered_map<std::string, Group> groups_;
  std::size_t bytes_ = 0;
};

// ---- sort with spill ---------------------------------------------------------

void PutU64(std::string* s, std::uint64_t v) {
  s->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

void PutBytes(std::string* s, std::string_view b) {
  PutU64(s, b.size());
  s->append(b);
}

std::string Serialize(const Row& r, std::uint64_t seq) {
  std::string s;
  PutU64(&s, seq);
  PutU64(&s, r.cells.size());
  for (const OutCell& c : r.cells) {
    s += static_cast<char>(c.kind);
    PutU64(&s, static_cast<std::uint64_t>(c.number));
    PutBytes(&s, c.text);
  }
  PutBytes(&s, r.raw);
  return s;
}

bool ReadU64(std::FILE* f, std::uint64_t* v) {
  return std::fread(v, sizeof(*v), 1, f) == 1;
}

bool ReadBytes(std::FILE* f, std::string* out) {
  std::uint64_t n = 0;
  if (!ReadU64(f, &n) || n > (1ull << 32)) return false;
  out->resize(n);
  return n == 0 || std::fread(out->data(), 1, n, f) == n;
}

// Reads one serialized row; false at the end of the run.
bool Deserialize(std::FILE* f, Row* r, std::uint64_t* seq) {
  std::uint64_t n = 0;
  if (!ReadU64(f, seq) || !ReadU64(f, &n) || n > (1u << 20)) return false;
  r->cells.assign(n, OutCell());
  for (OutCell& c : r->cells) {
    int kind = std::fgetc(f);
    std::uint64_t num = 0;
    if (kind == EOF || !ReadU64(f, &num) || !ReadBytes(f, &c.text)) return false;
    c.kind = static_cast<OutCell::Kind>(kind);
    c.number = static_cast<std::int64_t>(num);
  }
  return ReadBytes(f, &r->raw);
}

class SortStage : public RowSink {
 public:
  SortStage(int index, bool descending, std::size_t limit, RowSink* next)
      : index_(static_cast<std::size_t>(index)), descending_(descending), limit_(limit), next_(next) {}
  ~SortStage() override {
    for (std::FILE* f : runs_) std::fclose(f);
  }

  Status Push(Row&& row) override {
    bytes_ += RowBytes(row);
    buffer_.push_back(Item{std::move(row), seq_++});
    if (bytes_ > limit_) return Spill();
    return Status::Ok();
  }

  Status Finish() override {
    SortBuffer();
    if (runs_.empty()) {
      for (Item& it : buffer_) {
        if (next_->Done()) break;
        SIPDEX_RETURN_IF_ERROR(next_->Push(std::move(it.row)));
      }
      buffer_.clear();
      return next_->Finish();
    }
    SIPDEX_RETURN_IF_ERROR(Spill());
    return Merge();
  }

 private:
  struct Item {
    Row row;
    std::uint64_t seq;
  };

  // True when a sorts before b (stable through seq).
  bool Before(const Item& a, const Item& b) const {
    int c = CompareCells(a.row.cells.at(index_), b.row.cells.at(index_));
    if (c != 0) return descending_ ? c > 0 : c < 0;
    return a.seq < b.seq;
  }

  void SortBuffer() {
    std::sort(buffer_.begin(), buffer_.end(), [this](const Item& a, const Item& b) { return Before(a, b); });
  }

  Status Spill() {
    SortBuffer();
    std::FILE* f = std::tmpfile();
    if (f == nullptr) {
      return Status::ResourceExhausted("sort: more rows than fit in " + std::to_string(limit_ >> 20) +
                                       " MiB and no temporary file could be created to spill to");
    }
    runs_.push_back(f);
    for (const Item& it : buffer_) {
      std::string s = Serialize(it.row, it.seq);
      if (std::fwrite(s.data(), 1, s.size(), f) != s.size()) return Status::IoError("sort: cannot write a spill file");
    }
    if (std::fflush(f) != 0) return Status::IoError("sort: cannot write a spill file");
    std::rewind(f);
    buffer_.clear();
    bytes_ = 0;
    return Status::Ok();
  }

  Status Merge() {
    struct Head {
      Item item;
      std::size_t run;
    };
    auto later = [this](const Head& a, const Head& b) { return Before(b.item, a.item); };
    std::priority_queue<Head, std::vector<Head>, decltype(later)> heap(later);
    for (std::size_t i = 0; i < runs_.size(); ++i) {
      Head h{Item{}, i};
      if (Deserialize(runs_[i], &h.item.row, &h.item.seq)) heap.push(std::move(h));
    }
    while (!heap.empty() && !next_->Done()) {
      Head h = heap.top();
      heap.pop();
      std::size_t run = h.run;
      SIPDEX_RETURN_IF_ERROR(next_->Push(std::move(h.item.row)));
      Head n{Item{}, run};
      if (Deserialize(runs_[run], &n.item.row, &n.item.seq)) heap.push(std::move(n));
    }
    return next_->Finish();
  }

  std::size_t index_;
  bool descending_;
  std::size_t limit_;
  RowSink* next_;
  std::vector<Item> buffer_;
  std::size_t bytes_ = 0;
  std::uint64_t seq_ = 0;
  std::vector<std::FILE*> runs_;
};

}  // namespace

std::unique_ptr<RowSink> NewLimitStage(std::int64_t n, RowSink* next) {
  return std::make_unique<LimitStage>(n, next);
}
std::unique_ptr<RowSink> NewFieldsStage(std::vector<int> indexes, RowSink* next) {
  return std::make_unique<FieldsStage>(std::move(indexes), next);
}
std::unique_ptr<RowSink> NewDistinctStage(std::vector<int> indexes, std::size_t memory_limit, RowSink* next) {
  return std::make_unique<DistinctStage>(std::move(indexes), memory_limit, next);
}
std::unique_ptr<RowSink> NewCountStage(std::vector<int> keys, int distinct, std::int64_t top_n,
                                       std::size_t memory_limit, RowSink* next) {
  return std::make_unique<CountStage>(std::move(keys), distinct, top_n, memory_limit, next);
}
std::unique_ptr<RowSink> NewSortStage(int index, bool descending, std::size_t memory_limit, RowSink* next) {
  return std::make_unique<SortStage>(index, descending, memory_limit, next);
}

}  // namespace sipdex::query
