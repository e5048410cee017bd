// SPDX-License-Identifier: Apache-2.0

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::model {
namespace {

otlp::ExportTraceServiceRequest Parse(const std::string& bytes) {
  otlp::ExportTraceServiceRequest request;
  EXPECT_TRUE(request.ParseFromString(bytes));
  return request;
}

// Every id of a request, in order: its trace ids (of spans and links) or its span ids
// (own, parent, links).
enum class IdKind { kTrace, kSpan };
std::vector<std::string> Ids(const otlp::ExportTraceServiceRequest& request,
                             IdKind kind) {
  std::vector<std::string> ids;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        if (kind == IdKind::kTrace) {
          ids.push_back(span.trace_id());
        } else {
          ids.push_back(span.span_id());
          ids.push_back(span.parent_span_id());
        }
        for (const auto& link : span.links()) {
          ids.push_back(kind == IdKind::kTrace ? link.trace_id() : link.span_id());
        }
      }
    }
  }
  return ids;
}
std::vector<std::string> SpanIds(const otlp::ExportTraceServiceRequest& request) {
  return Ids(request, IdKind::kSpan);
}
std::vector<std::string> TraceIds(const otlp::ExportTraceServiceRequest& request) {
  return Ids(request, IdKind::kTrace);
}

// The request with every id cleared: what WithFreshIds must leave alone.
otlp::ExportTraceServiceRequest WithoutIds(otlp::ExportTraceServiceRequest request) {
  for (auto& rs : *request.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        span.clear_trace_id();
        span.clear_span_id();
        span.clear_parent_span_id();
        for (auto& link : *span.mutable_links()) {
          link.clear_trace_id();
          link.clear_span_id();
        }
      }
    }
  }
  return request;
}

// Old id → new id must be one-to-one: equal ids stay equal, different ones different.
void ExpectConsistentRenaming(const std::vector<std::string>& before,
                              const std::vector<std::string>& after) {
  ASSERT_EQ(before.size(), after.size());
  std::map<std::string, std::string> renamed;
  std::set<std::string> targets;
  size_t changed = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i].empty()) {
      EXPECT_TRUE(after[i].empty()) << i;
      continue;
    }
    ASSERT_EQ(after[i].size(), before[i].size()) << i;
    changed += after[i] != before[i];
    auto [it, inserted] = renamed.emplace(before[i], after[i]);
    EXPECT_EQ(it->second, after[i]) << "id " << i << " renamed two ways";
    if (inserted) {
      EXPECT_TRUE(targets.insert(after[i]).second) << "ids merged at " << i;
    }
  }
  EXPECT_GT(changed, 0u);
}

TEST(RequestIdRewriter, FreshIdsKeepEverythingElseAndEveryReference) {
  // The realistic workload has parents within a trace and links.
  const auto request = RealisticSpans(2000, 5);
  auto rewriter = RequestIdRewriter::Make(request);
  ASSERT_TRUE(rewriter.ok()) << rewriter.status().ToString();
  EXPECT_EQ(Parse(rewriter->bytes()).SerializeAsString(), request.SerializeAsString());

  const auto fresh = Parse(rewriter->WithFreshIds(1));
  EXPECT_EQ(WithoutIds(fresh).SerializeAsString(),
            WithoutIds(request).SerializeAsString());
  ExpectConsistentRenaming(SpanIds(request), SpanIds(fresh));
  ExpectConsistentRenaming(TraceIds(request), TraceIds(fresh));

  int links = 0, parents = 0;
  for (const auto& span : request.resource_spans(0).scope_spans(0).spans()) {
    links += span.links_size();
    parents += !span.parent_span_id().empty();
  }
  EXPECT_GT(links, 0);
  EXPECT_GT(parents, 0);
}

