# cmake -DEXE=path/to/simt_race_tsan -P check_race.cmake
# Passes when the sanitizer build of the emulator reports the race in race_main.cpp's
# kernel with both source lines, nothing for the fixed kernel, and the read past a
# static shared array with its line.
if(NOT EXE)
  message(FATAL_ERROR "usage: cmake -DEXE=<simt_race_tsan> -P check_race.cmake")
endif()

file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/race_main.cpp" source)
set(line 0)
foreach(text IN LISTS source)
  math(EXPR line "${line} + 1")
  if(text MATCHES "// RACE-WRITE")
    set(write_line ${line})
  elseif(text MATCHES "// RACE-READ")
    set(read_line ${line})
  elseif(text MATCHES "// OVERRUN")
    set(overrun_line ${line})
  endif()
endforeach()
if(NOT write_line OR NOT read_line OR NOT overrun_line)
  message(FATAL_ERROR "RACE-WRITE / RACE-READ / OVERRUN markers not found in race_main.cpp")
endif()

# Runs the program; retries under `setarch -R` when TSan cannot map its shadow
# memory with the kernel's address-space randomisation (newer kernels). The bounds
# check stops the program (-fno-sanitize-recover), so only the overrun may fail.
function(run_race mode out_var)
  set(ENV{TSAN_OPTIONS} "halt_on_error=0 exitcode=0")
  execute_process(COMMAND "${EXE}" ${mode} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(out MATCHES "unexpected memory mapping|FATAL: ThreadSanitizer")
    execute_process(COMMAND setarch -R "${EXE}" ${mode} RESULT_VARIABLE rc
                    OUTPUT_VARIABLE out ERROR_VARIABLE out)
  endif()
  if(NOT rc EQUAL 0 AND NOT mode STREQUAL "overrun")
    message(FATAL_ERROR "${EXE} ${mode} failed (${rc}):\n${out}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

run_race(racy racy_out)
foreach(needle "ThreadSanitizer: data race" "race_main.cpp:${write_line}"
        "race_main.cpp:${read_line}")
  string(FIND "${racy_out}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "racy kernel: '${needle}' missing from the output:\n${racy_out}")
  endif()
endforeach()

run_race(fixed fixed_out)
string(FIND "${fixed_out}" "ThreadSanitizer" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "fixed kernel: unexpected ThreadSanitizer report:\n${fixed_out}")
endif()
run_race(overrun overrun_out)
foreach(needle "race_main.cpp:${overrun_line}" "index 128 out of bounds for type 'float [128]'")
  string(FIND "${overrun_out}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "overrun kernel: '${needle}' missing from the output:\n${overrun_out}")
  endif()
endforeach()
message(STATUS "race reported at race_main.cpp:${write_line} and :${read_line}; "
               "the fixed kernel is clean; the shared overrun reported at :${overrun_line}")
