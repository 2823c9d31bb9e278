// Runs the built `sipdex inspect` on the fixtures and checks what it prints.

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Run {
  std::string out;
  int status = -1;
};

Run Inspect(const std::string& args) {
  std::string cmd = std::string(SIPDEX_BINARY_DIR) + "/cli/sipdex inspect " + args + " 2>/dev/null";
  Run run;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[65536];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) run.out.append(buf, n);
  int rc = pclose(p);
  run.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return run;
}

std::string Fixtures() { return std::string(SIPDEX_SOURCE_DIR) + "/corpus/fixtures"; }

}  // namespace

TEST_CASE("inspect --format summary-json counts the fixtures exactly", "[indexer][inspect]") {
  Run run = Inspect(Fixtures() + " --format summary-json");
  REQUIRE(run.status == 0);
  nlohmann::json j = nlohmann::json::parse(run.out);
  REQUIRE(j["files"] == 26);
  REQUIRE(j["records"] == 52);
  REQUIRE(j["records_by_kind"] ==
          nlohmann::json::parse(R"({"protocol":43,"diagnostic":1,"other":3,"foreign":2,"junk":3})"));
  REQUIRE(j["requests_by_method"] ==
          nlohmann::json::parse(R"({"INVITE":1,"MESSAGE":2,"NOTIFY":5,"OPTIONS":15,"SUBSCRIBE":7})"));
  REQUIRE(j["responses_by_status"] == nlohmann::json::parse(R"({"200":5,"403":2,"480":1,"504":1,"none":4})"));
  REQUIRE(j["responses_by_cseq_method"] == nlohmann::json::parse(R"({"INVITE":2,"NOTIFY":3,"SUBSCRIBE":8})"));
  REQUIRE(j["responses_by_cseq_method_and_status"]["SUBSCRIBE"] ==
          nlohmann::json::parse(R"({"200":2,"403":2,"none":4})"));
  REQUIRE(j["diag_messages_by_code"] == nlohmann::json::parse(
                                            R"({"1003":1,"1005":1,"1008":1,"1034":1,"2157":3,"4005":1,"52001":1,"none":1})"));
  REQUIRE(j["resources_by_state_status_diag"] ==
          nlohmann::json::parse(R"({"active/-/-":11774,"pending/-/-":1,"terminated/403/2157":4})"));
  REQUIRE(j["malformed_records"] == 15);
  REQUIRE(j["malformed_by_reason"]["empty-file"] == 1);
  REQUIRE(j["malformed_by_reason"]["junk"] == 3);
  // Malformed records are listed in file order with their line.
  bool found = false;
  for (const auto& m : j["malformed"]) {
    if (m["file"].get<std::string>().find("bad_header_line.log") != std::string::npos) {
      REQUIRE(m["line"] == 8);
      REQUIRE(m["reasons"] == nlohmann::json::parse(R"(["header-line"])"));
      found = true;
    }
  }
  REQUIRE(found);
  REQUIRE(j["bytes"] == 1073355);
}

TEST_CASE("inspect --format jsonl prints one object per record and is the same with several threads",
          "[indexer][inspect]") {
  Run one = Inspect(Fixtures() + " --format jsonl --threads 1");
  Run three = Inspect(Fixtures() + " --format jsonl --threads 3");
  REQUIRE(one.status == 0);
  REQUIRE(one.out == three.out);
  std::size_t lines = 0;
  std::size_t pos = 0;
  while ((pos = one.out.find('\n', pos)) != std::string::npos) ++lines, ++pos;
  REQUIRE(lines == 52);
  nlohmann::json first = nlohmann::json::parse(one.out.substr(0, one.out.find('\n')));
  REQUIRE(first["kind"] == "protocol");
  REQUIRE(first["line"] == 1);
  REQUIRE(first["file"].get<std::string>().find("bad_binary_junk.log") != std::string::npos);
}

TEST_CASE("inspect on a missing file exits 1 with the file named", "[indexer][inspect]") {
  std::string cmd = std::string(SIPDEX_BINARY_DIR) + "/cli/sipdex inspect /nonexistent/x.log 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  REQUIRE(WEXITSTATUS(rc) == 1);
  REQUIRE(out == "error: /nonexistent/x.log: no such file or directory\n");
}

TEST_CASE("inspect counts the same with one and three threads over several batches", "[indexer][inspect]") {
  std::string seed;
  {
    FILE* f = fopen((Fixtures() + "/seed_records.log").c_str(), "rb");
    REQUIRE(f != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) seed.append(buf, n);
    fclose(f);
  }
  std::string path = std::string(SIPDEX_BINARY_DIR) + "/inspect_test_many_batches.log";
  FILE* out = fopen(path.c_str(), "wb");
  REQUIRE(out != nullptr);
  for (int i = 0; i < 8000; ++i) fwrite(seed.data(), 1, seed.size(), out);  // 11.6 MB: three 4 MB batches
  fclose(out);
  nlohmann::json one = nlohmann::json::parse(Inspect(path + " --format summary-json --threads 1").out);
  nlohmann::json three = nlohmann::json::parse(Inspect(path + " --format summary-json --threads 3").out);
  std::remove(path.c_str());
  one.erase("seconds");
  three.erase("seconds");
  REQUIRE(one == three);
  REQUIRE(one["records"] == 16000);
  REQUIRE(one["bytes"] == 8000 * seed.size());
  REQUIRE(one["resources_by_state_status_diag"]["terminated/403/2157"] == 8000);
  REQUIRE(one["malformed_records"] == 0);
}
