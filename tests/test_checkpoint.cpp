// Checkpoints: round trip, optimiser state, atomic writes, and refusal of bad files.
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include <torch/torch.h>
#include "catch.h"

#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/pool_file.h"
#include "nca/trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

nca::TrainConfig tiny() {
  nca::TrainConfig c;
  c.experiment = nca::Experiment::Persistent;
  c.size = 6;
  c.pad = 3;
  c.batch = 2;
  c.pool = 4;
  c.min_steps = 2;
  c.max_steps = 4;
  return c;
}

torch::Tensor blob_target(const nca::TrainConfig& c) {
  auto t = torch::zeros({4, c.grid(), c.grid()});
  t.index_put_(
      {torch::indexing::Slice(), torch::indexing::Slice(4, 8), torch::indexing::Slice(4, 8)}, 0.8);
  return t;
}

}  // namespace

TEST_CASE("a checkpoint round trip gives identical outputs, iteration and optimiser state") {
  nca::test::TempDir dir;
  auto cfg = tiny();
  nca::Trainer a(cfg, blob_target(cfg), torch::kCPU);
  for (int i = 0; i < 3; ++i) a.step();
  a.save(dir.file("model.pt"), dir.file("pool.pt"));

  auto info = nca::read_checkpoint_info(dir.file("model.pt"));
  CHECK(info.iteration == 3);
  CHECK(info.format == nca::kCheckpointFormat);
  CHECK(info.model == cfg.model);
  CHECK_THAT(info.train_config, Contains("experiment = \"persistent\""));
  REQUIRE(info.target.defined());
  CHECK(torch::equal(info.target, blob_target(cfg)));

  // The model alone: same output for the same state and fire mask.
  auto model = nca::load_model(dir.file("model.pt"));
  auto gen = at::detail::createCPUGenerator(9);
  auto x = a.last_batch_after();
  auto fire = nca::fire_mask(x.size(0), x.size(2), x.size(3), 0.5, gen);
  {
    torch::NoGradGuard no_grad;
    CHECK(torch::equal(model->step(x, fire), a.model()->step(x, fire)));
  }

  // A resumed trainer continues exactly as the original would have.
  nca::Trainer b(cfg, blob_target(cfg), torch::kCPU);
  b.load(dir.file("model.pt"), dir.file("pool.pt"));
  CHECK(b.iteration() == 3);
  CHECK(torch::equal(b.pool()->states(), a.pool()->states()));
  for (int i = 0; i < 2; ++i) CHECK(b.step().loss == a.step().loss);
}

TEST_CASE("pool.pt is written as the pool is kept: a pool of seeds takes a few kilobytes") {
  nca::test::TempDir dir;
  auto cfg = tiny();
  cfg.size = 40;  // the reference grid, 72 x 72
  cfg.pad = 16;
  cfg.pool = 256;
  nca::Trainer a(cfg, blob_target(cfg), torch::kCPU);
  a.save(dir.file("model.pt"), dir.file("pool.pt"));
  // As one tensor: 256 x 16 x 72 x 72 floats, 85 MB. Compact: a box and 16 floats a state.
  const double full = 256.0 * 16 * 72 * 72 * 4;
  CHECK(static_cast<double>(fs::file_size(dir.file("pool.pt"))) < full / 1000);
  nca::Trainer b(cfg, blob_target(cfg), torch::kCPU);
  b.pool()->commit(torch::tensor({3}, torch::kLong), torch::ones({1, 16, 72, 72}));
  CHECK(b.load(dir.file("model.pt"), dir.file("pool.pt")).pool_loaded);
  CHECK(torch::equal(b.pool()->states(), a.pool()->states()));
}

TEST_CASE("a pool.pt of the first format (one states tensor) resumes exactly") {
  nca::test::TempDir dir;
  auto cfg = tiny();
  nca::Trainer a(cfg, blob_target(cfg), torch::kCPU);
  for (int i = 0; i < 3; ++i) a.step();
  a.save(dir.file("model.pt"));
  torch::serialize::OutputArchive old;  // what nca wrote before the compact layout
  old.write("states", a.pool()->states());
  old.write("iteration", c10::IValue(a.iteration()));
  nca::write_archive_atomically(dir.file("pool.pt"), old);

  nca::Trainer b(cfg, blob_target(cfg), torch::kCPU);
  const auto loaded = b.load(dir.file("model.pt"), dir.file("pool.pt"));
  CHECK(loaded.pool_loaded);
  CHECK(loaded.pool_iteration == 3);
  CHECK(torch::equal(b.pool()->states(), a.pool()->states()));
  for (int i = 0; i < 2; ++i) CHECK(b.step().loss == a.step().loss);
}

