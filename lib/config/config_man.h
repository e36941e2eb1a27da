// lib/config/config_man.h — the key list of postern.conf(5), rendered from the key
// table.
//
// man/postern.conf.5 is written by hand except for the block between the
// lines `.\" BEGIN KEYS` and `.\" END KEYS`, which is this rendering of
// lib/config/config_keys.cc. man/update_keys.cc rewrites that block, and a unit test
// fails while the committed page differs from the table, so the two cannot
// drift. Never used by the daemons.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace postern {

// The KEYS entries in man(7) roff: `.SS` headings for global and listener
// keys, then per key `.TP`, `.B name`, its type, its default(s) and its
// paragraph.
std::string RenderKeysRoff();

// page with the text between its BEGIN KEYS and END KEYS lines replaced by
// RenderKeysRoff(); an error if either line is missing.
Result<std::string> SpliceKeysIntoManPage(std::string_view page);

}  // namespace postern
