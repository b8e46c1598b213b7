// Config defaults (the Distill reference) and validate()'s explanations.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "catch.h"

#include "nca/config.h"
#include "nca/errors.h"

TEST_CASE("defaults are the Distill reference settings") {
  nca::TrainConfig c;
  CHECK(c.experiment == nca::Experiment::Regenerating);
  CHECK(c.iters == 8000);
  CHECK(c.batch == 8);
  CHECK(c.pool == 1024);
  CHECK(c.grid() == 72);
  CHECK(c.min_steps == 64);
  CHECK(c.max_steps == 96);
  CHECK(c.lr == 2e-3);
  CHECK(c.lr_decay_at == 2000);
  CHECK(c.damage == 3);
  CHECK(c.model.channels == 16);
  CHECK(c.model.hidden == 128);
  CHECK(c.model.fire_rate == 0.5);
  CHECK(c.model.alive_threshold == 0.1);
  CHECK(c.model.perception_channels() == 64);
  CHECK_NOTHROW(c.validate());
}

TEST_CASE("validate explains every violated invariant") {
  nca::TrainConfig c;
  c.batch = 2000;
  c.min_steps = 96;
  c.size = 0;
  c.model.fire_rate = 1.5;
  CHECK(c.problems().size() == 4);
  CHECK_THROWS_AS(c.validate(), nca::UsageError);
  CHECK_THROWS_WITH(c.validate(), Contains("batch (2000) cannot be larger than pool (1024)") &&
                                      Contains("min-steps (96) must be less than max-steps (96)") &&
                                      Contains("size must be positive, got 0") &&
                                      Contains("fire-rate must be in (0, 1]"));
  nca::TrainConfig growing;
  growing.experiment = nca::Experiment::Growing;
  growing.batch = 2000;  // no pool in the growing experiment
  CHECK(growing.problems().empty());
}

TEST_CASE("experiment and perception names parse, and unknown ones are usage errors") {
  CHECK(nca::parse_experiment("persistent") == nca::Experiment::Persistent);
  CHECK_THROWS_WITH(nca::parse_experiment("grow"), Contains("growing, persistent or regenerating"));
  CHECK(nca::parse_perception("distill") == nca::Perception::Distill);
  CHECK_THROWS_AS(nca::parse_perception("sobel"), nca::UsageError);
}

TEST_CASE("to_toml writes every key under its flag name") {
  nca::TrainConfig c;
  c.target = "data/my lizard's.png";
  const auto toml = c.to_toml();
  for (const char* key :
       {"target = \"data/my lizard's.png\"", "experiment = \"regenerating\"", "iters = 8000",
        "min-steps = 64", "max-steps = 96", "lr = 0.002", "fire-rate = 0.5",
        "alive-threshold = 0.1", "hidden = 128", "perception = \"full\"", "arch = \"default\"",
        "seed = 0", "device = \"auto\""})
    CHECK_THAT(toml, Contains(key));
}

TEST_CASE("a target config.toml could not hold back is refused") {
  nca::TrainConfig c;
  c.target = "data/lizard.png";
  CHECK_NOTHROW(c.validate());
  for (const char* bad : {"a\"b.png", "a\\b.png", "take#2.png", "two\nlines.png"}) {
    c.target = bad;
    CHECK_THROWS_WITH(c.validate(), Contains("which the run's config.toml could not hold"));
  }
  c.target = "data/lizard.png";
  c.device = "cpu#";
  CHECK_THROWS_WITH(c.validate(), Contains("device 'cpu#'"));
}

TEST_CASE("limits that keep a config from asking for the impossible") {
  nca::TrainConfig c;
  c.lr = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(c.validate(), Contains("lr must be positive and at most 1e30, got inf"));
  c.lr = 1e31;
  CHECK_THROWS_WITH(c.validate(), Contains("lr must be positive and at most 1e30, got 1e+31"));
  c = {};
  c.lr_decay = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(c.validate(), Contains("lr-decay must be positive"));
  c.lr_decay = 1e40;
  CHECK_THROWS_WITH(c.validate(), Contains("lr * lr-decay at most 1e30"));
  nca::ModelConfig m;
  m.hidden = 4097;
  CHECK_THROWS_WITH(m.validate(), Contains("hidden must be in 1..4096, got 4097"));
  m = {};
  m.channels = 257;
  CHECK_THROWS_WITH(m.validate(), Contains("channels must be in 4..256"));
}

