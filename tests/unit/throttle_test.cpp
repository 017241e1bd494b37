// The per-address back-off after wrong credentials (registry/throttle.hpp), on a clock the test
// moves by hand.
#include "registry/throttle.hpp"

#include <gtest/gtest.h>

using wangge::registry::AuthThrottle;
using namespace std::chrono_literals;

TEST(AuthThrottle, FreeFailuresThenADoublingBackOff) {
  AuthThrottle t(3);
  const auto t0 = AuthThrottle::Clock::now();
  EXPECT_FALSE(t.failed("10.0.0.1", t0));
  EXPECT_FALSE(t.failed("10.0.0.1", t0));
  EXPECT_FALSE(t.failed("10.0.0.1", t0));
  EXPECT_EQ(t.wait_seconds("10.0.0.1", t0), 0);
  EXPECT_TRUE(t.failed("10.0.0.1", t0));  // the fourth starts the back-off: audited once
  EXPECT_EQ(t.wait_seconds("10.0.0.1", t0), 1);
  EXPECT_EQ(t.wait_seconds("10.0.0.2", t0), 0);  // another address is not held back
  EXPECT_FALSE(t.failed("10.0.0.1", t0 + 2s));   // later failures do not audit again
  EXPECT_EQ(t.wait_seconds("10.0.0.1", t0 + 2s), 2);
  EXPECT_FALSE(t.failed("10.0.0.1", t0 + 5s));
  EXPECT_EQ(t.wait_seconds("10.0.0.1", t0 + 5s), 4);
  EXPECT_EQ(t.wait_seconds("10.0.0.1", t0 + 9s), 0);
}

TEST(AuthThrottle, TheBackOffStopsAtFifteenMinutes) {
  AuthThrottle t(1);
  auto now = AuthThrottle::Clock::now();
  for (int i = 0; i < 40; ++i) t.failed("a", now += 1s);
  EXPECT_EQ(t.wait_seconds("a", now), 15 * 60);
}

TEST(AuthThrottle, TenQuietMinutesForgive) {
  AuthThrottle t(2);
  const auto t0 = AuthThrottle::Clock::now();
  t.failed("a", t0);
  t.failed("a", t0);
  EXPECT_FALSE(t.failed("a", t0 + 11min));  // counted from one again
  EXPECT_EQ(t.failures("a"), 1);
  EXPECT_EQ(t.wait_seconds("a", t0 + 11min), 0);
}
