// Every kernel level the CPU supports, forced explicitly, against a double-precision (or
// exact integer) scalar reference on odd dimensions and unaligned pointers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "codec.hpp"
#include "half.hpp"
#include "kernels.hpp"

namespace engram::detail {
namespace {

const std::size_t kDims[] = {1, 3, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 383, 384, 1536, 1537};

struct Case {
  KernelLevel level;
  std::size_t dim;
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return std::string(to_string(info.param.level)) + "_d" + std::to_string(info.param.dim);
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (int l = 0; l < kKernelLevelCount; ++l)
    for (std::size_t d : kDims) out.push_back({static_cast<KernelLevel>(l), d});
  return out;
}

class KernelTest : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    table_ = kernel_table(GetParam().level);
    if (table_ == nullptr) GTEST_SKIP() << "CPU lacks " << to_string(GetParam().level);
    d_ = GetParam().dim;
    rng_.seed(1234 + d_);
  }
  // A buffer with `offset` leading elements so data() + offset is misaligned on purpose.
  std::vector<float> floats(std::size_t n, std::size_t offset = 1) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n + offset);
    for (auto& x : v) x = u(rng_);
    return v;
  }
  std::vector<std::int8_t> bytes(std::size_t n, std::size_t offset = 1) {
    std::uniform_int_distribution<int> u(-127, 127);
    std::vector<std::int8_t> v(n + offset);
    for (auto& x : v) x = static_cast<std::int8_t>(u(rng_));
    return v;
  }
  std::vector<std::uint16_t> halves(const std::vector<float>& f) {
    std::vector<std::uint16_t> h(f.size());
    for (std::size_t i = 0; i < f.size(); ++i) h[i] = float_to_half(f[i]);
    return h;
  }
  static double tolerance(double abs_sum) { return 2e-6 * abs_sum + 1e-6; }

  const KernelTable* table_ = nullptr;
  std::size_t d_ = 0;
  std::mt19937_64 rng_;
};

TEST_P(KernelTest, DotF32MatchesReference) {
  auto a = floats(d_), b = floats(d_, 3);
  const float* pa = a.data() + 1;
  const float* pb = b.data() + 3;
  double ref = 0, abs_sum = 0;
  for (std::size_t i = 0; i < d_; ++i) {
    ref += static_cast<double>(pa[i]) * pb[i];
    abs_sum += std::fabs(static_cast<double>(pa[i]) * pb[i]);
  }
  EXPECT_NEAR(table_->dot_f32(pa, pb, d_), ref, tolerance(abs_sum));
  EXPECT_NEAR(-table_->neg_dot_f32(pa, pb, &d_), ref, tolerance(abs_sum));
}

TEST_P(KernelTest, DotF16MatchesReference) {
  auto q = floats(d_), r = floats(d_);
  auto h = halves(r), h2 = halves(q);
  const float* pq = q.data() + 1;
  const std::uint16_t* ph = h.data() + 1;
  const std::uint16_t* ph2 = h2.data() + 1;
  double ref = 0, ref2 = 0, abs_sum = 0;
  for (std::size_t i = 0; i < d_; ++i) {
    ref += static_cast<double>(pq[i]) * half_to_float(ph[i]);
    ref2 += static_cast<double>(half_to_float(ph2[i])) * half_to_float(ph[i]);
    abs_sum += std::fabs(static_cast<double>(pq[i]) * half_to_float(ph[i]));
  }
  EXPECT_NEAR(table_->dot_f32_f16(pq, ph, d_), ref, tolerance(abs_sum));
  EXPECT_NEAR(table_->dot_f16(ph2, ph, d_), ref2, tolerance(abs_sum));
  EXPECT_NEAR(-table_->neg_dot_f16(ph2, ph, &d_), ref2, tolerance(abs_sum));
}

TEST_P(KernelTest, DotInt8IsExact) {
  auto a = bytes(d_), b = bytes(d_, 5);
  const std::int8_t* pa = a.data() + 1;
  const std::int8_t* pb = b.data() + 5;
  std::int64_t ref = 0;
  for (std::size_t i = 0; i < d_; ++i) ref += static_cast<std::int64_t>(pa[i]) * pb[i];
  EXPECT_EQ(table_->dot_i8(pa, pb, d_), ref);
  EXPECT_EQ(-table_->neg_dot_i8(pa, pb, &d_), static_cast<float>(ref));
}