TEST_CASE("to_toml writes floats in their shortest exact form") {
  nca::TrainConfig c;
  const auto toml = c.to_toml();
  CHECK_THAT(toml, Contains("lr-decay = 0.1\n"));
  CHECK_THAT(toml, Contains("alive-threshold = 0.1\n"));
  c.lr = 1.0 / 3.0;
  CHECK_THAT(c.to_toml(), Contains("lr = 0.3333333333333333\n"));
  CHECK(std::stod("0.3333333333333333") == c.lr);  // and it reads back as the same double
}

namespace {

// Significant digits of a decimal such as "0.0025", "1.5e-08" or "300" (1, 2 and 1).
int significant_digits(const std::string& text) {
  std::string digits;
  for (const char ch : text.substr(0, text.find_first_of("eE")))
    if (ch >= '0' && ch <= '9' && !(digits.empty() && ch == '0')) digits += ch;
  const size_t last = digits.find_last_not_of('0');
  return last == std::string::npos ? 0 : static_cast<int>(last + 1);
}

}  // namespace

TEST_CASE("to_toml's floats read back as the same doubles, through the config reader's path") {
  // Any value's line "key = text": the reader's check accepts text, and the double it names,
  // passed on as make_numbers_exact does (hexadecimal, read by CLI11 with strtold and rounded to
  // double), is bit for bit the value written.
  auto value_of = [](const std::string& toml, const std::string& key) {
    const std::string start = "\n" + key + " = ";
    const size_t at = toml.find(start);
    REQUIRE(at != std::string::npos);
    const size_t from = at + start.size();
    return toml.substr(from, toml.find('\n', from) - from);
  };
  auto read_back = [](const std::string& text) {
    const std::string hex = fmt::format("{:a}", std::strtod(text.c_str(), nullptr));
    return static_cast<double>(std::strtold(hex.c_str(), nullptr));
  };
  std::mt19937_64 rng(13);
  std::uniform_real_distribution<double> exponent(-12, 12), unit(0, 1);
  std::vector<double> values = {0.1, 0.2, 0.3, 2e-3, 1e-8, 0.7, 1.0 / 3.0, 0.1 + 0.2, 1e30};
  for (int i = 0; i < 2000; ++i) values.push_back(std::pow(10.0, exponent(rng)));
  for (int i = 0; i < 2000; ++i) values.push_back(unit(rng));
  for (const double v : values) {
    nca::TrainConfig c;
    c.lr = v;
    c.lr_decay = v;
    c.model.fire_rate = v;
    c.model.alive_threshold = v;
    const std::string toml = c.to_toml();
    for (const char* key : {"lr", "lr-decay", "fire-rate", "alive-threshold"}) {
      const std::string text = value_of(toml, key);
      INFO(key << " = " << text);
      CHECK(nca::check_float_text(text).empty());
      CHECK(read_back(text) == v);
      // Shortest: with one significant digit less, no decimal names v.
      const int digits = significant_digits(text);
      if (digits > 1)
        CHECK(std::strtod(fmt::format("{:.{}e}", v, digits - 2).c_str(), nullptr) != v);
    }
  }
  const std::string defaults = nca::TrainConfig().to_toml();
  CHECK(value_of(defaults, "lr") == "0.002");
  CHECK(value_of(defaults, "lr-decay") == "0.1");
}

