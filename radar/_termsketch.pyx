# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The term sketch's per-bucket loop, compiled (an optional extension module).

:meth:`TermBaseline.learn <radar.terms.TermBaseline.learn>` adds every term count of a calm bucket
to the sketch cell that ``zlib.crc32`` of the term's UTF-8 picks: a Python loop of a few dozen
terms per bucket of every stream. :func:`add_counts` is that loop in C, with the same CRC-32 (the
reflected 0xEDB88320 polynomial zlib uses), the same float32 cells and the same arithmetic in the
same order, so the sketch is bit-identical.
"""

from cpython.array cimport array
from cpython.unicode cimport PyUnicode_AsUTF8String

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    const char* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    bint PyDict_Next(object, Py_ssize_t*, void**, void**)

cdef unsigned int TABLE[256]


cdef void _fill_table() noexcept:
    cdef unsigned int c, k, n
    for n in range(256):
        c = n
        for k in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else (c >> 1)
        TABLE[n] = c


_fill_table()


cdef inline unsigned int _crc32(const unsigned char* data, Py_ssize_t n) noexcept:
    """``zlib.crc32(data)``."""
    cdef unsigned int c = 0xFFFFFFFF
    cdef Py_ssize_t i
    for i in range(n):
        c = TABLE[(c ^ data[i]) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc32(str term):
    """``zlib.crc32(term.encode("utf-8"))`` (for tests)."""
    cdef bytes b = PyUnicode_AsUTF8String(term)
    return _crc32(<const unsigned char*>(<char*>b), len(b))


def add_counts(array cells, object terms, Py_ssize_t width, double inc):
    """``cells[crc32(term.encode("utf-8")) % width] += count * inc`` for every ``term, count`` of
    ``terms`` (a dict or a dict subclass such as ``Counter``), in their order."""
    if not isinstance(terms, dict):
        raise TypeError(f"terms: a dict (or Counter), not {type(terms).__name__}")
    if cells.typecode != "f" or width <= 0 or width > len(cells):
        raise ValueError(f"cells: float32 cells, at least width {width} of them")
    cdef float* c = cells.data.as_floats
    cdef Py_ssize_t pos = 0
    cdef void* key
    cdef void* value
    cdef object term, count
    cdef bytes encoded
    cdef unsigned int h
    cdef Py_ssize_t idx
    while PyDict_Next(terms, &pos, &key, &value):
        term = <object>key
        count = <object>value
        if type(term) is not str:  # a str subclass (numpy's str_ ...): its own encode, as in Python
            encoded = bytes(term.encode("utf-8"))
            h = _crc32(<const unsigned char*>(<char*>encoded), len(encoded))
        elif PyUnicode_IS_ASCII(term):  # the UTF-8 of ASCII is its characters, no copy needed
            h = _crc32(<const unsigned char*>PyUnicode_DATA(term), PyUnicode_GET_LENGTH(term))
        else:
            encoded = PyUnicode_AsUTF8String(term)
            h = _crc32(<const unsigned char*>(<char*>encoded), len(encoded))
        idx = h % <unsigned int>width
        c[idx] = <float>(<double>c[idx] + <double>count * inc)