TEST_CASE("a pool.pt of another pool size, run or rank is refused") {
  nca::test::TempDir dir;
  auto cfg = tiny();
  nca::Trainer a(cfg, blob_target(cfg), torch::kCPU);
  a.save(dir.file("model.pt"), dir.file("pool.pt"));
  auto other = cfg;
  other.pool = 8;
  nca::Trainer b(other, blob_target(other), torch::kCPU);
  // The pool says whose it is: the setting that differs is named.
  CHECK_THROWS_WITH(b.load(dir.file("model.pt"), dir.file("pool.pt")),
                    "cannot load pool '" + dir.file("pool.pt") +
                        "': it is another run's (pool = 4, not 8): put this run's pool back, or go "
                        "on with a new pool of seeds with --new-pool");
  // A pool written before pools said whose they are: its shape is still checked.
  nca::write_pool_file(dir.file("old.pt"), *a.pool(), 0);
  CHECK_THROWS_WITH(b.load(dir.file("model.pt"), dir.file("old.pt")),
                    "cannot load pool '" + dir.file("old.pt") +
                        "': pool of shape [4, 16, 12, 12] does not fit this run's pool [8, 16, "
                        "12, 12]");
  auto seeded = cfg;
  seeded.seed = 7;
  nca::Trainer c(seeded, blob_target(seeded), torch::kCPU);
  CHECK_THROWS_WITH(c.load(dir.file("model.pt"), dir.file("pool.pt")),
                    Contains("it is another run's (seed = 0, not 7)"));
  auto rank1 = cfg;
  rank1.rank = 1;
  rank1.world_size = 2;
  nca::Trainer d(rank1, blob_target(rank1), torch::kCPU);
  CHECK_THROWS_WITH(d.load(dir.file("model.pt"), dir.file("pool.pt")),
                    Contains("it is rank 0's share of the pool, not rank 1's"));
}

TEST_CASE("bad checkpoint files are refused with a clear message") {
  nca::test::TempDir dir;
  auto cfg = tiny();
  nca::Trainer t(cfg, blob_target(cfg), torch::kCPU);
  t.save(dir.file("model.pt"));

  CHECK_THROWS_WITH(nca::load_model(dir.file("missing.pt")),
                    Contains("cannot load model") && Contains("no such file"));
  { std::ofstream(dir.file("text.pt")) << "this is not a checkpoint\n"; }
  CHECK_THROWS_WITH(nca::load_model(dir.file("text.pt")), Contains("corrupt or truncated"));

  // Truncated: the first half of a real checkpoint.
  const auto size = fs::file_size(dir.file("model.pt"));
  fs::copy_file(dir.file("model.pt"), dir.file("half.pt"));
  fs::resize_file(dir.file("half.pt"), size / 2);
  CHECK_THROWS_WITH(nca::load_model(dir.file("half.pt")), Contains("cannot load model"));

  // A torch archive that is not ours.
  torch::serialize::OutputArchive other;
  other.write("weights", torch::ones({3}));
  other.save_to(dir.file("other.pt"));
  CHECK_THROWS_WITH(nca::load_model(dir.file("other.pt")), Contains("not an nca checkpoint"));

  // Another architecture.
  nca::ModelConfig wide;
  wide.hidden = 64;
  nca::NCAModel model(wide);
  CHECK_THROWS_WITH(nca::load_checkpoint(dir.file("model.pt"), model),
                    Contains("trained with 16 channels, hidden 128") && Contains("hidden 64"));

  // A model without optimiser state cannot resume training.
  nca::CheckpointInfo bare;
  bare.model = cfg.model;
  nca::save_checkpoint(dir.file("bare.pt"), t.model(), bare);
  torch::optim::Adam opt(t.model()->parameters());
  CHECK_THROWS_WITH(nca::load_checkpoint(dir.file("bare.pt"), t.model(), &opt),
                    Contains("no optimiser state"));
}

