// Decoding allocates nothing per record once the decoder's buffers have
// grown to the records' size (the hot path's rule: no heap allocation per
// event). This binary counts every operator new, so it holds only this test.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/order_decoder.h"
#include "gtest/gtest.h"

namespace {
std::atomic<int64_t> allocations{0};
}  // namespace

// Every non-aligned form is replaced, so that no library frees with one
// allocator what another allocated (AddressSanitizer checks the pairing).
// GCC takes free() of what these return for a mismatch; it is their own
// pairing.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new(size_t size) {
  if (void* p = operator new(size, std::nothrow)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return operator new(size, std::nothrow);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace tillstream {
namespace {

// Orders of one to three lines, with and without costs, categories, a
// customer, escapes and numeric prices: every branch a valid record takes.
std::vector<std::string> Orders(int count) {
  std::vector<std::string> orders;
  for (int i = 0; i < count; ++i) {
    std::string lines;
    for (int l = 0; l <= i % 3; ++l) {
      absl::StrAppend(&lines, l > 0 ? "," : "", R"({"sku":"sku-)", i % 50, "-",
                      l, R"(","qty":)", 1 + l,
                      i % 2 == 0 ? R"(,"unit_price":"12.49","unit_cost":"7.10")"
                                 : R"(,"unit_price":3,"category":"t\u00f8ys")",
                      "}");
    }
    orders.push_back(absl::StrCat(
        R"({"order_id":"o-)", i, R"(","ts":)", 1704067200000 + i * 1000,
        R"(,"store_id":"s-)", i % 7, R"(","region":"EU","customer_id":)",
        i % 4 == 0 ? "null" : absl::StrCat(R"("c-)", i % 97, R"(")"),
        R"(,"channel":"pos","currency":"EUR","status":")",
        i % 5 == 0 ? "refunded" : "completed", R"(","lines":[)", lines, "]}"));
  }
  return orders;
}

TEST(DecodeAllocationTest, DecodingValidRecordsAllocatesNothingPerRecord) {
  const std::vector<std::string> orders = Orders(1000);
  OrderDecoder decoder{OrderDecoderOptions{}};
  OrderEvent event;
  for (const std::string& order : orders)  // buffers grow to size here
    ASSERT_TRUE(decoder.Decode(order, &event).ok()) << order;

  const int64_t before = allocations.load();
  for (int round = 0; round < 3; ++round) {
    for (const std::string& order : orders) {
      if (!decoder.Decode(order, &event).ok()) FAIL() << order;
    }
  }
  EXPECT_EQ(allocations.load() - before, 0)
      << "allocations while decoding 3,000 records";
}

}  // namespace
}  // namespace tillstream
