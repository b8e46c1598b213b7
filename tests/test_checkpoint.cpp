// Checkpoints: round trip, optimiser state, atomic writes, and refusal of bad files.
#include <filesystem>
#include <fstream>

#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "nca/checkpoint.h"
#include "nca/trainer.h"
#include "test_util.h"

using Catch::Matchers::Contains;
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