TEST_CASE("a failed save leaves the previous file intact and no temporary behind") {
  nca::test::TempDir dir;
  auto cfg = tiny();
  nca::Trainer t(cfg, blob_target(cfg), torch::kCPU);
  t.save(dir.file("model.pt"));
  const auto before = fs::file_size(dir.file("model.pt"));
  // A directory where the file should go makes the rename fail after the write succeeded.
  fs::create_directory(dir.file("taken.pt"));
  fs::create_directory(dir.file("taken.pt/x"));
  CHECK_THROWS_WITH(t.save(dir.file("taken.pt")), Contains("cannot write"));
  CHECK_THROWS_WITH(t.save(dir.file("no/such/dir/model.pt")), Contains("cannot write"));
  CHECK(fs::file_size(dir.file("model.pt")) == before);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path()))
    entries += e.path().filename().string()[0] == '.';
  CHECK(entries == 0);
}

TEST_CASE("resolve_model_path maps a run directory to its model.pt") {
  nca::test::TempDir dir;
  CHECK(nca::resolve_model_path(dir.path().string()) == (dir.path() / "model.pt").string());
  CHECK(nca::resolve_model_path("x/model.pt") == "x/model.pt");
}

namespace {

// A checkpoint written by hand: nca's header for `cfg` (hidden overridable), and the given
// tensors at dotted names under "model", plus anything in `extra` at the top level.
void write_custom(const std::string& path, const nca::ModelConfig& cfg,
                  const std::map<std::string, torch::Tensor>& weights,
                  const std::map<std::string, torch::Tensor>& extra = {}) {
  torch::serialize::OutputArchive a;
  a.write("magic", c10::IValue(std::string(nca::kCheckpointMagic)));
  a.write("format", c10::IValue(nca::kCheckpointFormat));
  a.write("iteration", c10::IValue(int64_t{7}));
  a.write("model.channels", c10::IValue(int64_t{cfg.channels}));
  a.write("model.hidden", c10::IValue(int64_t{cfg.hidden}));
  a.write("model.perception", c10::IValue(nca::to_string(cfg.perception)));
  a.write("model.fire_rate", c10::IValue(cfg.fire_rate));
  a.write("model.alive_threshold", c10::IValue(cfg.alive_threshold));
  a.write("train_config", c10::IValue(std::string("")));
  std::map<std::string, std::map<std::string, torch::Tensor>> children;
  torch::serialize::OutputArchive model;
  for (const auto& [name, t] : weights) {
    const auto dot = name.find('.');
    if (dot == std::string::npos)
      model.write(name, t, /*is_buffer=*/true);
    else
      children[name.substr(0, dot)][name.substr(dot + 1)] = t;
  }
  for (const auto& [name, tensors] : children) {
    torch::serialize::OutputArchive child;
    for (const auto& [key, t] : tensors) child.write(key, t);
    model.write(name, child);
  }
  a.write("model", model);
  for (const auto& [name, t] : extra) a.write(name, t);
  a.save_to(path);
}

// The weights of a fresh model of `cfg`, by dotted name.
std::map<std::string, torch::Tensor> fresh_weights(const nca::ModelConfig& cfg) {
  nca::NCAModel m(cfg);
  std::map<std::string, torch::Tensor> w;
  for (const auto& p : m->named_parameters()) w[p.key()] = p.value().detach().clone();
  for (const auto& b : m->named_buffers()) w[b.key()] = b.value().clone();
  return w;
}

}  // namespace

TEST_CASE("a hand-written checkpoint with the right tensors loads, from a file and from memory") {
  nca::test::TempDir dir;
  nca::ModelConfig cfg;
  cfg.hidden = 8;
  auto w = fresh_weights(cfg);
  w["conv2.weight"].fill_(0.25);
  write_custom(dir.file("ok.pt"), cfg, w);
  nca::CheckpointInfo info;
  auto model = nca::load_model(dir.file("ok.pt"), &info);
  CHECK(info.iteration == 7);
  CHECK(info.model.hidden == 8);
  auto params = model->named_parameters();
  CHECK(torch::equal(params["conv2.weight"], w["conv2.weight"]));
  const std::string bytes = nca::read_file(dir.file("ok.pt"));
  auto again = nca::load_model_from_memory(bytes.data(), bytes.size(), "mem.pt");
  CHECK(torch::equal(again->named_parameters()["conv1.weight"], w["conv1.weight"]));
}

