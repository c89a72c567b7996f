/* module_entry.c - the one symbol a module exports (util/module.h),
 * compiled into each cairn-<name>.so with CAIRN_MODULE_SYMBOL naming the
 * cairn_module its part defines (backend_s3_module, mount_module ...). */
#include "util/module.h"

extern const cairn_module CAIRN_MODULE_SYMBOL;

/* the module's only exported symbol (modules build with hidden visibility) */
__attribute__((visibility("default"))) const cairn_module *cairn_module_entry(void);

const cairn_module *cairn_module_entry(void)
{
    return &CAIRN_MODULE_SYMBOL;
}
