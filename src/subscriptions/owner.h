/*
 * owner.h: subscriptions are owned (docs/design/security.md).
 * C-style (pg/boundary.h): may ereport.
 */
#pragma once

extern "C" {
#include "postgres.h"
}

/*
 * 42501 unless the current user is a member of the owning role of
 * subscription name (has_privs_of_role: a superuser is); nothing when the
 * subscription does not exist (the caller reports SE006).  Reads as the
 * caller; action completes "may ..." in the detail ("poll it").
 */
void subscription_check_owner(text *name, const char *action);