TEST_CASE("hostile checkpoints are refused before they can do harm") {
  nca::test::TempDir dir;
  nca::ModelConfig cfg;
  cfg.hidden = 8;
  const std::string path = dir.file("bad.pt");
  auto refused = [&](const std::string& why) {
    INFO(why);
    CHECK_THROWS_WITH(nca::load_model(path),
                      Contains("cannot load model '" + path + "'") && Contains(why));
  };

  SECTION("a weight of the wrong shape") {
    auto w = fresh_weights(cfg);
    w["conv1.weight"] = torch::zeros({8, 64, 3, 3});
    write_custom(path, cfg, w);
    refused("weight 'conv1.weight' has shape [8, 64, 3, 3], expected [8, 64, 1, 1]");
  }
  SECTION("a missing weight") {
    auto w = fresh_weights(cfg);
    w.erase("conv1.bias");
    write_custom(path, cfg, w);
    refused("weight 'conv1.bias' is missing");
  }
  SECTION("NaN in the weights") {
    auto w = fresh_weights(cfg);
    w["conv2.weight"][0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
    write_custom(path, cfg, w);
    refused("not finite");
  }
  SECTION("weights of another type") {
    auto w = fresh_weights(cfg);
    w["conv1.bias"] = w["conv1.bias"].to(torch::kDouble);
    write_custom(path, cfg, w);
    refused("expected float32");
  }
  SECTION("perception filters that are not the fixed ones") {
    auto w = fresh_weights(cfg);
    w["kernels"] = w["kernels"] * 2;
    write_custom(path, cfg, w);
    refused("perception filters");
  }
  SECTION("a header claiming a huge model, with small weights: nothing huge is allocated") {
    nca::ModelConfig huge = cfg;
    huge.hidden = 4096;
    write_custom(path, huge, fresh_weights(cfg));
    refused("weight 'conv1.bias' has shape [8], expected [4096]");
    huge.hidden = 1 << 30;
    write_custom(path, huge, fresh_weights(cfg));
    refused("hidden must be in 1..4096");
  }
  SECTION("a field that does not fit an int") {
    write_custom(path, cfg, fresh_weights(cfg));
    torch::serialize::OutputArchive a;
    a.write("magic", c10::IValue(std::string(nca::kCheckpointMagic)));
    a.write("format", c10::IValue(nca::kCheckpointFormat));
    a.write("iteration", c10::IValue(int64_t{1}));
    a.write("model.channels", c10::IValue(int64_t{(1LL << 32) + 16}));
    a.save_to(path);
    refused("field 'model.channels' is out of range");
  }
  SECTION("a stored target with NaN or out of [0, 1]") {
    auto target = torch::zeros({4, 5, 5});
    target[3][2][2] = 2.0f;
    write_custom(path, cfg, fresh_weights(cfg), {{"target", target}});
    refused("outside [0, 1]");
    target[3][2][2] = std::numeric_limits<float>::quiet_NaN();
    write_custom(path, cfg, fresh_weights(cfg), {{"target", target}});
    refused("not finite");
  }
  SECTION("an empty file") {
    std::ofstream(path).close();
    refused("the file is empty");
  }
}

TEST_CASE("a failed save keeps model.pt, and pool.pt is written before model.pt") {
  nca::test::TempDir dir;
  auto cfg = tiny();
  nca::Trainer t(cfg, blob_target(cfg), torch::kCPU);
  t.step();
  t.save(dir.file("model.pt"), dir.file("pool.pt"));
  t.step();
  // pool.pt cannot be written (its name is taken by a directory): model.pt must stay at 1.
  fs::remove(dir.file("pool.pt"));
  fs::create_directories(dir.file("pool.pt/x"));
  CHECK_THROWS_WITH(t.save(dir.file("model.pt"), dir.file("pool.pt")),
                    Contains("cannot write '" + dir.file("pool.pt") + "'"));
  CHECK(nca::read_checkpoint_info(dir.file("model.pt")).iteration == 1);

  // A pool newer than the model (a kill between the two writes) is accepted and reported.
  fs::remove_all(dir.file("pool.pt"));
  t.save(dir.file("newer-model.pt"), dir.file("pool.pt"));
  nca::Trainer r(cfg, blob_target(cfg), torch::kCPU);
  const auto loaded = r.load(dir.file("model.pt"), dir.file("pool.pt"));
  CHECK(loaded.pool_loaded);
  CHECK(loaded.pool_iteration == 2);
  CHECK(r.iteration() == 1);
}
