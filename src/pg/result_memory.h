/*
 * result_memory.h: the result tuplestore of a materialized set-returning
 * function, kept in memory that stays mapped from one call to the next.
 *
 * InitMaterializedSRF puts the tuplestore in the caller's per-query memory.
 * A result of a few hundred kilobytes then gets fresh pages from the kernel
 * on every call (malloc hands such blocks back when the query ends), and on
 * a virtual machine those page faults can cost more than the query that
 * fills them.  begin_warm_result() does what InitMaterializedSRF(fcinfo,
 * MAT_SRF_USE_EXPECTED_DESC) does, but the tuplestore lives in a memory
 * context lent to the call site from a small per-backend pool.
 *
 * It uses fcinfo->flinfo->fn_extra: a function that calls it must not use
 * fn_extra for anything else.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/tuplestore.h"
}

namespace pg {

Tuplestorestate *begin_warm_result(FunctionCallInfo fcinfo);

} // namespace pg
