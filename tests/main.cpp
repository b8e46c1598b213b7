// Catch2 v2 entry point for nca_tests (Debian 12). With Catch2 v3 the tests link
// Catch2::Catch2WithMain instead and this file is not compiled (tests/CMakeLists.txt).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
