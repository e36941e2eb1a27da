// lib/base/version.h — postern's version, as configure.ac's AC_INIT gives it.
//
// configure passes PACKAGE_VERSION to every compiler run (no config header),
// so this is the one place that reads the macro: `postern --version` and the
// version master reports in `postern status`.
#pragma once

#ifndef PACKAGE_VERSION
#error "PACKAGE_VERSION is not defined: build through configure (AC_INIT sets it)"
#endif

namespace postern {

inline constexpr char kPosternVersion[] = PACKAGE_VERSION;

}  // namespace postern
