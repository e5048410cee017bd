// SPDX-License-Identifier: Apache-2.0
// Test helper: HPACK blocks as the Collector's otelarrow exporter codes
// BatchArrowRecords.headers, one encoder (one dynamic table) per stream.

#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace otlp_arrow::service::testing {

class HpackEncoder {
 public:
  HpackEncoder() { EXPECT_EQ(nghttp2_hd_deflate_new(&deflater_, 4096), 0); }
  ~HpackEncoder() { nghttp2_hd_deflate_del(deflater_); }
  HpackEncoder(const HpackEncoder&) = delete;
  HpackEncoder& operator=(const HpackEncoder&) = delete;

  /// \brief One block holding `headers`, in order.
  std::string Encode(const std::vector<std::pair<std::string, std::string>>& headers) {
    std::vector<nghttp2_nv> nvs;
    for (const auto& [name, value] : headers) {
      nvs.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())),
                     name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    std::string out(nghttp2_hd_deflate_bound(deflater_, nvs.data(), nvs.size()), '\0');
    const ssize_t n =
        nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<uint8_t*>(out.data()),
                              out.size(), nvs.data(), nvs.size());
    EXPECT_GE(n, 0);
    out.resize(static_cast<size_t>(n));
    return out;
  }

 private:
  nghttp2_hd_deflater* deflater_ = nullptr;
};

}  // namespace otlp_arrow::service::testing