TEST(RequestIdRewriter, DifferentKeysGiveDifferentIdsAndTheSameKeyTheSame) {
  for (const char* workload : {"seed", "otel", "realistic"}) {
    SCOPED_TRACE(workload);
    const auto request = MakeWorkload(workload, 300).ValueOrDie();
    auto rewriter = RequestIdRewriter::Make(request);
    ASSERT_TRUE(rewriter.ok()) << rewriter.status().ToString();
    const auto a = Parse(rewriter->WithFreshIds(7));
    const auto b = Parse(rewriter->WithFreshIds(8));
    EXPECT_EQ(rewriter->WithFreshIds(7), rewriter->WithFreshIds(7));
    const auto span_ids_a = SpanIds(a);
    const std::set<std::string> seen_a(span_ids_a.begin(), span_ids_a.end());
    for (const auto& id : SpanIds(b)) {
      if (!id.empty()) {
        EXPECT_EQ(seen_a.count(id), 0u);
      }
    }
    const auto trace_a = TraceIds(a), trace_b = TraceIds(b), original = TraceIds(request);
    for (size_t i = 0; i < trace_a.size(); ++i) {
      EXPECT_NE(trace_a[i], trace_b[i]);
      EXPECT_NE(trace_a[i], original[i]);
    }
  }
}

}  // namespace
}  // namespace otlp_arrow::model

namespace otlp_arrow::model {
namespace {

std::vector<const otlp::Span*> AllSpans(const otlp::ExportTraceServiceRequest& request) {
  std::vector<const otlp::Span*> spans;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) spans.push_back(&span);
    }
  }
  return spans;
}

TEST(RestampSpans, EarliestStartMovesToTheGivenTimeAndSpacingStays) {
  const auto before = RealisticSpans(500, 7);
  auto after = before;
  const uint64_t now = 1'796'000'000'123'456'789ULL;  // 2026-12-01
  RestampSpans(&after, now);
  const auto old_spans = AllSpans(before);
  const auto new_spans = AllSpans(after);
  ASSERT_EQ(old_spans.size(), new_spans.size());
  uint64_t earliest = UINT64_MAX;
  uint64_t old_earliest = UINT64_MAX;
  bool had_events = false;
  for (size_t i = 0; i < new_spans.size(); ++i) {
    earliest = std::min(earliest, new_spans[i]->start_time_unix_nano());
    old_earliest = std::min(old_earliest, old_spans[i]->start_time_unix_nano());
  }
  EXPECT_EQ(earliest, now);
  const uint64_t offset = now - old_earliest;
  for (size_t i = 0; i < new_spans.size(); ++i) {
    EXPECT_EQ(new_spans[i]->start_time_unix_nano(),
              old_spans[i]->start_time_unix_nano() + offset);
    EXPECT_EQ(new_spans[i]->end_time_unix_nano(),
              old_spans[i]->end_time_unix_nano() + offset);
    ASSERT_EQ(new_spans[i]->events_size(), old_spans[i]->events_size());
    for (int e = 0; e < new_spans[i]->events_size(); ++e) {
      had_events = true;
      EXPECT_EQ(new_spans[i]->events(e).time_unix_nano(),
                old_spans[i]->events(e).time_unix_nano() + offset);
    }
    EXPECT_EQ(new_spans[i]->span_id(), old_spans[i]->span_id());
    EXPECT_EQ(new_spans[i]->name(), old_spans[i]->name());
  }
  EXPECT_TRUE(had_events);
}

TEST(RestampSpans, UnsetAndExtremeTimesStay) {
  otlp::ExportTraceServiceRequest request;
  auto* spans = request.add_resource_spans()->add_scope_spans();
  auto* a = spans->add_spans();
  a->set_start_time_unix_nano(5'000);
  a->set_end_time_unix_nano(0);
  auto* b = spans->add_spans();
  b->set_start_time_unix_nano(UINT64_MAX);
  b->set_end_time_unix_nano(7'000);
  RestampSpans(&request, 1'000'000);
  EXPECT_EQ(a->start_time_unix_nano(), 1'000'000u);
  EXPECT_EQ(a->end_time_unix_nano(), 0u);
  EXPECT_EQ(b->start_time_unix_nano(), UINT64_MAX);
  EXPECT_EQ(b->end_time_unix_nano(), 1'002'000u);
}

}  // namespace
}  // namespace otlp_arrow::model
