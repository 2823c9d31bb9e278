// End to end: the `sipdex query` command (exit codes, stdout, stderr) on an
// index of fixture files built with `sipdex ingest`.

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// One directory per process: ctest -j runs test cases of this binary in parallel.
std::string Root() {
  return std::string(SIPDEX_BINARY_DIR) + "/test-tmp/query-cli-" + std::to_string(::getpid());
}

// Runs `sipdex ARGS` (ARGS already shell-quoted).
Run Sipdex(const std::string& args) {
  std::string cmd =
      std::string(SIPDEX_BINARY_DIR) + "/cli/sipdex " + args + " > " + Root() + "/out.txt 2> " + Root() + "/err.txt";
  int rc = std::system(cmd.c_str());
  Run r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = Slurp(Root() + "/out.txt");
  r.err = Slurp(Root() + "/err.txt");
  return r;
}

// Removes this process's directory at exit.
struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    std::filesystem::remove_all(Root(), ec);
  }
};

const std::string& Index() {
  static Cleanup cleanup;
  static const std::string index = [] {
    namespace fs = std::filesystem;
    fs::remove_all(Root());
    fs::create_directories(Root());
    std::string files;
    for (const char* f : {"seed_records.log", "batch_subscribe.log", "multipart_rlmi.log", "tail_marker_glued.log"}) {
      files += " " + std::string(SIPDEX_SOURCE_DIR) + "/corpus/fixtures/" + f;
    }
    std::string idx = Root() + "/index";
    Run r = Sipdex("ingest --index " + idx + files);
    REQUIRE(r.exit_code == 0);
    return idx;
  }();
  return index;
}

}  // namespace

TEST_CASE("sipdex query prints rows and exits 0", "[end_to_end][query][cli]") {
  Run r = Sipdex("query --index " + Index() + " 'resource.diag = 2157 | count distinct resource.uri' --format csv");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "count\r\n3\r\n");
  CHECK(r.err.empty());
}

TEST_CASE("sipdex query shows a syntax error with a caret and exits 2", "[end_to_end][query][cli]") {
  Run r = Sipdex("query --index " + Index() + " 'status = 403 adn diag = 2157'");
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "error: expected 'and', 'or', '|' or end of query\n"
        "  status = 403 adn diag = 2157\n"
        "               ^\n");
}

TEST_CASE("sipdex query suggests a field and names types, exit 2", "[end_to_end][query][cli]") {
  Run a = Sipdex("query --index " + Index() + " 'dig = 2157'");
  CHECK(a.exit_code == 2);
  CHECK(a.err == "error: unknown field 'dig', did you mean 'diag'?\n  dig = 2157\n  ^\n");
  Run b = Sipdex("query --index " + Index() + " 'status = forbidden'");
  CHECK(b.exit_code == 2);
  CHECK(b.err == "error: status takes a number, got \"forbidden\"\n  status = forbidden\n           ^\n");
  Run c = Sipdex("query --index " + Index() + " 'kind exists' --format xml");
  CHECK(c.exit_code == 2);
  CHECK(c.err == "error: --format takes table, jsonl, csv, raw or flow, got \"xml\"\n");
}

TEST_CASE("sipdex query that matches nothing exits 0 and says so on stderr", "[end_to_end][query][cli]") {
  Run r = Sipdex("query --index " + Index() + " 'status = 999'");
  CHECK(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(r.err == "no records matched\n");
}

TEST_CASE("sipdex query --format raw gives back the record bytes", "[end_to_end][query][cli]") {
  Run r = Sipdex("query --index " + Index() + " 'call_id = 55e99a32b7f940efa49ca37e876645d6' --format raw");
  CHECK(r.exit_code == 0);
  CHECK(r.out == Slurp(std::string(SIPDEX_SOURCE_DIR) + "/corpus/fixtures/seed_records.log"));
}

TEST_CASE("sipdex show names each diagnostic's header, and shows a diagnostic repeated in -public once",
          "[end_to_end][show][cli]") {
  namespace fs = std::filesystem;
  std::string dir = Root() + "/show";
  fs::remove_all(dir);
  fs::create_directories(dir + "/in");
  std::string distinct = Slurp(std::string(SIPDEX_SOURCE_DIR) + "/corpus/fixtures/repeated_headers.log");
  // The same record, with ms-diagnostics-public repeating ms-diagnostics (as Office 365's 2157 refusals do).
  std::string same = distinct;
  const std::string public_line = "ms-diagnostics-public: 1034;";
  std::size_t at = same.find(public_line);
  REQUIRE(at != std::string::npos);
  std::size_t end = same.find('\n', at);
  same.replace(at, end - at,
               "ms-diagnostics-public: 1008;reason=\"Unable to resolve DNS SRV record\";source=\"edge01.contoso.com\"");
  std::size_t call = same.find("Call-ID: repeated-1");
  REQUIRE(call != std::string::npos);
  same.replace(call, 19, "Call-ID: repeated-2");
  std::ofstream(dir + "/in/distinct.log", std::ios::binary) << distinct;
  std::ofstream(dir + "/in/same.log", std::ios::binary) << same;
  REQUIRE(Sipdex("ingest --index " + dir + "/idx " + dir + "/in").exit_code == 0);

  Run a = Sipdex("show --index " + dir + "/idx repeated-1");
  CHECK(a.exit_code == 0);
  CHECK(a.out.find("ms-diagnostics: 1008 Unable to resolve DNS SRV record") != std::string::npos);
  CHECK(a.out.find("ms-diagnostics-public: 1034 Previous hop") != std::string::npos);
  CHECK(a.out.find("ms-client-diagnostics: 52001") != std::string::npos);

  Run b = Sipdex("show --index " + dir + "/idx repeated-2");
  CHECK(b.exit_code == 0);
  std::size_t first = b.out.find("1008 Unable to resolve DNS SRV record");
  REQUIRE(first != std::string::npos);
  CHECK(b.out.find("1008 Unable to resolve DNS SRV record", first + 1) == std::string::npos);
  CHECK(b.out.find("ms-diagnostics-public") == std::string::npos);
}
