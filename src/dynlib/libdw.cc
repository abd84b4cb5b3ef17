// The functions of elfutils' libdw that the symbolizer (stack/symbolizer.cc) calls, as
// forwarders: libdw is opened when a stack is first symbolized (dynlib/lazy_library.h). The
// symbolizer calls Libdw().Load() first and prints bare addresses where libdw1 is missing.

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "dynlib/forward.h"

// libdw declares its functions with attributes (nonnull) that a template argument drops.
#pragma GCC diagnostic ignored "-Wignored-attributes"

HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_attr, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_attr_integrate, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_filesrc, 4)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_formstring, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_formudata, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_getscopes, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_getscopes_die, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_getsrc_die, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_getsrcfiles, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_haspc, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_lineno, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_linesrc, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwarf_tag, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_addrmodule, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_begin, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_build_id_find_debuginfo, 8)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_end, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_lineinfo, 6)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_linux_proc_find_elf, 6)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_linux_proc_maps_report, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_module_addrdie, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_module_addrinfo, 7)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_module_getsrc, 2)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_module_info, 8)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_module_nextcu, 3)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_report_begin, 1)
HANDOFF_FORWARD(::handoff::dynlib::Libdw(), dwfl_report_end, 3)
