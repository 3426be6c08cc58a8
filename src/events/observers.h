/*
 * observers.h: what the modules above the event store (snapshots,
 * projections) learn of each append, inside the appending transaction.
 *
 * An observer runs after the events and the stream row are written, with
 * the caller's identity and no SPI connection of the append's; it may
 * ereport (the whole append then rolls back, as a trigger's error would).
 * Most appends concern no observer: each must decide that with a check of
 * backend memory, since every append pays for it.
 */
#pragma once

extern "C" {
#include "postgres.h"
}

struct AppendedEvents
{
    text *stream_id;
    const char *category; /* NUL-terminated: stream_id before its first '-' */
    int64 first_version;  /* the versions this call wrote */
    int64 last_version;
    Oid owner;            /* chronicle's owner, for writes to chronicle's tables */
};

typedef void (*events_observer)(const AppendedEvents *appended);

/* Register an observer, from _PG_init; observers run in registration order. */
void events_observe_appends(events_observer observer);

/* Called by append and append_batch after an append that stored events. */
void events_notify_observers(const AppendedEvents *appended);
