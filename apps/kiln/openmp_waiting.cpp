#include "openmp_waiting.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace kiln::cli {

namespace {

constexpr const char* kPassive = "OMP_WAIT_POLICY=passive";
constexpr const char* kMarker = "KILN_OMP_WAIT_POLICY=default";

bool starts_with(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// libgomp reads OMP_WAIT_POLICY in its constructor, and the C library resets the
// environment to the one the process started with after anything set earlier, so no
// code of kiln's can change it for this process. The executable's .preinit_array runs
// before every library's constructor (and before the C library's), so it can still
// replace the process cheaply: the same program with the variable added, having paid
// only the dynamic loader. If the exec fails the run goes on with libgomp's default.
void default_to_passive_waiting(int, char** argv, char** envp) {
  int count = 0;
  for (char** e = envp; *e; ++e, ++count) {
    if (starts_with(*e, "OMP_WAIT_POLICY=") || starts_with(*e, "GOMP_SPINCOUNT=")) return;
  }
  char* with_policy[count + 3];  // NOLINT: no allocator before the C library's initialisation
  std::memcpy(with_policy, envp, count * sizeof(char*));
  with_policy[count] = const_cast<char*>(kPassive);
  with_policy[count + 1] = const_cast<char*>(kMarker);
  with_policy[count + 2] = nullptr;
  execve("/proc/self/exe", argv, with_policy);
}

[[gnu::section(".preinit_array"), gnu::used]] void (*const preinit_default_to_passive_waiting)(
    int, char**, char**) = default_to_passive_waiting;

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(name) + "=" + value : std::string();
}

}  // namespace

std::string openmp_wait_policy() {
  if (std::getenv("KILN_OMP_WAIT_POLICY")) return "OMP_WAIT_POLICY=passive, kiln's default";
  std::string chosen = variable("OMP_WAIT_POLICY");
  const std::string spin = variable("GOMP_SPINCOUNT");
  if (!spin.empty()) chosen += (chosen.empty() ? "" : " ") + spin;
  return chosen + " from the environment";
}

}  // namespace kiln::cli
