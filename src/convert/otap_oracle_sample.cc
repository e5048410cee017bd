// SPDX-License-Identifier: Apache-2.0
// Writes files for otap_oracle_check without Go: BARs of one stream made by the test
// producer (Go's layout) and, as the expected requests, what the Go consumer rebuilds
// from them. With a third argument, also a copy of the expected file with one value
// changed (which the check must refuse).
//
//   otap_oracle_sample BARS_FILE EXPECTED_FILE [WRONG_EXPECTED_FILE]

#include <fstream>
#include <iostream>
#include <string>

#include "opentelemetry/proto/experimental/arrow/v1/arrow_service.pb.h"
#include "otap_test_producer.h"
#include "otap_test_util.h"
#include "otlp_arrow/model/workloads.h"

namespace {

namespace arrowpb = opentelemetry::proto::experimental::arrow::v1;

void WriteRecord(std::ofstream& out, const std::string& bytes) {
  const auto n = static_cast<uint32_t>(bytes.size());
  const char header[4] = {static_cast<char>(n), static_cast<char>(n >> 8),
                          static_cast<char>(n >> 16), static_cast<char>(n >> 24)};
  out.write(header, 4);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::cerr
        << "usage: otap_oracle_sample BARS_FILE EXPECTED_FILE [WRONG_EXPECTED_FILE]\n";
    return 2;
  }
  std::ofstream bars(argv[1], std::ios::binary), expected(argv[2], std::ios::binary);
  std::ofstream wrong;
  if (argc == 4) wrong.open(argv[3], std::ios::binary);
  otlp_arrow::testing::OtapTestProducer producer;
  for (int b = 0; b < 3; ++b) {
    const auto request = otlp_arrow::model::RandomSpans(200, 100 + b);
    const auto bar = producer.Produce(request);
    arrowpb::BatchArrowRecords message;
    message.set_batch_id(b);
    for (const auto& p : bar.payloads) {
      auto* payload = message.add_arrow_payloads();
      payload->set_schema_id(p.schema_id);
      payload->set_type(static_cast<arrowpb::ArrowPayloadType>(p.type));
      payload->set_record(p.record);
    }
    WriteRecord(bars, message.SerializeAsString());
    auto go = otlp_arrow::testing::GoConsumerForm(request);
    WriteRecord(expected, go.SerializeAsString());
    if (argc == 4) {
      auto* span = go.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
      if (b == 1) span->set_name(span->name() + "!");
      WriteRecord(wrong, go.SerializeAsString());
    }
  }
  return bars && expected ? 0 : 1;
}
