// The archive guard: nca's own archives pass; hand-made pickles and zip directories that claim
// more than they hold (what fuzzing found LibTorch allocating for) are refused with a reason.
#include <string>
#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>
#include "catch.h"

#include "nca/archive_guard.h"
#include "nca/atomic_file.h"
#include "nca/checkpoint.h"
#include "test_util.h"

namespace {

// Pickle opcodes, spelled as torch's pickler writes them (protocol 2).
struct Pickle {
  std::string bytes = "\x80\x02";
  Pickle& op(const std::string& s) { return bytes += s, *this; }
  Pickle& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes += static_cast<char>((v >> (8 * i)) & 0xFF);
    return *this;
  }
  Pickle& str(const std::string& s) { return op("X").u32(static_cast<uint32_t>(s.size())).op(s); }
  Pickle& int1(int v) { return op("K").op(std::string(1, static_cast<char>(v))); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op("c" + module + "\n" + name + "\n");
  }
  Pickle& ints(const std::vector<int>& v) {
    op("(");
    for (int x : v) int1(x);
    return op("t");
  }
  std::string stop() const { return bytes + "."; }
};

struct View {
  int numel = 4;  // the storage's claimed element count
  int offset = 0;
  std::vector<int> sizes{2, 2};
  std::vector<int> strides{2, 1};
};

// _rebuild_tensor_v2 of a float storage data/0, as torch writes a tensor.
Pickle tensor(const View& v) {
  Pickle p;
  p.global("torch._utils", "_rebuild_tensor_v2").op("(");
  p.op("(").str("storage").global("torch", "FloatStorage").str("0").str("cpu").int1(v.numel);
  p.op("tQ").int1(v.offset).ints(v.sizes).ints(v.strides).op("\x89");
  p.global("collections", "OrderedDict").op(")R");
  return p.op("tR");
}

// A zip as torch writes it: data.pkl, a 16-byte storage data/0, constants.pkl, version.
std::string archive(const std::string& data_pkl, size_t storage_bytes = 16) {
  std::string out;
  caffe2::serialize::PyTorchStreamWriter w([&](const void* d, size_t n) {
    out.append(static_cast<const char*>(d), n);
    return n;
  });
  w.writeRecord("data.pkl", data_pkl.data(), data_pkl.size());
  const std::string storage(storage_bytes, '\0');
  w.writeRecord("data/0", storage.data(), storage.size());
  const std::string constants = Pickle().op(")").stop();
  w.writeRecord("constants.pkl", constants.data(), constants.size());
  w.writeEndOfFile();
  return out;
}

std::string archive_refusal(const std::string& bytes) {
  return nca::test::refusal_of([&] { nca::check_archive(bytes.data(), bytes.size()); });
}

}  // namespace

TEST_CASE("archive guard: nca's own files pass", "[archive_guard]") {
  for (const char* name : {"lizard-regenerating.pt", "lizard-persistent.pt"}) {
    const std::string bytes = nca::read_file(std::string(NCA_SOURCE_DIR) + "/data/models/" + name);
    CHECK(archive_refusal(bytes) == "accepted");
  }
  CHECK(archive_refusal(archive(tensor({}).stop())) == "accepted");
}

TEST_CASE("archive guard: a string longer than the pickle is refused", "[archive_guard]") {
  const std::string pkl = Pickle().op("X").u32(0xFFFFFFFFu).op("abc").stop();
  CHECK_THAT(
      archive_refusal(archive(pkl)),
      Contains("corrupt or truncated") && Contains("data.pkl has a string that claims 4294967295 "
                                                   "bytes where 4 are left"));
}

