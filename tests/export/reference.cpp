// nca_reference (test-only, never installed): what the C++ model computes, as JSON for the
// export tests to compare against the web page (tests/export/web_test.mjs) and the TorchScript
// module in Python (tests/export/check_torch.py).
//
//   nca_reference MODEL OUT.json [GRID] [GROW_STEPS] [CURVE_STEPS] [ROLLOUTS]
//
// Writes {"channels", "parameters", "height", "width", "alive_threshold", "cases": [{"name",
// "state", "next"}], "coverage": [...]}: each case is a state (C x H x W, flattened) and the result
// of one deterministic step (every cell fires) from it; coverage[k] is the fraction of cells with
// alpha above the alive threshold after k stochastic steps from the seed, averaged over ROLLOUTS.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/model.h"

namespace {

std::string json_floats(const torch::Tensor& t) {
  const auto v = t.contiguous().to(torch::kFloat);
  const float* p = v.data_ptr<float>();
  std::string out = "[";
  char buf[32];
  for (int64_t i = 0; i < v.numel(); ++i) {
    // %.9g round-trips float32 exactly.
    std::snprintf(buf, sizeof buf, i ? ",%.9g" : "%.9g", static_cast<double>(p[i]));
    out += buf;
  }
  return out + "]";
}

int run(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: nca_reference MODEL OUT.json [GRID] [GROW_STEPS] [CURVE_STEPS] "
                 "[ROLLOUTS]\n";
    return 2;
  }
  const std::string model_path = argv[1], out_path = argv[2];
  const int64_t grid = argc > 3 ? std::stoll(argv[3]) : 72;
  const int grow_steps = argc > 4 ? std::stoi(argv[4]) : 120;
  const int curve_steps = argc > 5 ? std::stoi(argv[5]) : 300;
  const int64_t rollouts = argc > 6 ? std::stoll(argv[6]) : 1;

  torch::set_num_threads(1);  // small tensors; a second thread only adds noise on a shared box
  torch::NoGradGuard no_grad;
  nca::NCAModel model = nca::load_model(model_path);
  const auto& cfg = model->config();
  const auto threshold = cfg.alive_threshold;
  auto deterministic = [&](const torch::Tensor& x) {
    return model->step(x, torch::ones({x.size(0), 1, x.size(2), x.size(3)}));
  };

  // One rollout (batch `rollouts`) gives both the coverage curve and, at step GROW_STEPS, the
  // grown state of the step cases: stepping a 72x72 grid is the slow part of the tests.
  std::string coverage = "[";
  torch::Tensor grown;
  auto x = nca::seed_state(rollouts, cfg.channels, grid, grid);
  auto gen = at::detail::createCPUGenerator(1);
  for (int k = 0; k <= std::max(grow_steps, curve_steps); ++k) {
    if (k > 0) x = model->step(x, gen);
    if (k == grow_steps) grown = x.slice(0, 0, 1).clone();
    if (k > curve_steps) continue;
    const double c = (x.slice(1, 3, 4) > threshold).to(torch::kDouble).mean().item<double>();
    char buf[32];
    std::snprintf(buf, sizeof buf, k ? ",%.6f" : "%.6f", c);
    coverage += buf;
  }
  coverage += "]";

  std::string cases;
  auto add_case = [&](const std::string& name, const torch::Tensor& state) {
    cases += std::string(cases.empty() ? "" : ",") + "{\"name\":\"" + name +
             "\",\"state\":" + json_floats(state) +
             ",\"next\":" + json_floats(deterministic(state)) + "}";
  };
  add_case("seed", nca::seed_state(1, cfg.channels, grid, grid));
  add_case("grown", grown);
  // The left half cut away: a step right at an erased edge.
  auto damaged = grown.clone();
  damaged.slice(3, 0, grid / 2).zero_();
  add_case("damaged", damaged);

  char header[256];
  std::snprintf(header, sizeof header,
                "{\"channels\":%d,\"parameters\":%lld,\"height\":%lld,\"width\":%lld,"
                "\"alive_threshold\":%.17g,",
                cfg.channels, static_cast<long long>(model->parameter_count()),
                static_cast<long long>(grid), static_cast<long long>(grid), threshold);
  nca::write_text_atomically(
      out_path, std::string(header) + "\"cases\":[" + cases + "],\"coverage\":" + coverage + "}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "nca_reference: error: " << e.what() << "\n";
    return 1;
  }
}
