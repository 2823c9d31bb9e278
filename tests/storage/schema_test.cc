#include "storage/schema.h"

#include <catch2/catch.hpp>

#include "storage/record.h"

using namespace sipdex;

TEST_CASE("Every field of the query language spec is in the catalogue", "[storage][schema]") {
  for (const char* name : {"time", "server", "file", "line", "level", "flag", "component", "correlation_id",
                           "instance_id", "direction", "peer", "type", "method", "ruri", "status", "reason", "from",
                           "from.uri", "from.user", "from.host", "from.name", "from.tag", "from.epid", "to", "to.uri",
                           "call_id", "cseq", "cseq.method", "event", "expires", "content_type", "user_agent",
                           "server_hdr", "record_route", "diag", "diag.reason", "diag.source", "body", "text",
                           "resource", "resource.uri", "resource.state", "resource.reason", "resource.status",
                           "resource.diag", "severity", "result_code", "result_text", "malformed"}) {
    INFO(name);
    REQUIRE(FindField(name) != nullptr);
  }
}

TEST_CASE("Field lookup ignores case and rejects unknown names", "[storage][schema]") {
  REQUIRE(FindField("Call_ID")->id == FieldId::kCallId);
  REQUIRE(FindField("DIAG")->type == FieldType::kInteger);
  REQUIRE(FindField("resource.diag")->per_resource);
  REQUIRE(FindField("dig") == nullptr);
}

TEST_CASE("Malformed reasons print as a comma separated list", "[storage][record]") {
  REQUIRE(MalformedReasons(kMalformedTruncated | kMalformedBinary) == "truncated,binary");
  REQUIRE(MalformedReasons(0).empty());
  REQUIRE(EqualsIgnoreCase("CSeq", "CSEQ"));
  REQUIRE_FALSE(EqualsIgnoreCase("CSeq", "CSeP"));
  REQUIRE_FALSE(EqualsIgnoreCase("a[", "A{"));
}
