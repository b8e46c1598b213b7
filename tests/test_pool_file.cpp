// pool.pt: the compact layout round trip, its size, format 1 files, and hand-made bad files
// refused with one line.
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include <torch/torch.h>
#include "catch.h"

#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "nca/model.h"
#include "nca/pool_file.h"
#include "test_util.h"

namespace {

// An archive's bytes as torch writes them.
std::string bytes_of(torch::serialize::OutputArchive& archive) {
  std::string out;
  archive.save_to([&](const void* data, size_t size) {
    out.append(static_cast<const char*>(data), size);
    return size;
  });
  return out;
}

// What write_pool_file writes for `c`, field by field, so that a test can change one.
struct Fields {
  c10::IValue magic{std::string(nca::kPoolMagic)};
  c10::IValue format{nca::kPoolFormat};
  c10::IValue iteration{int64_t{7}};
  nca::SamplePool::Compact compact;
  std::string bytes() const {
    torch::serialize::OutputArchive a;
    a.write("magic", magic);
    a.write("format", format);
    a.write("iteration", iteration);
    const char* names[] = {"size", "channels", "height", "width"};
    for (int i = 0; i < 4; ++i) a.write(names[i], c10::IValue(compact.shape[i]));
    if (compact.boxes.defined()) a.write("boxes", compact.boxes);
    if (compact.cells.defined()) a.write("cells", compact.cells);
    return bytes_of(a);
  }
};

// 6 states of 16 x 10 x 10: seeds, and one state grown to a 3 x 4 box.
nca::SamplePool small_pool() {
  nca::SamplePool pool(6, nca::seed_state(1, 16, 10, 10)[0]);
  auto grown = torch::zeros({1, 16, 10, 10});
  grown.index_put_(
      {0, torch::indexing::Slice(), torch::indexing::Slice(2, 5), torch::indexing::Slice(6, 10)},
      torch::linspace(0.5, 2, 16 * 3 * 4).view({16, 3, 4}));
  pool.commit(torch::tensor({4}, torch::kLong), grown);
  return pool;
}

std::string pool_refusal(const std::string& bytes) {
  return nca::test::refusal_of(
      [&] { nca::read_pool_from_memory(bytes.data(), bytes.size(), "bad.pt"); });
}

bool same_bits(const nca::SamplePool& a, const nca::SamplePool& b) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a.state(i).view(torch::kInt), b.state(i).view(torch::kInt))) return false;
  return true;
}

}  // namespace

TEST_CASE("pool.pt holds the pool as kept in memory: exact, and small for a pool of seeds",
          "[pool_file]") {
  nca::test::TempDir dir;
  // The reference setting, 1024 x 16 x 72 x 72 (340 MB as one tensor), three states grown to
  // the whole grid and the rest seeds.
  nca::SamplePool pool(1024, nca::seed_state(1, 16, 72, 72)[0]);
  auto gen = at::detail::createCPUGenerator(4);
  pool.commit(torch::tensor({0, 500, 1023}, torch::kLong), torch::randn({3, 16, 72, 72}, gen));
  nca::write_pool_file(dir.file("pool.pt"), pool, 42);

  const auto full = 1024.0 * 16 * 72 * 72 * 4;
  const auto bytes = static_cast<double>(std::filesystem::file_size(dir.file("pool.pt")));
  // 3 full states (995 KB), 1021 seeds of 16 floats (65 KB), 1024 boxes (33 KB), and the
  // archive's own records.
  CHECK(bytes < 1.2e6);
  CHECK(bytes < full / 250);

  const auto back = nca::read_pool_file(dir.file("pool.pt"));
  CHECK(back.iteration == 42);
  CHECK(same_bits(back.pool, pool));
}

TEST_CASE("pool.pt of a pool with no nonzero cell at all loads back", "[pool_file]") {
  nca::test::TempDir dir;
  nca::SamplePool pool(3, torch::zeros({4, 5, 6}));
  nca::write_pool_file(dir.file("pool.pt"), pool, 0);
  const auto back = nca::read_pool_file(dir.file("pool.pt"));
  CHECK(back.iteration == 0);
  CHECK(back.pool.compact().cells.numel() == 0);
  CHECK(same_bits(back.pool, pool));
}

