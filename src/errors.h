/*
 * errors.h: chronicle's own SQLSTATEs (docs/reference/errors.md).  Every error raised
 * on purpose uses one of these or a standard PostgreSQL code.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/elog.h"
}

#define CHRONICLE_WRONG_EXPECTED_VERSION MAKE_SQLSTATE('S', 'E', '0', '0', '1')
#define CHRONICLE_IMMUTABLE_HISTORY      MAKE_SQLSTATE('S', 'E', '0', '0', '2')
#define CHRONICLE_INVALID_EVENT          MAKE_SQLSTATE('S', 'E', '0', '0', '3')
#define CHRONICLE_INVALID_REDUCER        MAKE_SQLSTATE('S', 'E', '0', '0', '4')
#define CHRONICLE_DUPLICATE_EVENT_ID     MAKE_SQLSTATE('S', 'E', '0', '0', '5')
#define CHRONICLE_UNKNOWN_SUBSCRIPTION   MAKE_SQLSTATE('S', 'E', '0', '0', '6')
#define CHRONICLE_APPEND_CONDITION_FAILED MAKE_SQLSTATE('S', 'E', '0', '0', '7')

#define CHRONICLE_INVALID_MOVE           MAKE_SQLSTATE('T', 'R', '0', '0', '1')
#define CHRONICLE_NODE_NOT_FOUND         MAKE_SQLSTATE('T', 'R', '0', '0', '2')
#define CHRONICLE_TREE_CORRUPT           MAKE_SQLSTATE('T', 'R', '0', '0', '3')
#define CHRONICLE_NOT_A_TREE             MAKE_SQLSTATE('T', 'R', '0', '0', '4')
#define CHRONICLE_MANAGED_COLUMN         MAKE_SQLSTATE('T', 'R', '0', '0', '5')
