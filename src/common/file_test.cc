// SPDX-License-Identifier: Apache-2.0
// ReadWholeFile and ReadToken on real files in a temporary directory.

#include "otlp_arrow/common/file.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace otlp_arrow::common {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("otlp_arrow_file_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(FileTest, ReadsEveryByte) {
  const std::string content("line 1\r\nline 2\0binary\n", 23);
  auto read = ReadWholeFile(Write("pem", content), "tls.ca_path");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, content);
  auto empty = ReadWholeFile(Write("empty", ""), "tls.ca_path");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST_F(FileTest, MissingFileAndDirectoryNameWhatAndWhere) {
  const std::string missing = (dir_ / "missing").string();
  auto read = ReadWholeFile(missing, "tls.ca_path");
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(read.status().IsIOError());
  EXPECT_THAT(read.status().message(),
              AllOf(StartsWith("tls.ca_path: cannot read '" + missing + "'"),
                    HasSubstr("No such file")));
  auto directory = ReadWholeFile(dir_.string(), "config file");
  ASSERT_FALSE(directory.ok());
  EXPECT_THAT(directory.status().message(), HasSubstr("it is a directory"));
}

TEST_F(FileTest, TokenLosesItsLineEnd) {
  for (const std::string content :
       {"s3cret\n", "s3cret\r\n", "  s3cret \t\r\n\n", "s3cret"}) {
    auto token = ReadToken(Write("token", content), "auth.token_file");
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    EXPECT_EQ(*token, "s3cret") << "from '" << content << "'";
  }
}

TEST_F(FileTest, EmptyTokenFileIsRefused) {
  for (const std::string content : {"", "\n", " \r\n\t"}) {
    const std::string path = Write("token", content);
    auto token = ReadToken(path, "auth.token_file");
    ASSERT_FALSE(token.ok()) << "'" << content << "' gave '" << *token << "'";
    EXPECT_TRUE(token.status().IsInvalid());
    EXPECT_EQ(token.status().message(), "auth.token_file: '" + path + "' is empty");
  }
}

TEST_F(FileTest, TokenOfTwoWordsIsRefused) {
  auto token = ReadToken(Write("token", "one\ntwo\n"), "--token-file");
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(),
              AllOf(StartsWith("--token-file: '"), HasSubstr("more than one word")));
}

TEST_F(FileTest, MissingTokenFileIsAnIOError) {
  auto token = ReadToken((dir_ / "missing").string(), "--token-file");
  ASSERT_FALSE(token.ok());
  EXPECT_TRUE(token.status().IsIOError());
}

}  // namespace
}  // namespace otlp_arrow::common
