// tests/fuzz/replay_main.cc — runs a libFuzzer target over files, without libFuzzer.
//
// Linked with each fuzz target so that `make check` replays the seed corpus
// (and every crash once found and added to it) under the normal compiler and
// the sanitizer build. Usage: <target>_replay FILE...
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      fprintf(stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  printf("replayed %d input(s)\n", argc - 1);
  return 0;
}
