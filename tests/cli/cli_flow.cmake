# cmake -DKILN=<kiln> -DSUBSET=<idx_subset> -DDATA=<Fashion-MNIST dir> -DWORK=<dir>
#       -DMODELS=<models dir> -P cli_flow.cmake
# The README's flow on a 2,000 / 500 image slice of Fashion-MNIST: train, eval,
# predict and time through the real `kiln` binary, and the errors a user meets.
foreach(var KILN SUBSET DATA WORK MODELS)
  if(NOT ${var})
    message(FATAL_ERROR "cli_flow.cmake: -D${var}= is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")

function(run expect_ok)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(expect_ok AND NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  elseif(NOT expect_ok AND rc EQUAL 0)
    message(FATAL_ERROR "should have failed: ${ARGN}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect text haystack what)
  string(FIND "${haystack}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected '${text}' in:\n${haystack}")
  endif()
endfunction()

set(data "${WORK}/data")
run(TRUE "${SUBSET}" "${DATA}" "${data}" 2000 500)

set(model "${MODELS}/lenet5.yaml")
run(TRUE "${KILN}" train "${model}" --data "${data}" --out "${WORK}/run" --epochs 2
    --device cpu --log-every 10)
expect("epoch 2/2" "${err}" "train progress")
file(STRINGS "${WORK}/run/metrics.jsonl" metrics)
list(LENGTH metrics lines)
if(NOT lines EQUAL 2)
  message(FATAL_ERROR "metrics.jsonl has ${lines} lines, expected one per epoch:\n${metrics}")
endif()
list(GET metrics 1 last)
foreach(key epoch step train_loss test_loss test_accuracy)
  expect("\"${key}\"" "${last}" "metrics.jsonl")
endforeach()
string(JSON accuracy GET "${last}" test_accuracy)
if(accuracy LESS 0.6)
  message(FATAL_ERROR "2 epochs on 2,000 images reached only ${accuracy} test accuracy")
endif()

run(TRUE "${KILN}" eval "${model}" --weights "${WORK}/run/model.safetensors" --data "${data}"
    --device cpu)
string(JSON eval_accuracy GET "${out}" accuracy)
if(NOT eval_accuracy EQUAL accuracy)
  message(FATAL_ERROR "eval accuracy ${eval_accuracy} differs from training's ${accuracy}")
endif()

run(TRUE "${KILN}" predict "${model}" --weights "${WORK}/run/model.safetensors"
    --images "${data}/t10k-images-idx3-ubyte.gz" --count 3 --device cpu)
string(REGEX MATCHALL "\"probabilities\"" rows "${out}")
list(LENGTH rows predicted)
if(NOT predicted EQUAL 3)
  message(FATAL_ERROR "predict --count 3 printed ${predicted} rows:\n${out}")
endif()

run(TRUE "${KILN}" time "${model}" --device cpu --iterations 2)
expect("conv1" "${out}${err}" "kiln time")

# Bad input: each error names the problem.
file(WRITE "${WORK}/bad.yaml" "name: bad\nlayers:\n  - {name: data, type: input, shape: [1, 28, 28]}\n  - {name: fc, type: linaer, out_features: 10}\n")
run(FALSE "${KILN}" train "${WORK}/bad.yaml" --data "${data}" --out "${WORK}/bad_run" --device cpu)
expect("linaer" "${err}" "unknown layer type")
file(WRITE "${WORK}/broken/train-images-idx3-ubyte.gz" "not an idx file")
file(COPY "${data}/train-labels-idx1-ubyte.gz" DESTINATION "${WORK}/broken")
run(FALSE "${KILN}" train "${model}" --data "${WORK}/broken" --out "${WORK}/broken_run" --device cpu)
expect("train-images-idx3-ubyte.gz" "${err}" "corrupt data file")
execute_process(COMMAND "${KILN}" devices OUTPUT_VARIABLE devices)
if(devices MATCHES "cuda +none")
  run(FALSE "${KILN}" train "${model}" --data "${data}" --out "${WORK}/cuda_run" --device cuda)
  expect("no CUDA GPU is usable" "${err}" "--device cuda without a GPU")
endif()
message(STATUS "kiln train/eval/predict/time and their errors behave (test accuracy ${accuracy})")
