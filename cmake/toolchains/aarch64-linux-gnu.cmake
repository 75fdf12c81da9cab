# Cross-build for aarch64 Linux with Debian's gcc-aarch64-linux-gnu; binaries run
# under qemu-user (Debian's qemu-user: qemu-aarch64 with the cross sysroot), which
# ctest uses through CMAKE_CROSSCOMPILING_EMULATOR. tools/cross.sh drives it.
#   cmake -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#         -DMPSYNC_CRITERION_TESTS=OFF -DMPSYNC_BUILD_BENCH=OFF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(MPS_CROSS_TRIPLE aarch64-linux-gnu)
set(MPS_CROSS_SYSROOT /usr/${MPS_CROSS_TRIPLE})

set(CMAKE_C_COMPILER ${MPS_CROSS_TRIPLE}-gcc)

# Headers, libraries and packages from the cross sysroot only; programs
# (build tools) from the host.
set(CMAKE_FIND_ROOT_PATH ${MPS_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# No host .pc files (Criterion and friends exist only for the host).
set(ENV{PKG_CONFIG_LIBDIR} ${MPS_CROSS_SYSROOT}/lib/pkgconfig)

find_program(MPS_QEMU_aarch64 qemu-aarch64)
if(MPS_QEMU_aarch64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MPS_QEMU_aarch64} -L ${MPS_CROSS_SYSROOT})
endif()
