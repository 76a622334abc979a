#include "openmp_waiting.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "kiln/error.h"

namespace kiln::cli {

namespace {

constexpr const char* kPolicy = "OMP_WAIT_POLICY=";
constexpr const char* kSpinCount = "GOMP_SPINCOUNT=";
constexpr const char* kThreshold = "KILN_BUSY_LOAD_AVERAGE=";
constexpr const char* kPassiveByKiln = "KILN_OMP_WAIT_POLICY=passive";
constexpr long kDefaultThreshold = 50;  // hundredths

bool starts_with(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// "1.82" -> 182; -1 unless digits with at most one point. Hand-written because it runs
// before the C library is initialised (no locale for strtod).
long hundredths(const char* s, const char* end) {
  long whole = 0, fraction = 0;
  int fraction_digits = -1, digits = 0;
  for (; s != end && *s != ' ' && *s != '\n' && *s != '\0'; ++s) {
    if (*s == '.' && fraction_digits < 0) {
      fraction_digits = 0;
    } else if (*s >= '0' && *s <= '9' && whole < 1000000) {
      ++digits;
      if (fraction_digits < 0) {
        whole = whole * 10 + (*s - '0');
      } else if (fraction_digits < 2) {
        fraction = fraction * 10 + (*s - '0');
        ++fraction_digits;
      }
    } else {
      return -1;
    }
  }
  if (digits == 0) return -1;
  for (; fraction_digits < 2; ++fraction_digits) fraction *= 10;
  return whole * 100 + fraction;
}

long load_average_hundredths() {
  char text[64];
  const int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const ssize_t n = read(fd, text, sizeof text);
  close(fd);
  return n > 0 ? hundredths(text, text + n) : -1;
}

long threshold_hundredths(const char* value) {
  const long parsed = value ? hundredths(value, value + std::strlen(value)) : -1;
  return parsed >= 0 ? parsed : kDefaultThreshold;
}

// libgomp reads OMP_WAIT_POLICY in its constructor, and the C library resets the
// environment to the one the process started with after anything set earlier, so no
// code of kiln's can change it for this process. The executable's .preinit_array runs
// before every library's constructor (and before the C library's), so it can still
// replace the process cheaply: the same program with the variable added, having paid
// only the dynamic loader. If the exec fails the run goes on with libgomp's default.
void wait_passively_when_busy(int, char** argv, char** envp) {
  int count = 0;
  const char* threshold = nullptr;
  for (char** e = envp; *e; ++e, ++count) {
    if (starts_with(*e, kPolicy) || starts_with(*e, kSpinCount)) return;
    if (starts_with(*e, kThreshold)) threshold = *e + std::strlen(kThreshold);
  }
  const long load = load_average_hundredths();
  if (load < 0 || load < threshold_hundredths(threshold)) return;
  char* with_policy[count + 3];  // NOLINT: no allocator before the C library's initialisation
  std::memcpy(with_policy, envp, count * sizeof(char*));
  with_policy[count] = const_cast<char*>("OMP_WAIT_POLICY=passive");
  with_policy[count + 1] = const_cast<char*>(kPassiveByKiln);
  with_policy[count + 2] = nullptr;
  execve("/proc/self/exe", argv, with_policy);
}

[[gnu::section(".preinit_array"), gnu::used]] void (*const preinit_wait_passively_when_busy)(
    int, char**, char**) = wait_passively_when_busy;

std::string variable(const char* prefix) {
  const std::string name(prefix, std::strlen(prefix) - 1);
  const char* value = std::getenv(name.c_str());
  return value ? name + "=" + value : std::string();
}

std::string decimal(long hundredths) {
  return detail::concat(hundredths / 100, ".", hundredths % 100 / 10, hundredths % 10);
}

}  // namespace

std::string openmp_wait_policy() {
  const char* threshold_value = std::getenv("KILN_BUSY_LOAD_AVERAGE");
  const long threshold = threshold_hundredths(threshold_value);
  const std::string ignored =
      threshold_value && hundredths(threshold_value, threshold_value + std::strlen(threshold_value)) < 0
          ? detail::concat("; KILN_BUSY_LOAD_AVERAGE='", threshold_value, "' is not a number")
          : std::string();
  if (std::getenv("KILN_OMP_WAIT_POLICY")) {
    return "OMP_WAIT_POLICY=passive: the machine was busy as kiln started (load average at or "
           "above " + decimal(threshold) + ignored + ")";
  }
  std::string chosen = variable(kPolicy);
  const std::string spin = variable(kSpinCount);
  if (!spin.empty()) chosen += (chosen.empty() ? "" : " ") + spin;
  if (!chosen.empty()) return chosen + " from the environment";
  return "libgomp's default spin-then-sleep waiting: the machine was idle as kiln started "
         "(load average below " + decimal(threshold) + ignored + ")";
}

}  // namespace kiln::cli
