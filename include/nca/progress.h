// The progress display of long work (training, bench): the line a terminal shows, in the style
// users know from tqdm, and the estimate of the time left. Pure functions of what was measured,
// so that tests can check them; the commands decide where the line goes (stderr).
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace nca {

// "1h02m", "3m05s", "12s"; "?" for a negative, non-finite or absurd value.
std::string format_duration(double seconds);
// tqdm's clock: "03:05", "1:02:07".
std::string format_clock(double seconds);

struct ProgressLine {
  int64_t done = 0, total = 0;
  double elapsed = 0;  // seconds since the work (this process's part of it) started
  double eta = -1;     // seconds left (< 0: unknown yet)
  double rate = 0;     // iterations per second (0: unknown yet)
  double loss = 0, log10_loss = 0;
  bool has_loss = true;
};
// " 37%|######      | 2960/8000 [12:03<20:31, 4.09it/s, loss 0.00123, log10 -2.910]", fitted
// into `width` columns without reaching the last one (a terminal wraps a line that fills it):
// the bar shrinks first, then the loss, then the bar goes; ASCII only (one byte, one column).
std::string format_progress_line(const ProgressLine& p, int width);

// The time left, from the measured seconds per iteration: their mean while there are few, then a
// moving average. `floor_seconds`: what an iteration is expected to cost once the run's states are
// grown (0: none). Pool runs start from seeds that cost little and grow slower iteration by
// iteration, so their early rate alone predicts far too short a run.
class EtaEstimator {
 public:
  explicit EtaEstimator(double floor_seconds = 0) : floor_(floor_seconds) {}
  void add(double seconds_per_iteration);
  double seconds_per_iteration() const;  // smoothed, 0 before the first
  double eta(int64_t remaining) const;   // -1 before the first measurement (and no floor)

 private:
  double floor_;
  double smoothed_ = 0;
  int64_t count_ = 0;
};

// The mean of the last `n` values added (the smoothed loss of a summary line and a picture title).
class RecentMean {
 public:
  explicit RecentMean(size_t n = 100) : n_(n) {}
  void add(double v);
  double mean() const;  // NaN when empty
  size_t size() const { return values_.size(); }

 private:
  size_t n_;
  std::deque<double> values_;
};

}  // namespace nca
