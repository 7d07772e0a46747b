#pragma once
// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with everything in it when the
// object goes out of scope. The compliance battery ships the same helper for third-party
// stores; our tests use that one rather than a copy.

#include "engram/conformance/common.hpp"

namespace engram::testing {

using TempDir = engram::conformance::detail::ScratchDir;

}  // namespace engram::testing
