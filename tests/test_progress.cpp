// The progress line (tqdm-style, fitted to the terminal) and the time-left estimate.
#include "catch.h"

#include <algorithm>
#include <cmath>

#include "nca/progress.h"

namespace {

nca::ProgressLine sample_line() {
  nca::ProgressLine p;
  p.done = 2960;
  p.total = 8000;
  p.elapsed = 723;
  p.eta = 1231;
  p.rate = 4.0944;
  p.loss = 0.00123456;
  p.log10_loss = -2.9085;
  return p;
}

}  // namespace

TEST_CASE("format_duration and format_clock write seconds as people read them") {
  CHECK(nca::format_duration(12.4) == "12s");
  CHECK(nca::format_duration(185) == "3m05s");
  CHECK(nca::format_duration(3727) == "1h02m");
  CHECK(nca::format_duration(-1) == "?");
  CHECK(nca::format_duration(std::nan("")) == "?");
  CHECK(nca::format_clock(185) == "03:05");
  CHECK(nca::format_clock(3727) == "1:02:07");
}

TEST_CASE("the progress line holds percentage, count, elapsed, time left, rate and loss") {
  const std::string line = nca::format_progress_line(sample_line(), 120);
  CHECK(line.rfind(" 37%|", 0) == 0);
  CHECK(line.find("| 2960/8000 [12:03<20:31, 4.09it/s, loss 0.001235, log10 -2.909]") !=
        std::string::npos);
  CHECK(line.size() == 119);  // fills the width but the last column
  const size_t bar_from = line.find('|') + 1, bar_to = line.find('|', bar_from);
  const std::string bar = line.substr(bar_from, bar_to - bar_from);
  const auto filled = static_cast<size_t>(std::count(bar.begin(), bar.end(), '#'));
  CHECK(filled == static_cast<size_t>(0.37 * static_cast<double>(bar.size())));
}

TEST_CASE("the progress line never reaches the last column, however narrow the terminal") {
  for (int width : {200, 100, 80, 60, 50, 40, 30, 20, 10, 1}) {
    const std::string line = nca::format_progress_line(sample_line(), width);
    INFO("width " << width << ": " << line);
    CHECK(static_cast<int>(line.size()) <= std::max(width - 1, 0));
  }
  // At 60 columns the bar gives way to the numbers: the loss stays, the count stays.
  const std::string narrow = nca::format_progress_line(sample_line(), 60);
  CHECK(narrow.find("2960/8000") != std::string::npos);
  CHECK(narrow.find("log10 -2.909") != std::string::npos);
}

TEST_CASE("the progress line says ? for what is not known yet, and s/it when slow") {
  nca::ProgressLine p;
  p.total = 100;
  p.has_loss = false;
  const std::string start = nca::format_progress_line(p, 80);
  CHECK(start.find("0/100 [00:00<?, ?it/s]") != std::string::npos);
  p.done = 1;
  p.rate = 0.25;
  p.eta = 396;
  CHECK(nca::format_progress_line(p, 80).find("[00:00<06:36, 4.00s/it]") != std::string::npos);
}

TEST_CASE("EtaEstimator: the mean of the first iterations, then a moving average") {
  nca::EtaEstimator eta;
  CHECK(eta.eta(10) == -1);
  eta.add(1.0);
  eta.add(3.0);
  CHECK(eta.seconds_per_iteration() == Approx(2.0));
  CHECK(eta.eta(10) == Approx(20.0));
  for (int i = 0; i < 200; ++i) eta.add(5.0);
  CHECK(eta.seconds_per_iteration() == Approx(5.0).epsilon(1e-3));
  eta.add(std::nan(""));  // ignored
  CHECK(std::isfinite(eta.eta(1)));
}

TEST_CASE("EtaEstimator: a pool run's early, cheap iterations do not shorten the estimate") {
  // Iterations from seeds cost 0.05 s; grown states will cost 0.3 s each.
  nca::EtaEstimator eta(0.3);
  CHECK(eta.eta(100) == Approx(30.0));  // known before the first iteration
  for (int i = 0; i < 30; ++i) eta.add(0.05);
  CHECK(eta.eta(100) == Approx(30.0));
  for (int i = 0; i < 400; ++i) eta.add(0.4);  // slower than the floor: the measurement wins
  CHECK(eta.eta(100) == Approx(40.0).epsilon(1e-3));
}

TEST_CASE("RecentMean: the mean of the last n values") {
  nca::RecentMean m(3);
  CHECK(std::isnan(m.mean()));
  for (double v : {100.0, 1.0, 2.0, 3.0}) m.add(v);
  CHECK(m.size() == 3);
  CHECK(m.mean() == Approx(2.0));
}
