# cmake -DEXE=<harness> -DSEEDS=<seed dir> -DWORK=<scratch dir> (-DSECONDS=N | -DRUNS=N)
#       [-DSEED=N] -P run_fuzzer.cmake
# Runs one libFuzzer harness from its seeds for a bounded time (or number of
# inputs) with memory caps; passes when it ends without a finding. Prints the
# executions count and speed. With RUNS and SEED the run is reproducible: the
# same inputs in the same order on any machine (what ctest runs); without SEED
# libFuzzer picks one (scripts/fuzz.sh, exploring).
foreach(var EXE SEEDS WORK)
  if(NOT ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}= is required")
  endif()
endforeach()
if(RUNS)
  set(bound -runs=${RUNS})
elseif(SECONDS)
  set(bound -max_total_time=${SECONDS})
else()
  message(FATAL_ERROR "run_fuzzer.cmake: give -DSECONDS= or -DRUNS=")
endif()
if(DEFINED SEED)
  list(APPEND bound -seed=${SEED})
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")
# 2 GiB for the whole process and for any one allocation; 8 KiB inputs (the
# seeds are smaller); 30 s per input at most (inputs take milliseconds: a starved
# process on a loaded machine hit 10 s); leaks are findings (LeakSanitizer).
execute_process(
  COMMAND "${EXE}" ${bound} -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=8192 -timeout=30
          -print_final_stats=1 -artifact_prefix=${WORK}/ "${WORK}/corpus" "${SEEDS}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(REGEX MATCH "stat::number_of_executed_units: *[0-9]+" runs "${out}")
string(REGEX MATCH "stat::average_exec_per_sec: *[0-9]+" speed "${out}")
string(REGEX MATCH "stat::peak_rss_mb: *[0-9]+" rss "${out}")
if(NOT status EQUAL 0)
  string(LENGTH "${out}" length)
  math(EXPR from "${length} - 6000")
  if(from LESS 0)
    set(from 0)
  endif()
  string(SUBSTRING "${out}" ${from} -1 tail)
  message(FATAL_ERROR "${EXE} found a problem (status ${status}); the input is in ${WORK}:\n${tail}")
endif()
message(STATUS "${EXE}: no findings; ${runs}, ${speed}, ${rss}")
