// nca export's two formats, from C++: the TorchScript module computes NCAModel::step (Python's
// side is tests/export/test_export_torch.sh), and the web page carries the model's exact weights
// (the page's arithmetic is tested in Chromium by tests/export/test_export_web.sh).
#include <filesystem>
#include <fstream>

#include <torch/script.h>
#include <torch/torch.h>
#include "catch.h"

#include "nca/errors.h"
#include "nca/torchscript.h"
#include "nca/web_page.h"
#include "test_util.h"

using nca::ModelConfig;
using nca::NCAModel;

namespace {

// A model whose update is not zero, so that a step changes something.
NCAModel trained_looking_model(const ModelConfig& cfg = {}) {
  NCAModel model(cfg);
  auto gen = at::detail::createCPUGenerator(5);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.copy_(torch::randn(p.sizes(), gen) * 0.2);
  return model;
}

// A state with a blob of alive cells in the middle of a 20x20 grid.
torch::Tensor blob_state(int64_t n = 2) {
  auto gen = at::detail::createCPUGenerator(9);
  auto x = torch::zeros({n, 16, 20, 20});
  x.slice(2, 6, 14).slice(3, 5, 15).copy_(torch::rand({n, 16, 8, 10}, gen));
  return x;
}

std::string tensor_base64(const torch::Tensor& t) {
  auto c = t.detach().contiguous();
  return nca::base64(c.data_ptr<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
}

}  // namespace

TEST_CASE("base64 follows RFC 4648") {
  auto b64 = [](const std::string& s) { return nca::base64(s.data(), s.size()); };
  CHECK(b64("") == "");
  CHECK(b64("f") == "Zg==");
  CHECK(b64("fo") == "Zm8=");
  CHECK(b64("foo") == "Zm9v");
  CHECK(b64("foobar") == "Zm9vYmFy");
  const unsigned char high[] = {0xff, 0xfe, 0xfd};
  CHECK(nca::base64(high, 3) == "//79");
}

TEST_CASE("the TorchScript module computes NCAModel::step") {
  for (auto perception : {nca::Perception::Full, nca::Perception::Distill}) {
    ModelConfig cfg;
    cfg.perception = perception;
    cfg.alive_threshold = 0.3;
    auto model = trained_looking_model(cfg);
    auto module = nca::to_torchscript(model, 20);
    torch::NoGradGuard no_grad;
    auto x = blob_state();
    auto gen = at::detail::createCPUGenerator(3);
    auto fire = nca::fire_mask(2, 20, 20, 0.5, gen);
    auto want = model->step(x, fire);
    auto got = module.forward({x, fire}).toTensor();
    CHECK(torch::allclose(got, want, /*rtol=*/0, /*atol=*/1e-6));
    CHECK_FALSE(torch::equal(want, x));
    // The pieces too, and the seed.
    CHECK(torch::allclose(module.run_method("perceive", x).toTensor(), model->perceive(x)));
    CHECK(
        torch::equal(module.run_method("seed", 2, 9, 8).toTensor(), nca::seed_state(2, 16, 9, 8)));
    CHECK(module.attr("alive_threshold").toDouble() == 0.3);
    CHECK(module.attr("perception").toStringRef() == nca::to_string(perception));
  }
}

TEST_CASE("the module's stochastic step fires only some cells") {
  auto model = trained_looking_model();
  auto module = nca::to_torchscript(model, 20);
  torch::NoGradGuard no_grad;
  auto x = blob_state(1);
  auto updated = x + model->update(model->perceive(x));
  auto y = module.run_method("step", x).toTensor();
  // Each cell either fired (x + dx), did not (x), or was masked (0).
  auto fired = (y == updated).all(1);
  auto kept = (y == x).all(1);
  CHECK((fired | kept | (y == 0).all(1)).all().item<bool>());
  CHECK(fired.logical_and(kept.logical_not()).any().item<bool>());
  CHECK(kept.logical_and(fired.logical_not()).any().item<bool>());
}

TEST_CASE("export_torchscript writes a module that loads back") {
  nca::test::TempDir dir;
  auto model = trained_looking_model();
  const auto path = dir.file("m.pt");
  nca::export_torchscript(model, path, 40);
  auto loaded = torch::jit::load(path);
  // The grid the model was trained on travels with it, for Python's m.seed(1, g, g).
  REQUIRE(loaded.hasattr("training_grid"));
  CHECK(loaded.attr("training_grid").toInt() == 40);
  torch::NoGradGuard no_grad;
  auto x = blob_state();
  auto fire = torch::ones({2, 1, 20, 20});
  CHECK(torch::allclose(loaded.forward({x, fire}).toTensor(), model->step(x, fire), 0, 1e-6));
  int64_t count = 0;
  for (const auto& p : loaded.parameters()) count += p.numel();
  CHECK(count == model->parameter_count());

  CHECK_THROWS_AS(nca::export_torchscript(model, dir.file("no/such/dir/m.pt"), 40),
                  std::runtime_error);
  CHECK_FALSE(std::filesystem::exists(dir.file("no")));

  // What export writes, it recognises (and may replace); nothing else.
  CHECK(nca::is_torchscript_export(path));
  std::ofstream(dir.file("notes.pt")) << "my data";
  CHECK_FALSE(nca::is_torchscript_export(dir.file("notes.pt")));
  CHECK_FALSE(nca::is_torchscript_export(dir.file("missing.pt")));
  torch::jit::Module other("Other");
  other.register_attribute("x", c10::IntType::get(), int64_t{1});
  other.save(dir.file("other.pt"));
  CHECK_FALSE(nca::is_torchscript_export(dir.file("other.pt")));
}

TEST_CASE("the web page embeds the config and the exact weights") {
  auto model = trained_looking_model();
  nca::WebPageOptions o;
  o.width = 40;
  o.height = 30;
  o.description = "a </script> \"quoted\" name";
  const auto page = nca::web_page(model, o);
  auto params = model->named_parameters();
  CHECK(page.find(tensor_base64(params["conv1.weight"])) != std::string::npos);
  CHECK(page.find(tensor_base64(params["conv1.bias"])) != std::string::npos);
  CHECK(page.find(tensor_base64(params["conv2.weight"])) != std::string::npos);
  // The 4 perception filters, once (not once per channel).
  auto kernels = nca::perception_kernels(model->config()).slice(0, 0, 4);
  CHECK(page.find("\"kernels\":\"" + tensor_base64(kernels) + "\"") != std::string::npos);
  CHECK(page.find("\"width\":40,\"height\":30,\"channels\":16,\"hidden\":128,\"filters\":4") !=
        std::string::npos);
  CHECK(page.find("\"fireRate\":0.5") != std::string::npos);
  CHECK(page.find("\"aliveThreshold\":0.10000000000000001") != std::string::npos);
  // The description cannot close the <script> element it sits in.
  CHECK(page.find("a \\u003c/script\\u003e \\\"quoted\\\" name") != std::string::npos);
  CHECK(page.find("</script> \"quoted") == std::string::npos);
  CHECK(page.find("@NCA_MODEL_JSON@") == std::string::npos);
  CHECK(page.find("http://") == std::string::npos);
  CHECK(page.find("https://") == std::string::npos);
}

TEST_CASE("the web page refuses grids it cannot run, and export writes index.html") {
  auto model = trained_looking_model();
  nca::WebPageOptions o;
  o.width = 2;
  CHECK_THROWS_AS(nca::web_page(model, o), nca::UsageError);
  o.width = 513;
  CHECK_THROWS_AS(nca::web_page(model, o), nca::UsageError);

  nca::test::TempDir dir;
  const auto out = dir.file("deep/page");
  const auto path = nca::export_web_page(model, out);
  CHECK(path == (std::filesystem::path(out) / "index.html").string());
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  CHECK(first == "<!doctype html>");
  std::ofstream(dir.file("file")) << "x";
  CHECK_THROWS_AS(nca::export_web_page(model, dir.file("file")), nca::UsageError);

  // Its own page it replaces; a page of someone else's it refuses, and leaves as it was.
  CHECK(nca::web_page(model).find(nca::kWebPageMark) < 512);
  CHECK_NOTHROW(nca::export_web_page(model, out));
  std::filesystem::create_directories(dir.file("mine"));
  std::ofstream(dir.file("mine/index.html")) << "<p>my page</p>";
  CHECK_THROWS_WITH(nca::export_web_page(model, dir.file("mine")),
                    "--web '" + dir.file("mine") +
                        "' holds an index.html that nca did not write: nca replaces only its own "
                        "pages; choose a new or empty folder");
  std::ifstream mine(dir.file("mine/index.html"));
  std::string kept;
  std::getline(mine, kept);
  CHECK(kept == "<p>my page</p>");
}
