# Cross-build for riscv64 Linux with Debian's gcc-riscv64-linux-gnu, run under
# qemu-riscv64 (tools/cross.sh does all of this):
#   cmake -B build-riscv64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/riscv64-linux-gnu.cmake \
#         -DMPSYNC_CRITERION_TESTS=OFF -DMPSYNC_BUILD_BENCH=OFF
set(MPS_CROSS_ARCH riscv64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu.cmake)
