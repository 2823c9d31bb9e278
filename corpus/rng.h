#pragma once
// Fast deterministic randomness for the corpus generator: SplitMix64 to derive
// seeds, xoshiro256** for streams. Same seed, same numbers, on every platform.

#include <cstdint>

namespace sipdex::corpus {

// One SplitMix64 step: advances `state` and returns a well-mixed value.
inline std::uint64_t SplitMix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A seed derived from a parent seed and a few integers (server, day, part):
// the same inputs always give the same seed, different inputs unrelated ones.
inline std::uint64_t DeriveSeed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
  std::uint64_t s = seed;
  std::uint64_t x = SplitMix64(s);
  s ^= a * 0xD1B54A32D192ED03ull;
  x ^= SplitMix64(s);
  s ^= b * 0xABC98388FB8FAC03ull;
  x ^= SplitMix64(s);
  s ^= c * 0x8CB92BA72F3D8DD7ull;
  return x ^ SplitMix64(s);
}

// xoshiro256** (Blackman and Vigna), seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& w : s_) w = SplitMix64(seed);
  }

  std::uint64_t Next() {
    const std::uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n). REQUIRES: n > 0. (Lemire's multiply-shift, bias < 2^-32.)
  std::uint32_t Below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((Next() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
  }
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int Range(int lo, int hi) { return lo + static_cast<int>(Below(static_cast<std::uint32_t>(hi - lo + 1))); }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // True with probability p.
  bool Chance(double p) { return Unit() < p; }

 private:
  static std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace sipdex::corpus
