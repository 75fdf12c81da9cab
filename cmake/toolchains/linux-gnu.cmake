# Shared part of the cross toolchain files: set MPS_CROSS_ARCH (Debian's
# gcc-<arch>-linux-gnu naming) and include this. Binaries run under qemu-user
# (qemu-<arch> with the cross sysroot) as CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${MPS_CROSS_ARCH})

set(MPS_CROSS_TRIPLE ${MPS_CROSS_ARCH}-linux-gnu)
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

find_program(MPS_QEMU qemu-${MPS_CROSS_ARCH})
if(MPS_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MPS_QEMU} -L ${MPS_CROSS_SYSROOT})
endif()
