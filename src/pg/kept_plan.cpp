/*
 * kept_plan.cpp: SPI plans prepared once per backend (kept_plan.h).
 */
#include "pg/kept_plan.h"

namespace pg {

SPIPlanPtr kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes, int cursor_options)
{
    if (*slot == NULL)
    {
        SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, const_cast<Oid *>(argtypes), cursor_options);
        if (plan == NULL)
            elog(ERROR, "chronicle: SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
        if (SPI_keepplan(plan) != 0)
            elog(ERROR, "chronicle: SPI_keepplan failed");
        *slot = plan;
    }
    return *slot;
}

} // namespace pg
