// SPDX-License-Identifier: Apache-2.0
// RowGroupDictionaries: batches with different dictionaries keep every column chunk
// dictionary-encoded, the values read back unchanged, row groups are cut where they fill.

#include "row_group_dictionaries_internal.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/io/memory.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include "../convert/span_table_test_util.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/storage/parquet_span_store.h"
#include "parquet_files_internal.h"

namespace otlp_arrow::storage::internal {
namespace {

using Batches = std::vector<std::shared_ptr<arrow::RecordBatch>>;

std::shared_ptr<arrow::Array> Dictionary(const std::vector<std::string>& values,
                                         const std::vector<int32_t>& indices) {
  arrow::StringBuilder strings;
  EXPECT_TRUE(strings.AppendValues(values).ok());
  arrow::Int32Builder index_builder;
  EXPECT_TRUE(index_builder.AppendValues(indices).ok());
  return arrow::DictionaryArray::FromArrays(
             arrow::dictionary(arrow::int32(), arrow::utf8()),
             index_builder.Finish().ValueOrDie(), strings.Finish().ValueOrDie())
      .ValueOrDie();
}

std::shared_ptr<arrow::RecordBatch> OneColumn(
    const std::shared_ptr<arrow::Array>& array) {
  return arrow::RecordBatch::Make(arrow::schema({arrow::field("service", array->type())}),
                                  array->length(), {array});
}

// Writes `batches` into one Parquet file in memory, through RowGroupDictionaries when
// `prepare`, else as they are.
std::shared_ptr<arrow::Buffer> Write(const Batches& batches, int64_t max_row_group_rows,
                                     bool prepare, RowGroupDictionaries* dictionaries) {
  auto sink = arrow::io::BufferOutputStream::Create().ValueOrDie();
  auto properties = MakeWriterProperties(/*zstd_level=*/1, max_row_group_rows,
                                         /*dictionary_encoding=*/true);
  auto writer = parquet::arrow::FileWriter::Open(*batches.front()->schema(),
                                                 arrow::default_memory_pool(), sink,
                                                 properties, MakeArrowWriterProperties())
                    .ValueOrDie();
  for (const auto& batch : batches) {
    if (!prepare) {
      EXPECT_TRUE(writer->WriteRecordBatch(*batch).ok());
      continue;
    }
    EXPECT_TRUE(dictionaries->Write(*batch, writer.get()).ok());
  }
  EXPECT_TRUE(writer->Close().ok());
  return sink->Finish().ValueOrDie();
}

std::unique_ptr<parquet::ParquetFileReader> Open(
    const std::shared_ptr<arrow::Buffer>& file) {
  return parquet::ParquetFileReader::Open(
      std::make_shared<arrow::io::BufferReader>(file));
}

// Paths of the string leaf columns that have a data page in PLAIN encoding: column
// chunks where the writer gave up dictionary encoding.
std::vector<std::string> PlainStringChunks(const std::shared_ptr<arrow::Buffer>& file) {
  std::vector<std::string> plain;
  auto metadata = Open(file)->metadata();
  for (int g = 0; g < metadata->num_row_groups(); ++g) {
    auto row_group = metadata->RowGroup(g);
    for (int c = 0; c < row_group->num_columns(); ++c) {
      auto chunk = row_group->ColumnChunk(c);
      if (chunk->type() != parquet::Type::BYTE_ARRAY) continue;
      for (const auto& stats : chunk->encoding_stats()) {
        if (stats.page_type == parquet::PageType::DATA_PAGE &&
            stats.encoding == parquet::Encoding::PLAIN) {
          plain.push_back(chunk->path_in_schema()->ToDotString());
        }
      }
    }
  }
  return plain;
}

std::shared_ptr<arrow::Table> Read(const std::shared_ptr<arrow::Buffer>& file) {
  std::unique_ptr<parquet::arrow::FileReader> reader;
  EXPECT_TRUE(parquet::arrow::OpenFile(std::make_shared<arrow::io::BufferReader>(file),
                                       arrow::default_memory_pool())
                  .Value(&reader)
                  .ok());
  std::shared_ptr<arrow::Table> table;
  EXPECT_TRUE(reader->ReadTable(&table).ok());
  return table;
}

std::shared_ptr<arrow::Array> Plain(const std::shared_ptr<arrow::ChunkedArray>& column) {
  auto combined = arrow::Concatenate(column->chunks()).ValueOrDie();
  if (combined->type_id() != arrow::Type::DICTIONARY) return combined;
  const auto& dictionary = static_cast<const arrow::DictionaryArray&>(*combined);
  arrow::StringBuilder builder;
  const auto& values = static_cast<const arrow::StringArray&>(*dictionary.dictionary());
  for (int64_t i = 0; i < dictionary.length(); ++i) {
    if (dictionary.IsNull(i)) {
      EXPECT_TRUE(builder.AppendNull().ok());
      continue;
    }
    EXPECT_TRUE(builder.Append(values.GetView(dictionary.GetValueIndex(i))).ok());
  }
  return builder.Finish().ValueOrDie();
}

TEST(RowGroupDictionaries, ArrowsWriterGivesUpOnASecondDictionary) {
  // Why the class exists; if a later Arrow keeps dictionary encoding here, it is no
  // longer needed.
  const Batches batches = {OneColumn(Dictionary({"a", "b"}, {0, 1, 1, 0})),
                           OneColumn(Dictionary({"b", "c"}, {0, 1, 1, 0}))};
  EXPECT_EQ(PlainStringChunks(Write(batches, 1000, /*prepare=*/false, nullptr)),
            std::vector<std::string>{"service"});
}

TEST(RowGroupDictionaries, OtherDictionariesAreRemappedOrDecodedAndStayEncoded) {
  const auto with_null = arrow::DictionaryArray::FromArrays(
      arrow::dictionary(arrow::int32(), arrow::utf8()),
      *arrow::json::ArrayFromJSONString(arrow::int32(), "[1, null, 0, 1]"),
      *arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["a", "b"])"));
  ASSERT_TRUE(with_null.ok());
  const Batches batches = {
      OneColumn(Dictionary({"a", "b"}, {0, 1, 1, 0})),
      OneColumn(Dictionary({"b", "c"}, {0, 1, 1, 0})),  // "c" is new: decoded
      OneColumn(Dictionary({"a", "b"}, {1, 1, 0, 0})),  // the first: as it is
      OneColumn(Dictionary({"c"}, {0, 0, 0, 0})),       // decoded
      OneColumn(Dictionary({"b", "a"}, {0, 0, 1, 1})),  // the same strings: remapped
      OneColumn(Dictionary({"b"}, {0, 0, 0, 0})),       // a subset: remapped
      OneColumn(*with_null),                            // "b", null, "a", "b"
  };
  RowGroupDictionaries dictionaries(1000);
  const auto file = Write(batches, 1000, /*prepare=*/true, &dictionaries);
  EXPECT_EQ(dictionaries.columns_decoded(), 2);
  EXPECT_EQ(dictionaries.columns_remapped(), 2);  // the last one is equal to the first
  EXPECT_TRUE(PlainStringChunks(file).empty());
  const auto table = Read(file);
  ASSERT_EQ(table->num_rows(), 28);
  arrow::StringBuilder expected;
  ASSERT_TRUE(
      expected
          .AppendValues({"a", "b", "b", "a", "b", "c", "c", "b", "b", "b", "a", "a", "c",
                         "c", "c", "c", "b", "b", "a", "a", "b", "b", "b", "b", "b"})
          .ok());
  ASSERT_TRUE(expected.AppendNull().ok());
  ASSERT_TRUE(expected.AppendValues({"a", "b"}).ok());
  EXPECT_TRUE(Plain(table->column(0))->Equals(*expected.Finish().ValueOrDie()))
      << Plain(table->column(0))->ToString();
}

TEST(RowGroupDictionaries, RowGroupsAreCutWhereTheyFillAndStartWithTheirOwnDictionary) {
  // 7 rows with dictionary A, then 7 with B, in row groups of 5: A A A A A | A A B B B |
  // B B B B.
  const Batches batches = {OneColumn(Dictionary({"a0", "a1"}, {0, 1, 0, 1, 0, 1, 0})),
                           OneColumn(Dictionary({"b0", "b1"}, {1, 0, 1, 0, 1, 0, 1}))};
  RowGroupDictionaries dictionaries(5);
  std::vector<bool> starts;
  std::vector<int64_t> lengths;
  for (const auto& batch : batches) {
    auto pieces = dictionaries.Prepare(*batch);
    ASSERT_TRUE(pieces.ok());
    for (const auto& piece : *pieces) {
      starts.push_back(piece.starts_row_group);
      lengths.push_back(piece.batch->num_rows());
    }
  }
  EXPECT_EQ(lengths, (std::vector<int64_t>{5, 2, 3, 4}));
  EXPECT_EQ(starts, (std::vector<bool>{false, true, false, true}));
  // The third piece (B in the second row group, after A began it) is decoded; the
  // fourth begins the third row group with B itself.
  EXPECT_EQ(dictionaries.columns_decoded(), 1);

  RowGroupDictionaries fresh(5);
  const auto file = Write(batches, 5, /*prepare=*/true, &fresh);
  EXPECT_EQ(Open(file)->metadata()->num_row_groups(), 3);
  EXPECT_TRUE(PlainStringChunks(file).empty());
  EXPECT_EQ(Read(file)->num_rows(), 14);
}

TEST(RowGroupDictionaries, SpanTablesFromDifferentRequestsRoundTrip) {
  // Nested dictionaries too: attribute keys and string values of every map.
  Batches batches;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    batches.push_back(testing::EncodeOrFail(model::RandomSpans(300, seed)));
  }
  const auto unprepared = PlainStringChunks(Write(batches, 1000, false, nullptr));
  EXPECT_FALSE(unprepared.empty());
  RowGroupDictionaries dictionaries(1000);
  const auto file = Write(batches, 1000, /*prepare=*/true, &dictionaries);
  EXPECT_GT(dictionaries.columns_decoded(), 0);
  EXPECT_TRUE(PlainStringChunks(file).empty());
  const auto table = Read(file);
  ASSERT_EQ(table->num_rows(), 1200);
  // What was written reads back as the same spans, batch by batch.
  int64_t offset = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const auto& batch = batches[seed - 1];
    auto stored = testing::DecodeOrFail(*table->Slice(offset, batch->num_rows()));
    testing::ExpectSameOtlp(testing::Canonical(model::RandomSpans(300, seed)), stored);
    offset += batch->num_rows();
  }
}

