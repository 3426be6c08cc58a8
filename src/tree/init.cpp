/*
 * init.cpp: the tree module's start-up, from _PG_init: the setting
 * chronicle.tree_maintenance (exec.cpp's variable), then each layer's
 * callbacks.  It stands above the layers it starts, so that the calls inside
 * src/tree run one way (tree.h): meta.cpp, which triggers.cpp uses, no
 * longer starts triggers.cpp.
 */
#include "tree/tree.h"

extern "C" {
#include "utils/guc.h"
}

void tree_init(void)
{
    /* PGC_INTERNAL: nobody can SET it; only tree_run() changes it. */
    DefineCustomBoolVariable("chronicle.tree_maintenance",
                             "Whether chronicle is renumbering a tree table in this session.",
                             "Read by the guard trigger of tree tables; cannot be set.",
                             &tree_maintenance_setting, false, PGC_INTERNAL,
                             GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE |
                                 GUC_NO_RESET_ALL,
                             NULL, NULL, NULL);
    tree_meta_init();
    tree_triggers_init();
    tree_prenumber_init();
}