TEST_CASE("a pool.pt of format 1 (one states tensor) still loads", "[pool_file]") {
  nca::test::TempDir dir;
  const auto pool = small_pool();
  torch::serialize::OutputArchive old;
  old.write("states", pool.states());
  old.write("iteration", c10::IValue(int64_t{12}));
  nca::write_archive_atomically(dir.file("pool.pt"), old);
  const auto back = nca::read_pool_file(dir.file("pool.pt"));
  CHECK(back.iteration == 12);
  CHECK(same_bits(back.pool, pool));

  torch::serialize::OutputArchive nan;
  nan.write("states", torch::full({2, 16, 4, 4}, std::nan("")));
  CHECK(pool_refusal(bytes_of(nan)) ==
        "cannot load pool 'bad.pt': it holds values that are not finite float32");
  torch::serialize::OutputArchive flat;
  flat.write("states", torch::zeros({16, 4, 4}));
  CHECK(pool_refusal(bytes_of(flat)) ==
        "cannot load pool 'bad.pt': its states are [16, 4, 4], expected pool x C x H x W");
}

TEST_CASE("an inconsistent pool.pt is refused with one line naming the file", "[pool_file]") {
  Fields good;
  good.compact = small_pool().compact();
  REQUIRE(pool_refusal(good.bytes()) == "accepted");
  const std::string prefix = "cannot load pool 'bad.pt': ";

  auto f = good;
  f.compact.boxes = good.compact.boxes.clone();
  f.compact.boxes[4][0] = 8;  // 3 rows from row 8 of 10
  CHECK(pool_refusal(f.bytes()) ==
        prefix + "state 4's box (row 8, column 6, 3 x 4) reaches outside the 10 x 10 grid");
  f.compact.boxes[4][0] = 2;
  f.compact.boxes[4][3] = -4;
  CHECK(pool_refusal(f.bytes()) ==
        prefix + "state 4's box (row 2, column 6, 3 x -4) has a negative size");

  f = good;
  f.compact.cells = good.compact.cells.slice(0, 1);
  CHECK(pool_refusal(f.bytes()) == prefix + "it holds 271 cell values where its boxes need 272");
  f.compact.cells = good.compact.cells.to(torch::kHalf);
  CHECK(pool_refusal(f.bytes()) == prefix + "its cells are Half [272], expected a float32 vector");
  f.compact.cells = good.compact.cells.clone();
  f.compact.cells[3] = -std::numeric_limits<float>::infinity();
  CHECK(pool_refusal(f.bytes()) == prefix + "it holds values that are not finite float32");
  f.compact.cells = at::Tensor();
  CHECK(pool_refusal(f.bytes()) == prefix + "it has no tensor 'cells'");

  f = good;
  f.compact.boxes = good.compact.boxes.to(torch::kDouble);
  CHECK(pool_refusal(f.bytes()) == prefix + "its boxes are Double [6, 4], expected int64 [6, 4]");
  f.compact.shape[0] = 7;
  CHECK(pool_refusal(f.bytes()) == prefix + "its boxes are Double [6, 4], expected int64 [7, 4]");
  f.compact.shape = {6, 16, 10, 100000};
  f.compact.boxes = good.compact.boxes;
  CHECK_THAT(pool_refusal(f.bytes()), Contains("a pool of 6 x 16 x 10 x 100000 is none nca makes"));

  f = good;
  f.magic = c10::IValue(std::string("nca-checkpoint"));
  CHECK(pool_refusal(f.bytes()) == prefix + "not an nca pool (no nca-pool header)");
  f = good;
  f.format = c10::IValue(int64_t{3});
  CHECK(pool_refusal(f.bytes()) == prefix + "pool format 3, this build of nca reads 1 and 2");
  f = good;
  f.iteration = c10::IValue(std::string("7"));
  CHECK(pool_refusal(f.bytes()) == prefix + "its 'iteration' is not an integer");
  f.iteration = c10::IValue(int64_t{-1});
  CHECK(pool_refusal(f.bytes()) == prefix + "negative iteration count");

  // Cut short anywhere, or a checkpoint where the pool should be: never loaded.
  const std::string bytes = good.bytes();
  for (size_t keep : {size_t{0}, size_t{100}, bytes.size() / 2, bytes.size() - 1})
    CHECK(pool_refusal(bytes.substr(0, keep)) == prefix + "corrupt or truncated");
  const std::string model =
      nca::read_file(nca::test::source_path("data/models/lizard-regenerating.pt"));
  CHECK(pool_refusal(model) == prefix + "not an nca pool (no nca-pool header)");
}