TEST(RowGroupDictionaries, TheStoresFilesStayDictionaryEncoded) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("otlp-arrow-dictionaries-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto options = ParquetSpanStoreOptions::Defaults();
  options.data_dir = dir.string();
  options.durability = WalDurability::kFlushToOs;
  options.max_row_group_rows = 500;
  auto store = ParquetSpanStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  // Batches of two kinds, one after the other: their dictionaries differ.
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    for (const auto& request :
         {model::RealisticSpans(400, seed), model::RandomSpans(300, seed)}) {
      ASSERT_TRUE((*store)->Append(testing::EncodeOrFail(request)).ok());
    }
  }
  ASSERT_TRUE((*store)->Flush().ok());
  auto files = (*store)->ListFiles();
  ASSERT_TRUE(files.ok());
  ASSERT_FALSE(files->empty());
  int row_groups = 0;
  for (const auto& file : *files) {
    auto input = arrow::io::ReadableFile::Open(file.path);
    ASSERT_TRUE(input.ok());
    auto bytes = (*input)->Read(file.num_bytes);
    ASSERT_TRUE(bytes.ok());
    EXPECT_TRUE(PlainStringChunks(*bytes).empty()) << file.path;
    row_groups = std::max(row_groups, Open(*bytes)->metadata()->num_row_groups());
  }
  EXPECT_GT(row_groups, 1);
  EXPECT_TRUE((*store)->Close().ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace otlp_arrow::storage::internal
