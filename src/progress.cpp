// The progress line and the time-left estimate (nca/progress.h).
#include "nca/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <fmt/format.h>

namespace nca {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string format_clock(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, s % 3600 / 60, s % 60);
  return fmt::format("{:02d}:{:02d}", s / 60, s % 60);
}

std::string format_progress_line(const ProgressLine& p, int width) {
  const int64_t total = std::max<int64_t>(p.total, 1);
  const double fraction =
      std::clamp(static_cast<double>(p.done) / static_cast<double>(total), 0.0, 1.0);
  const std::string percent = fmt::format("{:3d}%", static_cast<int>(fraction * 100));
  std::string rate = "?it/s";
  // About three significant digits, as tqdm shows them.
  const auto digits = [](double v) {
    return v >= 100  ? fmt::format("{:.0f}", v)
           : v >= 10 ? fmt::format("{:.1f}", v)
                     : fmt::format("{:.2f}", v);
  };
  if (p.rate > 0) rate = p.rate >= 1 ? digits(p.rate) + "it/s" : digits(1 / p.rate) + "s/it";
  const std::string clock =
      fmt::format("{}<{}", format_clock(p.elapsed), p.eta < 0 ? "?" : format_clock(p.eta));
  const std::string count = fmt::format("{}/{}", p.done, p.total);
  const std::string loss = p.has_loss ? fmt::format(", loss {:.4g}", p.loss) : "";
  const std::string log10 = p.has_loss ? fmt::format(", log10 {:.3f}", p.log10_loss) : "";
  const int usable = width - 1;  // the last column would make the terminal wrap
  constexpr int kMinBar = 5;
  // Longest first: bar and loss, bar without loss, no bar, then cut to fit.
  for (int variant = 0; variant < 3; ++variant) {
    const std::string tail =
        fmt::format(" {} [{}, {}{}{}]", count, clock, rate, variant == 0 ? loss : "", log10);
    if (variant < 2) {
      const int bar = usable - static_cast<int>(percent.size() + 2 + tail.size());
      if (bar < kMinBar) continue;
      const auto filled = static_cast<int>(fraction * bar);
      return percent + "|" + std::string(filled, '#') + std::string(bar - filled, ' ') + "|" + tail;
    }
    const std::string line = percent + tail;
    return line.substr(0, static_cast<size_t>(std::max(usable, 0)));
  }
  return {};
}

void EtaEstimator::add(double seconds_per_iteration) {
  if (!(seconds_per_iteration >= 0) || !std::isfinite(seconds_per_iteration)) return;
  ++count_;
  // The plain mean over the first 20 (no start-up bias), then a moving average that follows the
  // rate as it changes.
  const double weight = count_ <= 20 ? 1.0 / static_cast<double>(count_) : 0.05;
  smoothed_ += weight * (seconds_per_iteration - smoothed_);
}

double EtaEstimator::seconds_per_iteration() const { return smoothed_; }

double EtaEstimator::eta(int64_t remaining) const {
  if (count_ == 0 && floor_ <= 0) return -1;
  return std::max(smoothed_, floor_) * static_cast<double>(std::max<int64_t>(remaining, 0));
}

void RecentMean::add(double v) {
  values_.push_back(v);
  if (values_.size() > n_) values_.pop_front();
}

double RecentMean::mean() const {
  if (values_.empty()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (double v : values_) sum += v;
  return sum / static_cast<double>(values_.size());
}

}  // namespace nca
