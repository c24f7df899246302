# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A closed bucket's top terms, compiled (an optional extension module).

:meth:`Windower.advance <radar.windows.Windower.advance>` keeps the ``TOP_TERMS`` most frequent
terms of every closed bucket that has more (ties to the alphabetically first): in a busy hour, most
buckets of a stream of a few mentions a minute, at some 15 µs each in Python (two sorts of tuples).
:func:`top_terms` sorts the ``(term, count)`` entries once in C by count, then by term (a byte
comparison for ASCII terms, whose code points are their bytes; ``PyUnicode_Compare`` otherwise), the
order :func:`radar.windows.top_terms` defines, and gives the same dict.
"""

from cpython.ref cimport PyObject
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp

cdef extern from "Python.h":
    bint PyDict_Next(object, Py_ssize_t*, PyObject**, PyObject**)
    bint PyUnicode_IS_ASCII(object)
    const char* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    int PyUnicode_Compare(object, object) noexcept
    long long PyLong_AsLongLongAndOverflow(object, int*) noexcept

cdef extern from "stdlib.h":
    void qsort(void*, size_t, size_t, int (*)(const void*, const void*) noexcept)


cdef struct Entry:
    PyObject* term
    PyObject* value
    long long count
    const char* ascii  # the term's characters when ASCII (its code points are its bytes), else NULL
    Py_ssize_t size


cdef int _order(const void* a, const void* b) noexcept:
    """More frequent first, then the alphabetically first (terms are distinct: never equal)."""
    cdef const Entry* x = <const Entry*>a
    cdef const Entry* y = <const Entry*>b
    cdef int r
    if x.count != y.count:
        return -1 if x.count > y.count else 1
    if x.ascii != NULL and y.ascii != NULL:
        r = memcmp(x.ascii, y.ascii, x.size if x.size < y.size else y.size)
        if r:
            return r
        return (x.size > y.size) - (x.size < y.size)
    return PyUnicode_Compare(<object>x.term, <object>y.term)  # two str: no error


def top_terms(object counts, Py_ssize_t n):
    """``radar.windows.top_terms(counts, n)``, or ``None`` when ``counts`` is not a dict (a ``Counter``
    is), a term not a ``str``, a count not an ``int`` of 64 bits or ``n`` negative (the Python code then
    decides)."""
    if n < 0 or not isinstance(counts, dict):
        return None
    cdef Py_ssize_t size = len(counts), pos = 0, k = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef int overflow = 0
    cdef Entry* entries = <Entry*>malloc((size if size else 1) * sizeof(Entry))
    if entries == NULL:
        raise MemoryError()
    cdef dict out = {}
    try:
        while PyDict_Next(counts, &pos, &key, &value):
            if type(<object>key) is not str or type(<object>value) is not int:
                return None
            entries[k].term = key
            entries[k].value = value
            entries[k].count = PyLong_AsLongLongAndOverflow(<object>value, &overflow)
            if overflow:
                return None
            if PyUnicode_IS_ASCII(<object>key):
                entries[k].ascii = PyUnicode_DATA(<object>key)
                entries[k].size = PyUnicode_GET_LENGTH(<object>key)
            else:
                entries[k].ascii = NULL
                entries[k].size = 0
            k += 1
        qsort(entries, k, sizeof(Entry), _order)
        for pos in range(n if n < k else k):
            out[<object>entries[pos].term] = <object>entries[pos].value
        return out
    finally:
        free(entries)
