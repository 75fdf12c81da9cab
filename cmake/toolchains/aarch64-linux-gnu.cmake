# Cross-build for aarch64 Linux with Debian's gcc-aarch64-linux-gnu, run under
# qemu-aarch64 (tools/cross.sh does all of this):
#   cmake -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#         -DMPSYNC_CRITERION_TESTS=OFF -DMPSYNC_BUILD_BENCH=OFF
set(MPS_CROSS_ARCH aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu.cmake)
