# Included after project() by the aarch64 toolchain file (CMAKE_PROJECT_INCLUDE): every
# find_library, including pkg-config's and the packages' config files, picks the static
# archive (libzstd.a, libssl.a, ...), so the executable links with -static.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
