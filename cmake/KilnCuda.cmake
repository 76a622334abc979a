# Decides whether the `cuda` device is built (KILN_CUDA=AUTO|ON|OFF) and, if so,
# enables the CUDA language for CMAKE_CUDA_ARCHITECTURES (default 80;90) and finds
# cuBLAS and cuDNN. Sets KILN_HAVE_CUDA.
set(KILN_CUDA AUTO CACHE STRING "Build the cuda device with nvcc: AUTO, ON or OFF")
set_property(CACHE KILN_CUDA PROPERTY STRINGS AUTO ON OFF)

set(KILN_HAVE_CUDA OFF)
if(NOT KILN_CUDA STREQUAL "OFF")
  # nvcc is found on PATH, or through CUDACXX, -DCMAKE_CUDA_COMPILER or CUDA_HOME.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND DEFINED ENV{CUDA_HOME}
     AND EXISTS "$ENV{CUDA_HOME}/bin/nvcc")
    set(CMAKE_CUDA_COMPILER "$ENV{CUDA_HOME}/bin/nvcc")
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    find_package(CUDNN REQUIRED)
    set(KILN_HAVE_CUDA ON)
    message(STATUS "kiln: cuda device ON (archs ${CMAKE_CUDA_ARCHITECTURES}, "
                   "CUDA ${CUDAToolkit_VERSION}, cuDNN ${CUDNN_VERSION})")
  elseif(KILN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "KILN_CUDA=ON but no nvcc was found; install the CUDA toolkit "
                        "or set CMAKE_CUDA_COMPILER")
  endif()
endif()
if(NOT KILN_HAVE_CUDA)
  message(STATUS "kiln: cuda device OFF (KILN_CUDA=${KILN_CUDA})")
endif()
