#include "operators/string_interner.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tillstream {
namespace {

// Every string from the empty one to 40 bytes, and for each the variants that
// a key built from partial loads could confuse: one byte changed at each
// position (to '#', to 0xff, in its lowest bit), a zero byte appended, and
// a run of one letter.
std::vector<std::string> TrickyStrings() {
  std::vector<std::string> strings;
  for (size_t n = 0; n <= 40; ++n) {
    std::string base;
    for (size_t i = 0; i < n; ++i)
      base.push_back(static_cast<char>('a' + i % 26));
    strings.push_back(base);
    strings.push_back(base + std::string(1, '\0'));
    strings.push_back(std::string(n, 'x'));
    for (size_t i = 0; i < n; ++i) {
      std::string changed = base;
      changed[i] = '#';
      strings.push_back(changed);
      std::string high = base;
      high[i] = static_cast<char>(0xff);
      strings.push_back(high);
      std::string low_bit = base;
      low_bit[i] ^= 1;
      strings.push_back(low_bit);
    }
  }
  return strings;
}

TEST(StringInternerTest, EqualStringsShareAnIdAndDifferentOnesNever) {
  StringInterner interner;
  std::vector<std::string> strings = TrickyStrings();
  std::vector<uint32_t> ids;
  for (const std::string& s : strings) {
    bool inserted = false;
    ids.push_back(interner.Intern(s, &inserted));
    EXPECT_EQ(interner.Lookup(ids.back()), s);
  }
  // Each distinct string got its own id, in order of first sight.
  std::vector<std::string> distinct;
  for (size_t i = 0; i < strings.size(); ++i) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = strings[j] == strings[i];
    if (seen) continue;
    EXPECT_EQ(ids[i], distinct.size()) << "string " << i;
    distinct.push_back(strings[i]);
  }
  EXPECT_EQ(interner.size(), distinct.size());
  // Interning again finds the same ids and inserts nothing.
  for (size_t i = 0; i < strings.size(); ++i) {
    bool inserted = true;
    EXPECT_EQ(interner.Intern(strings[i], &inserted), ids[i]);
    EXPECT_FALSE(inserted);
  }
}

TEST(StringInternerTest, InsertedTellsNewFromKnown) {
  StringInterner interner;
  bool inserted = false;
  EXPECT_EQ(interner.Intern("c-000172", &inserted), 0u);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(interner.Intern("a-customer-id-longer-than-fifteen", &inserted),
            1u);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(interner.Intern("c-000172", &inserted), 0u);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(interner.Intern("a-customer-id-longer-than-fifteen", &inserted),
            1u);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(interner.Lookup(1), "a-customer-id-longer-than-fifteen");
}

TEST(StringInternerTest, FindNeverInserts) {
  StringInterner interner;
  EXPECT_EQ(interner.Find("s-001"), nullptr);
  const uint32_t short_id = interner.Intern("s-001");
  const uint32_t long_id = interner.Intern("a-store-id-longer-than-fifteen");
  ASSERT_NE(interner.Find("s-001"), nullptr);
  EXPECT_EQ(*interner.Find("s-001"), short_id);
  ASSERT_NE(interner.Find("a-store-id-longer-than-fifteen"), nullptr);
  EXPECT_EQ(*interner.Find("a-store-id-longer-than-fifteen"), long_id);
  EXPECT_EQ(interner.Find("s-002"), nullptr);
  EXPECT_EQ(interner.Find("a-store-id-longer-than-sixteen"), nullptr);
  EXPECT_EQ(interner.size(), 2u);
}

TEST(StringInternerTest, ViewsOfTheCallersBufferAreCopied) {
  StringInterner interner;
  std::string buffer = "s-001|US-East-and-more";
  const uint32_t short_id =
      interner.Intern(absl::string_view(buffer).substr(0, 5));
  const uint32_t long_id = interner.Intern(buffer);
  buffer.assign(buffer.size(), '?');
  EXPECT_EQ(interner.Lookup(short_id), "s-001");
  EXPECT_EQ(interner.Lookup(long_id), "s-001|US-East-and-more");
  EXPECT_EQ(interner.Intern("s-001|US-East-and-more"), long_id);
}

}  // namespace
}  // namespace tillstream
