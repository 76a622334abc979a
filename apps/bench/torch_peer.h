// The libtorch peer's BLAS threads. Debian's libtorch runs its GEMMs in OpenBLAS's own
// pthreads and its other ops in OpenMP threads; after each call both pools spin for a
// while, and on a small machine they take each other's cores (2-core Xeon, 2026-12-03: the
// BiLSTM tagger's libtorch step took 400-580 ms with OpenBLAS on 2 threads, 150-200 on 1).
// So each peer is timed with OpenBLAS on OpenMP's thread count and on one thread, and the
// faster counts: the ratios are against libtorch at its best. kiln itself calls OpenBLAS
// serially on its own threads (src/cpu/blas.cpp), so the setting does not touch its side.
#pragma once

#include <cblas.h>
#include <omp.h>

#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace kiln::bench {

// OpenMP's thread count, and 1 when that is more.
inline std::vector<int> peer_blas_threads() {
  const int threads = omp_get_max_threads();
  return threads > 1 ? std::vector<int>{threads, 1} : std::vector<int>{1};
}

// Runs `time` once per OpenBLAS thread count of peer_blas_threads(); records `ms(result)`
// per count in `ms_by_threads` (keyed by the count as text, for JSON) and returns the
// result with the least. OpenBLAS is left on one thread.
template <class Timing>
Timing fastest_over_blas_threads(const std::function<Timing()>& time,
                                 const std::function<double(const Timing&)>& ms,
                                 std::map<std::string, double>& ms_by_threads) {
  Timing best{};
  double best_ms = std::numeric_limits<double>::infinity();
  for (const int threads : peer_blas_threads()) {
    openblas_set_num_threads(threads);
    const Timing t = time();
    ms_by_threads[std::to_string(threads)] = ms(t);
    if (ms(t) < best_ms) best = t, best_ms = ms(t);
  }
  openblas_set_num_threads(1);
  return best;
}

// The same for a timing that is plain milliseconds.
inline double fastest_over_blas_threads(const std::function<double()>& time_ms,
                                        std::map<std::string, double>& ms_by_threads) {
  return fastest_over_blas_threads<double>(time_ms, [](double ms) { return ms; }, ms_by_threads);
}

}  // namespace kiln::bench
