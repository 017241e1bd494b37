// The toolkit now lives in the registry (src/registry/toolkit.hpp); this path stays for includers.
#pragma once
#include "registry/toolkit.hpp"  // IWYU pragma: export
