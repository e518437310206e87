# Cross-compiles baton for 64-bit ARM Linux with Debian's cross toolchain
# (g++-aarch64-linux-gnu) against Debian's multiarch arm64 libraries
# (/usr/lib/aarch64-linux-gnu), linking one static executable: a phone's Android
# (Termux, adb shell), OpenHarmony's shell and Raspberry Pi OS each run it without
# installing any library, since none of them ships the same C++ runtime, OpenSSL or
# Cap'n Proto. tools/cross/build-aarch64.sh drives it and adds the libraries Debian has
# no arm64 static archive for (built from Debian's source packages) to CMAKE_PREFIX_PATH.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# pkg-config reads only the target's .pc files (CMake adds CMAKE_PREFIX_PATH's, the
# script's prefix, in front): also when `cmake --build` re-runs the configure step
# without the script's environment, which would otherwise find the host's libraries.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/pkgconfig:/usr/share/pkgconfig")

# Host programs (capnp, capnpc-c++) come from the host; headers and libraries only from
# the target's multiarch directories or the script's prefix.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# Static: archives only, and the whole program (glibc, libstdc++ included) in one file.
# CMake's platform setup resets CMAKE_FIND_LIBRARY_SUFFIXES to ".so;.a" after this file
# is read, so the archives-only setting is made again right after project().
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(CMAKE_PROJECT_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/static-archives-only.cmake)
set(OPENSSL_USE_STATIC_LIBS TRUE)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# Test executables run under user-mode emulation when CMake or ctest needs to run them.
find_program(BATON_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(BATON_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BATON_QEMU_AARCH64})
endif()
# Listing each suite's tests would run every test binary under qemu at build time; list
# them when ctest runs instead.
set(CMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE PRE_TEST)
