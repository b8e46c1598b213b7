// Catch2 for nca's tests, whichever major version the platform ships: v2 on Debian 12
// (catch2/catch.hpp), v3 on Debian 13 (catch2/catch_all.hpp). Tests include this header only and
// write Approx(...) and Contains("text") as in v2, and NCA_SKIP("why") to end a test case that
// cannot run here (v3 reports it as skipped; v2 has no skip, so it says why and passes).
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <string>

#include <catch2/catch_all.hpp>
using Catch::Approx;
// v3 renamed the substring matcher; its Contains is for ranges.
inline Catch::Matchers::StringContainsMatcher Contains(const std::string& text) {
  return Catch::Matchers::ContainsSubstring(text);
}
#define NCA_SKIP(why) SKIP(why)
#else
#include <catch2/catch.hpp>
using Catch::Matchers::Contains;
#define NCA_SKIP(why) \
  do {                \
    WARN(why);        \
    return;           \
  } while (false)
#endif
