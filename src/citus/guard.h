/*
 * guard.h: the citus module's entry (src/citus/guard.cpp).
 *
 * C-style: no destructors across PostgreSQL calls (boundary.h).
 */
#pragma once

/* From _PG_init: the planner hook that keeps NULL stream ids from Citus's
 * call delegation (docs/design/citus.md). */
void citus_guard_init(void);