TEST_P(KernelTest, DotInt8ExtremesDoNotSaturate) {
  // All components at +-127: pairwise 16-bit sums of products would saturate with maddubs.
  for (int sa : {1, -1}) {
    for (int sb : {1, -1}) {
      std::vector<std::int8_t> a(d_, static_cast<std::int8_t>(127 * sa));
      std::vector<std::int8_t> b(d_, static_cast<std::int8_t>(127 * sb));
      EXPECT_EQ(table_->dot_i8(a.data(), b.data(), d_), static_cast<std::int32_t>(d_) * 127 * 127 * sa * sb);
    }
  }
}

TEST_P(KernelTest, ScansMatchSingleDots) {
  const std::size_t n = 7;
  auto q = floats(d_);
  auto rows = floats(n * d_, 0);
  auto h = halves(rows);
  auto q8 = bytes(d_);
  auto r8 = bytes(n * d_, 0);
  std::vector<float> out(n), out16(n);
  std::vector<std::int32_t> out8(n);
  table_->scan_f32(q.data() + 1, rows.data(), n, d_, out.data());
  table_->scan_f16(q.data() + 1, h.data(), n, d_, out16.data());
  table_->scan_i8(q8.data() + 1, r8.data(), n, d_, out8.data());
  const KernelTable& ref = kKernelsScalar;
  for (std::size_t r = 0; r < n; ++r) {
    double abs_sum = 0;
    for (std::size_t i = 0; i < d_; ++i) abs_sum += std::fabs(static_cast<double>(q[1 + i]) * rows[r * d_ + i]);
    EXPECT_NEAR(out[r], ref.dot_f32(q.data() + 1, rows.data() + r * d_, d_), 2 * tolerance(abs_sum));
    EXPECT_NEAR(out16[r], ref.dot_f32_f16(q.data() + 1, h.data() + r * d_, d_), 2 * tolerance(abs_sum));
    EXPECT_EQ(out8[r], ref.dot_i8(q8.data() + 1, r8.data() + r * d_, d_));
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, KernelTest, testing::ValuesIn(all_cases()), case_name);

// ---- half conversion ----

class HalfTest : public testing::TestWithParam<int> {};

TEST_P(HalfTest, HardwareDecodeMatchesPortableForEveryHalf) {
  const KernelTable* t = kernel_table(static_cast<KernelLevel>(GetParam()));
  if (t == nullptr) GTEST_SKIP();
  const float one = 1.0f;
  for (std::uint32_t h = 0; h <= 0xffff; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float expected = half_to_float(bits);
    if (std::isnan(expected) || std::isinf(expected)) continue;
    ASSERT_EQ(t->dot_f32_f16(&one, &bits, 1), expected) << std::hex << h;
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, HalfTest, testing::Range(0, kKernelLevelCount));

TEST(Half, RoundTripsEveryFiniteHalf) {
  for (std::uint32_t h = 0; h <= 0xffff; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = half_to_float(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f), bits) << std::hex << h;
  }
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even (down)
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);             // subnormal tie -> 0
  EXPECT_EQ(float_to_half(3 * std::ldexp(1.0f, -25)), 0x0002);         // subnormal tie -> even
  EXPECT_EQ(float_to_half(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Codec, Int8IsSymmetricWithScale127) {
  Codec c(ElementType::kInt8, 5);
  const float v[5] = {1.0f, -1.0f, 0.5f, -0.004f, 0.0f};
  std::byte row[5];
  c.encode(v, row);
  const auto* q = reinterpret_cast<const std::int8_t*>(row);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[2], 64);  // 63.5 rounds to even
  EXPECT_EQ(q[3], -1);
  EXPECT_EQ(q[4], 0);
}

TEST(Codec, Int8QueryUsesFullRange) {
  Codec c(ElementType::kInt8, 3);
  const float q[3] = {0.1f, -0.025f, 0.0f};
  QueryBuffer buf;
  prepare_scan_query(c, q, buf);
  EXPECT_EQ(buf.i8[0], 127);
  EXPECT_EQ(buf.i8[1], -32);                       // -31.75
  EXPECT_NEAR(127 * 127 * buf.scale, 0.1f, 1e-7);  // raw dot * scale = cosine
}

TEST(Dispatch, BestLevelIsSupported) {
  EXPECT_TRUE(kernel_level_supported(kernels().level));
  EXPECT_NE(kernel_table(KernelLevel::kScalar), nullptr);
}

}  // namespace
}  // namespace engram::detail
