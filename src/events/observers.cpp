/*
 * observers.cpp: the list of append observers (observers.h).
 */
#include "events/observers.h"

/* Snapshots and projections; room to spare. */
static const int MAX_OBSERVERS = 4;
static events_observer observers[MAX_OBSERVERS];
static int nobservers = 0;

void events_observe_appends(events_observer observer)
{
    if (nobservers == MAX_OBSERVERS)
        elog(ERROR, "chronicle: too many append observers");
    observers[nobservers++] = observer;
}

void events_notify_observers(const AppendedEvents *appended)
{
    for (int i = 0; i < nobservers; i++)
        observers[i](appended);
}