TEST_CASE("integers are read as written: decimal, in range, nothing clamped or wrapped") {
  auto read = [](std::string text, bool is_unsigned = false) {
    const std::string problem = nca::check_integer_text(text, is_unsigned);
    return problem.empty() ? text : "error: " + problem;
  };
  CHECK(read("100") == "100");
  CHECK(read("010") == "10");  // CLI11 alone: octal 8
  CHECK(read("+7") == "7");
  CHECK(read("-0") == "0");
  CHECK(read("0000") == "0");
  CHECK(read("-12") == "-12");
  CHECK(read("9223372036854775807") == "9223372036854775807");
  CHECK(read("18446744073709551615", true) == "18446744073709551615");
  CHECK_THAT(read("0x10"), Contains("'0x10' is not a whole number in decimal digits"));
  CHECK_THAT(read("1e3"), Contains("not a whole number"));
  CHECK_THAT(read("1.5"), Contains("not a whole number"));
  CHECK_THAT(read(""), Contains("not a whole number"));
  CHECK_THAT(read(" 5"), Contains("not a whole number"));
  CHECK_THAT(read("-"), Contains("not a whole number"));
  CHECK_THAT(read("9223372036854775808"), Contains("is out of range"));  // CLI11: clamped
  CHECK_THAT(read("99999999999999999999999"), Contains("is out of range"));
  CHECK_THAT(read("18446744073709551616", true), Contains("is out of range"));
  CHECK_THAT(read("-1", true), Contains("'-1' must be zero or more"));  // CLI11: wrapped
  CHECK(read(std::string(1000, '7')).size() < 200);  // an unbounded value is not echoed whole
}

TEST_CASE("floats are read as written: finite decimal numbers only") {
  for (const char* good : {"0.002", "2e-3", "2E-3", "1", "-1.5", "+.5", "5.", "1e308", "0"})
    CHECK(nca::check_float_text(good).empty());
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity", "0x1p3", "1e", ".", "", "1,5",
                          "1.5.2", "e5", " 1"})
    CHECK_THAT(nca::check_float_text(bad), Contains("is not a decimal number"));
  CHECK_THAT(nca::check_float_text("1e309"), Contains("out of the range of a double"));
  CHECK_THAT(nca::check_float_text("1e-400"), Contains("out of the range of a double"));
}

TEST_CASE("config files: one value per key, numbers unquoted, text quoted") {
  const auto kind = [](const std::string& key) {
    if (key == "iters" || key == "lr") return nca::KeyKind::Number;
    if (key == "target") return nca::KeyKind::Text;
    if (key == "resume") return nca::KeyKind::Flag;
    return nca::KeyKind::Unknown;
  };
  const auto check = [&](const std::string& text) { return nca::check_config_text(text, kind); };
  CHECK(check("# comment\n\niters = 100  # trailing\ntarget = \"a b.png\"\nlr = 2e-3\n").empty());
  CHECK(check("target = 'x.png' # single quotes\r\nresume = true\n").empty());
  CHECK(check("[section]\nwhatever = 1\nwhatever = 2\n").empty());  // CLI11 names unknown keys
  CHECK(check("iters = 100\niters = 200\n") ==
        "line 2: key 'iters' is given twice (first on line 1)");
  CHECK(check("iters =\n") == "line 1: key 'iters' has no value");
  CHECK(check("iters = # none\n") == "line 1: key 'iters' has no value");
  CHECK(check("iters = \"100\"\n") ==
        "line 1: iters = \"100\": a number is written without quotes (iters = 100)");
  CHECK(check("iters = \"lots\" # a comment\n") == "line 1: iters takes a number, got \"lots\"");
  CHECK(check("target = lizard.png\n") ==
        "line 1: target = lizard.png: text is written in quotes (target = \"lizard.png\")");
  CHECK(check("target = \"lizard.png\n") ==
        "line 1: target = \"lizard.png: the quote is not closed");
  CHECK(check("target = \"a\" b\n") == "line 1: target = \"a\" b: text after the closing quote");
  CHECK(check("iters 100\n") == "line 1: expected key = value, got 'iters 100'");
  CHECK(check("= 100\n") == "line 1: '= 100' has no key before '='");
  // What to_toml writes passes.
  nca::TrainConfig c;
  c.target = "t.png";
  const auto every = [](const std::string& key) {
    for (const char* text : {"target", "experiment", "perception", "arch", "device", "backend"})
      if (key == text) return nca::KeyKind::Text;
    return nca::KeyKind::Number;
  };
  CHECK(nca::check_config_text(c.to_toml(), every).empty());
}
