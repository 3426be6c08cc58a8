"""pq.py: the little of libpq the concurrency driver needs, through ctypes.

python3-psycopg is not a dependency of chronicle's tests; libpq is (it comes
with postgresql-client).  Asynchronous queries (PQsendQuery) let one
controller keep several sessions mid-statement at once.
"""
import ctypes
import ctypes.util
import select

_lib = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_P = ctypes.c_void_p
PQconnectdb = _fn("PQconnectdb", _P, ctypes.c_char_p)
PQstatus = _fn("PQstatus", ctypes.c_int, _P)
PQerrorMessage = _fn("PQerrorMessage", ctypes.c_char_p, _P)
PQbackendPID = _fn("PQbackendPID", ctypes.c_int, _P)
PQsendQuery = _fn("PQsendQuery", ctypes.c_int, _P, ctypes.c_char_p)
PQconsumeInput = _fn("PQconsumeInput", ctypes.c_int, _P)
PQisBusy = _fn("PQisBusy", ctypes.c_int, _P)
PQgetResult = _fn("PQgetResult", _P, _P)
PQresultStatus = _fn("PQresultStatus", ctypes.c_int, _P)
PQresultErrorField = _fn("PQresultErrorField", ctypes.c_char_p, _P, ctypes.c_int)
PQresultErrorMessage = _fn("PQresultErrorMessage", ctypes.c_char_p, _P)
PQcmdStatus = _fn("PQcmdStatus", ctypes.c_char_p, _P)
PQntuples = _fn("PQntuples", ctypes.c_int, _P)
PQnfields = _fn("PQnfields", ctypes.c_int, _P)
PQgetvalue = _fn("PQgetvalue", ctypes.c_char_p, _P, ctypes.c_int, ctypes.c_int)
PQgetisnull = _fn("PQgetisnull", ctypes.c_int, _P, ctypes.c_int, ctypes.c_int)
PQclear = _fn("PQclear", None, _P)
PQsocket = _fn("PQsocket", ctypes.c_int, _P)
PQfinish = _fn("PQfinish", None, _P)
PQgetCancel = _fn("PQgetCancel", _P, _P)
PQcancel = _fn("PQcancel", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_int)
PQfreeCancel = _fn("PQfreeCancel", None, _P)
_NoticeProcessor = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
PQsetNoticeProcessor = _fn("PQsetNoticeProcessor", _P, _P, _NoticeProcessor, _P)

CONNECTION_OK = 0
PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_FATAL_ERROR = 1, 2, 7
PG_DIAG_SQLSTATE = ord("C")


@_NoticeProcessor
def _quiet(arg, message):
    pass


class Result:
    """What one query string returned: the last result's rows and status,
    or the first error (sqlstate, message)."""

    def __init__(self):
        self.ok = True
        self.sqlstate = None
        self.message = None
        self.status = None
        self.rows = []

    def __repr__(self):
        if self.ok:
            return "<%s %d rows>" % (self.status, len(self.rows))
        return "<ERROR %s %s>" % (self.sqlstate, self.message)


class ConnectionLost(Exception):
    pass


class Conn:
    def __init__(self, conninfo):
        self.conn = PQconnectdb(conninfo.encode())
        if PQstatus(self.conn) != CONNECTION_OK:
            msg = PQerrorMessage(self.conn).decode(errors="replace")
            PQfinish(self.conn)
            raise ConnectionLost("cannot connect: " + msg)
        PQsetNoticeProcessor(self.conn, _quiet, None)
        self.pid = PQbackendPID(self.conn)
        self.busy = False
        self._result = None

    def close(self):
        if self.conn:
            PQfinish(self.conn)
            self.conn = None

    def send(self, sql):
        assert not self.busy
        if not PQsendQuery(self.conn, sql.encode()):
            raise ConnectionLost(PQerrorMessage(self.conn).decode(errors="replace"))
        self.busy = True
        self._result = Result()

    def _drain(self):
        """Collect results while libpq has them without blocking; the Result once the query ended."""
        while not PQisBusy(self.conn):
            res = PQgetResult(self.conn)
            if not res:
                self.busy = False
                r, self._result = self._result, None
                if PQstatus(self.conn) != CONNECTION_OK:
                    raise ConnectionLost(PQerrorMessage(self.conn).decode(errors="replace"))
                return r
            st = PQresultStatus(res)
            r = self._result
            if st == PGRES_FATAL_ERROR:
                if r.ok:
                    r.ok = False
                    code = PQresultErrorField(res, PG_DIAG_SQLSTATE)
                    r.sqlstate = code.decode() if code else "?????"
                    r.message = PQresultErrorMessage(res).decode(errors="replace").strip()
            elif r.ok:
                r.status = PQcmdStatus(res).decode()
                if st == PGRES_TUPLES_OK:
                    n, f = PQntuples(res), PQnfields(res)
                    r.rows = [tuple(None if PQgetisnull(res, i, j) else PQgetvalue(res, i, j).decode()
                                    for j in range(f)) for i in range(n)]
            PQclear(res)
        return None

    def poll(self):
        """The Result if the query has ended, else None (never blocks)."""
        if not self.busy:
            return None
        if not PQconsumeInput(self.conn):
            self.busy = False
            raise ConnectionLost(PQerrorMessage(self.conn).decode(errors="replace"))
        return self._drain()

    def socket(self):
        return PQsocket(self.conn)

    def wait(self, timeout=None):
        """Block until the running query ends (or timeout seconds: None then)."""
        while True:
            r = self.poll()
            if r is not None:
                return r
            ready, _, _ = select.select([self.socket()], [], [], timeout)
            if not ready and timeout is not None:
                return None

    def run(self, sql):
        self.send(sql)
        return self.wait()

    def cancel(self):
        c = PQgetCancel(self.conn)
        if c:
            buf = ctypes.create_string_buffer(256)
            PQcancel(c, buf, 256)
            PQfreeCancel(c)


def wait_any(conns, timeout):
    """Sleep until one of conns has input (or timeout seconds)."""
    socks = [c.socket() for c in conns if c.busy]
    if socks:
        select.select(socks, [], [], timeout)
