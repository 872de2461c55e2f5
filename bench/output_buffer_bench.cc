// Micro-benchmarks of the output buffer against its floor: memcpy into a ring of the same size.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>

#include "proc/output_buffer.h"

namespace {

using corral::proc::kHeadBytes;
using corral::proc::kTailBytes;
using corral::proc::OutputBuffer;

std::string Text(std::size_t n) {
  std::string s(n, 'x');
  for (std::size_t i = 79; i < n; i += 80) s[i] = '\n';
  return s;
}

// The baseline: what keeping the last kTailBytes of a stream costs at the very least.
void BM_RingMemcpy(benchmark::State& state) {
  const std::string chunk = Text(static_cast<std::size_t>(state.range(0)));
  auto ring = std::make_unique<char[]>(kTailBytes);
  std::size_t pos = 0;
  for (auto _ : state) {
    std::string_view bytes = chunk;
    if (bytes.size() > kTailBytes) bytes.remove_prefix(bytes.size() - kTailBytes);
    const std::size_t first = std::min(bytes.size(), kTailBytes - pos);
    std::memcpy(ring.get() + pos, bytes.data(), first);
    std::memcpy(ring.get(), bytes.data() + first, bytes.size() - first);
    pos = (pos + bytes.size()) % kTailBytes;
    benchmark::DoNotOptimize(ring.get());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RingMemcpy)->Arg(1)->Arg(4096)->Arg(65536);

// Appending to a buffer whose head is full: the steady state of a loud command.
void BM_Append(benchmark::State& state) {
  const std::string chunk = Text(static_cast<std::size_t>(state.range(0)));
  OutputBuffer buffer;
  buffer.Append(Text(kHeadBytes));
  for (auto _ : state) {
    buffer.Append(chunk);
    benchmark::DoNotOptimize(&buffer);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Append)->Arg(1)->Arg(4096)->Arg(65536);

// Rendering a full buffer (head, marker, tail): what every GET /output of a loud command does.
void BM_RenderFull(benchmark::State& state) {
  OutputBuffer buffer;
  buffer.Append(Text(1 << 20));
  for (auto _ : state) {
    auto rendered = corral::proc::Render(buffer);
    benchmark::DoNotOptimize(rendered.text.data());
  }
  state.SetBytesProcessed(state.iterations() * (kHeadBytes + kTailBytes));
}
BENCHMARK(BM_RenderFull);

// The floor for rendering: copying the same 32 KiB once.
void BM_CopyFull(benchmark::State& state) {
  const std::string all = Text(kHeadBytes + kTailBytes);
  for (auto _ : state) {
    std::string copy = all;
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetBytesProcessed(state.iterations() * (kHeadBytes + kTailBytes));
}
BENCHMARK(BM_CopyFull);

}  // namespace

BENCHMARK_MAIN();
