// Atomic writes: the content arrives whole or not at all, the reason of a failure is the
// system's, and reading is bounded.
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <sys/stat.h>
#include <unistd.h>

#include "catch.h"

#include "nca/atomic_file.h"
#include "nca/errors.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

// The names in a directory that start with a dot: temporaries left behind.
int hidden_files(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string()[0] == '.';
  return n;
}

}  // namespace

TEST_CASE("write_bytes_atomically writes what the producer gives, in any number of pieces") {
  nca::test::TempDir dir;
  const std::string path = dir.file("out.bin");
  std::string big(3 << 20, 'x');  // larger than the sink's buffer
  big[12345] = 'y';
  nca::write_bytes_atomically(path, [&](nca::ByteSink& out) {
    out.write("head:", 5);
    out.write(big);
    out.write(std::string(":tail"));
  });
  CHECK(nca::read_file(path) == "head:" + big + ":tail");
  CHECK(hidden_files(dir.path()) == 0);
}

TEST_CASE("a failed write keeps the previous file and leaves no temporary") {
  nca::test::TempDir dir;
  const std::string path = dir.file("model.pt");
  nca::write_text_atomically(path, "version 1");

  SECTION("the producer throws half way") {
    CHECK_THROWS_WITH(nca::write_bytes_atomically(path,
                                                  [](nca::ByteSink& out) {
                                                    out.write(std::string("version 2, half"));
                                                    throw std::runtime_error("serialiser failed");
                                                  }),
                      Contains("cannot write '" + path + "': serialiser failed"));
  }
  SECTION("the folder is gone: the system's reason") {
    CHECK_THROWS_WITH(
        nca::write_text_atomically(dir.file("gone/model.pt"), "x"),
        Contains("cannot write '" + dir.file("gone/model.pt") + "': No such file or directory"));
  }
  SECTION("the rename fails: a directory is in the way") {
    fs::create_directories(dir.file("taken/sub"));
    CHECK_THROWS_WITH(nca::write_text_atomically(dir.file("taken"), "x"),
                      Contains("cannot write '" + dir.file("taken") + "'"));
  }
  CHECK(nca::read_file(path) == "version 1");
  CHECK(hidden_files(dir.path()) == 0);
}

TEST_CASE("a stale temporary of the same name is replaced, not written through") {
  nca::test::TempDir dir;
  const std::string path = dir.file("a.txt");
  // What a killed process with our PID would have left; a link must not be followed.
  const std::string victim = dir.file("victim.txt");
  nca::write_text_atomically(victim, "keep me");
  const auto tmp = dir.path() / (".a.txt.tmp-" + std::to_string(::getpid()));
  fs::create_symlink(victim, tmp);
  nca::write_text_atomically(path, "new");
  CHECK(nca::read_file(path) == "new");
  CHECK(nca::read_file(victim) == "keep me");
}

TEST_CASE("copy_file_atomically and read_file") {
  nca::test::TempDir dir;
  nca::write_text_atomically(dir.file("a"), "abc");
  nca::copy_file_atomically(dir.file("a"), dir.file("b"));
  CHECK(nca::read_file(dir.file("b")) == "abc");
  CHECK_THROWS_WITH(nca::copy_file_atomically(dir.file("missing"), dir.file("c")),
                    Contains("cannot read '" + dir.file("missing") + "': No such file"));
  CHECK_FALSE(fs::exists(dir.file("c")));
  CHECK_THROWS_WITH(nca::read_file(dir.path().string()), Contains("is a directory"));
  CHECK_THROWS_WITH(nca::read_file(dir.file("a"), 2), Contains("larger than 2 bytes"));
  // A device without an end, or a FIFO without a writer, is refused before a byte is read
  // (exit 2: the user gave the wrong path), not read until a limit or forever.
  CHECK_THROWS_AS(nca::read_file("/dev/zero", 1 << 20), nca::UsageError);
  CHECK_THROWS_WITH(
      nca::read_file("/dev/zero"),
      Contains("cannot read '/dev/zero': it is a character device, not a regular file"));
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(nca::read_file(dir.file("fifo")), Contains("it is a FIFO, not a regular file"));
  CHECK_THROWS_WITH(nca::check_readable_file(dir.file("a"), 2),
                    Contains("3 bytes, more than the 2 nca reads"));
  CHECK_NOTHROW(nca::check_readable_file(dir.file("a"), 3));
}

TEST_CASE("the writers replace only regular files") {
  nca::test::TempDir dir;
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(nca::write_text_atomically(dir.file("fifo"), "x"),
                    Contains("is a FIFO, not a regular file"));
  CHECK(fs::is_fifo(dir.file("fifo")));
  nca::write_text_atomically(dir.file("real"), "keep");
  fs::create_symlink(dir.file("real"), dir.file("link"));
  CHECK_THROWS_WITH(nca::write_text_atomically(dir.file("link"), "x"),
                    Contains("is a symbolic link"));
  CHECK_THROWS_WITH(nca::link_or_copy_atomically(dir.file("real"), dir.file("link")),
                    Contains("is a symbolic link"));
  CHECK(fs::is_symlink(dir.file("link")));
  CHECK(nca::read_file(dir.file("real")) == "keep");
  fs::create_directory(dir.file("d"));
  CHECK_THROWS_AS(nca::write_text_atomically(dir.file("d"), "x"), nca::UsageError);
  CHECK_NOTHROW(nca::write_text_atomically(dir.file("real"), "new"));
  CHECK(nca::read_file(dir.file("real")) == "new");
  CHECK_FALSE(fs::exists(dir.file(".fifo.tmp-" + std::to_string(::getpid()))));
}

TEST_CASE("temporary names are recognised, and only dead writers' temporaries are removed") {
  std::string target;
  long pid = 0;
  CHECK(nca::is_temporary_name(".model.pt.tmp-1234", &target, &pid));
  CHECK(target == "model.pt");
  CHECK(pid == 1234);
  CHECK(fs::path(nca::temporary_path_for("d/x.csv")).filename() ==
        ".x.csv.tmp-" + std::to_string(::getpid()));
  CHECK_FALSE(nca::is_temporary_name("model.pt.tmp-1234"));
  CHECK_FALSE(nca::is_temporary_name(".tmp-1234"));
  CHECK_FALSE(nca::is_temporary_name(".model.pt.tmp-"));
  CHECK_FALSE(nca::is_temporary_name(".model.pt.tmp-12a"));
  CHECK_FALSE(nca::is_temporary_name(".model.pt.tmp-1234567890"));

  nca::test::TempDir dir;
  const std::string mine = nca::temporary_path_for(dir.file("a.pt"));
  const std::string parents = dir.file(".b.pt.tmp-" + std::to_string(::getppid()));
  nca::write_text_atomically(dir.file("keep.txt"), "x");
  for (const auto& p : {mine, parents}) std::ofstream(p) << "partial";
  nca::remove_stale_temporaries(dir.path().string());
  CHECK_FALSE(fs::exists(mine));  // this process is not writing it any more
  CHECK(fs::exists(parents));     // a live process may still be
  CHECK(fs::exists(dir.file("keep.txt")));
}
