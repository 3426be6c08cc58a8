/*
 * forget.cpp: chronicle._subscription_forget(name), the part of unsubscribe
 * (and subscribe) that deletes a subscription's checkpoints and parked rows.
 *
 * Since 0.2.0 those tables have no foreign key to chronicle.subscriptions
 * (pg_restore -j, issue 12), so unsubscribe deletes them itself, after it has
 * deleted the subscription row: that DELETE waited for every ack, park and
 * replay_parked in flight (they hold the row FOR KEY SHARE), and every later
 * one finds no row (SE006).  But under REPEATABLE READ a plain DELETE in
 * unsubscribe reads with the transaction's snapshot, and a first ack or a
 * park that committed after it (while unsubscribe waited, or before its
 * first statement) is invisible to it: its row survived without a
 * subscription, and a later subscribe of the same name inherited the old
 * checkpoint (events skipped) or parked event (never delivered).  These
 * DELETEs therefore read with the latest snapshot, as the foreign key's
 * ON DELETE CASCADE did; nothing can be in flight any more at that point.
 * subscribe calls it too when it creates a subscription, so that rows left
 * under the name by other means (a partial restore, the owner's own writes)
 * are not inherited.
 */
#include "pg/boundary.h"
#include "pg/spi.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

}

namespace {

SPIPlanPtr forget_checkpoints = nullptr;
SPIPlanPtr forget_parked = nullptr;

void delete_latest(SPIPlanPtr plan, Datum *args)
{
    CommandCounterIncrement();
    int rc = pg::spi::execute_snapshot(plan, args, nullptr, GetLatestSnapshot(), InvalidSnapshot, false,
                                       true, 0);
    if (rc != SPI_OK_DELETE)
        elog(ERROR, "chronicle: deleting a subscription's rows failed: %s", SPI_result_code_string(rc));
}

} // namespace

SQL_FUNCTION(chronicle_subscription_forget)
{
    if (PG_ARGISNULL(0))
        PG_RETURN_VOID();
    Datum args[1] = {PG_GETARG_DATUM(0)};
    Oid types[1] = {TEXTOID};
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    delete_latest(pg::spi::kept_plan(&forget_checkpoints,
                                     "DELETE FROM chronicle.subscription_checkpoints c "
                                     "WHERE c.subscription OPERATOR(pg_catalog.=) $1",
                                     1, types),
                  args);
    delete_latest(pg::spi::kept_plan(&forget_parked,
                                     "DELETE FROM chronicle.parked p "
                                     "WHERE p.subscription OPERATOR(pg_catalog.=) $1",
                                     1, types),
                  args);
    SPI_finish();
    PG_RETURN_VOID();
}
