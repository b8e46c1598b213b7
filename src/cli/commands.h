// The subcommands, each in its own file; argv[0] is the subcommand's name.
#pragma once

namespace nca::cli {

int run_train(int argc, char** argv);
int run_grow(int argc, char** argv);
int run_regen(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_export(int argc, char** argv);

}  // namespace nca::cli