TEST_CASE("archive guard: storages and tensor views must fit what the file holds",
          "[archive_guard]") {
  // The storage claims more floats than its 16-byte record holds.
  CHECK_THAT(archive_refusal(archive(tensor({/*numel*/ 5, 0, {5}, {1}}).stop())),
             Contains("claims 5 elements for storage 0, which holds 16 bytes"));
  // A view that reaches past its storage, by size, by stride, by offset, or holds more elements
  // than it: torch 1.13 builds it, and reading it reads past the storage's buffer.
  for (const View& v : {View{4, 0, {1000000}, {1}}, View{4, 0, {2, 2}, {3, 1}},
                        View{4, 1, {2, 2}, {2, 1}}, View{4, 0, {4, 4}, {0, 0}}}) {
    CAPTURE(v.offset, v.sizes, v.strides);
    CHECK_THAT(archive_refusal(archive(tensor(v).stop())),
               Contains("builds a tensor larger than its storage"));
  }
  // Empty views and the last element exactly are fine.
  CHECK(archive_refusal(archive(tensor({4, 3, {1}, {1}}).stop())) == "accepted");
  CHECK(archive_refusal(archive(tensor({4, 0, {0, 100}, {100, 1}}).stop())) == "accepted");
  // A storage that is not in the archive.
  CHECK_THAT(archive_refusal(archive(tensor({}).stop(), 0)),
             Contains("claims 4 elements for storage 0"));
}

TEST_CASE("archive guard: memo, nesting, opcodes and globals are those torch writes",
          "[archive_guard]") {
  // torch's unpickler grows its memo to the index named, 16 bytes a slot: CI's fuzzing saw it
  // ask for 27.7 GB (index 0x675f6d61, the text "am_g").
  const std::string memo = Pickle().op("N").op("r").u32(1000000000u).stop();
  CHECK_THAT(archive_refusal(archive(memo)), Contains("stores a value at memo slot 1000000000"));
  CHECK_THAT(archive_refusal(archive(Pickle().op("h").op(std::string(1, '\x07')).stop())),
             Contains("reads memo slot 7, never stored"));
  Pickle deep;
  deep.op("N");
  for (int i = 0; i < 100; ++i) deep.op("\x85");  // TUPLE1
  CHECK_THAT(archive_refusal(archive(deep.stop())), Contains("nests values more than 64 deep"));
  CHECK_THAT(archive_refusal(archive(Pickle().global("os", "system").stop())),
             Contains("not an nca file: data.pkl names 'os system'"));
  CHECK_THAT(archive_refusal(archive(Pickle().op("N").op("V").stop())),  // UNICODE, text protocol 0
             Contains("not an nca file: data.pkl holds pickle opcode 86"));
  CHECK_THAT(archive_refusal(archive(Pickle().op("t").stop())),
             Contains("closes a group it never opened"));
  CHECK_THAT(archive_refusal(archive(Pickle().op("NN").stop())),
             Contains("does not end as a pickle should"));
  CHECK_THAT(archive_refusal(archive(Pickle().op("N").bytes)), Contains("data.pkl is cut short"));
}

TEST_CASE("archive guard: a record that claims to unpack to gigabytes is refused",
          "[archive_guard]") {
  std::string bytes = archive(tensor({}).stop());
  // The central directory entry of data.pkl: mark it deflated, unpacking to almost 4 GB.
  const auto entry = bytes.find(std::string("PK\x01\x02", 4));
  REQUIRE(entry != std::string::npos);
  bytes[entry + 10] = 8;
  for (int i = 0; i < 4; ++i) bytes[entry + 24 + i] = static_cast<char>(i == 0 ? 0x00 : 0xFF);
  CHECK_THAT(archive_refusal(bytes),
             Contains("its zip directory has a record that claims 4294967040 "
                      "bytes: data.pkl"));
}

TEST_CASE("archive guard: the loader refuses through it with the file's name", "[archive_guard]") {
  const std::string pkl = Pickle().op("X").u32(0xFFFFFFFFu).stop();
  const std::string bytes = archive(pkl);
  CHECK_THROWS_WITH(nca::load_model_from_memory(bytes.data(), bytes.size(), "bomb.pt"),
                    Contains("cannot load model 'bomb.pt': not a readable checkpoint") &&
                        Contains("a string that claims 4294967295 bytes"));
}
