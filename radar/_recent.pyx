# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The recent activity's per-bucket update, compiled (an optional extension module).

:meth:`RecentActivity.add <radar.recent.RecentActivity.add>` runs for every closed bucket of every
stream: a few columns appended to, the bucket's terms looked up in the shared table, every new post
packed and set among the candidates, the expired buckets and posts let go. In Python that is about
half of a busy bucket's close. :func:`add` does the same steps, in the same order, on the same
columns, so that every column, every query and every pickle are what the Python code makes of the
same buckets (``tests/test_compiled.py`` runs both). The Python code stays the reference: whatever is
rare here (a value wider than its column, a term new to the table, a tie in amplification, a text to
cut, a post that does not pack, a bucket start that is not whole seconds) calls the Python helper the
Python code would have called, or does what it does with Python objects.
"""

from cpython.array cimport array, resize_smart
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_AsDouble
from cpython.list cimport PyList_Insert
from cpython.ref cimport PyObject
from libc.math cimport copysign, floor
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memmove

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    const char* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    unsigned long long PyLong_AsUnsignedLongLong(object) noexcept
    long long PyLong_AsLongLongAndOverflow(object, int*) noexcept
    PyObject* PyErr_Occurred()
    void PyErr_Clear()

cdef double INF = float("inf")
cdef Py_ssize_t HEAD = 22  # struct "<qqHHH": radar.recent._PACKED


# -- columns -------------------------------------------------------------------------------------------
cdef unsigned long long _largest(array column):
    """The largest value an unsigned integer column holds (0 for any other kind of column)."""
    cdef char code = column.ob_descr.typecode
    if code == b"B":
        return 0xFF
    if code == b"H":
        return 0xFFFF
    if code == b"I" and column.ob_descr.itemsize == 4:
        return 0xFFFFFFFF
    if code == b"Q" and column.ob_descr.itemsize == 8:
        return 0xFFFFFFFFFFFFFFFF
    return 0


cdef inline void _set(array column, Py_ssize_t i, unsigned long long value) noexcept:
    cdef Py_ssize_t size = column.ob_descr.itemsize
    if size == 1:
        column.data.as_uchars[i] = <unsigned char>value
    elif size == 2:
        column.data.as_ushorts[i] = <unsigned short>value
    elif size == 4:
        column.data.as_uints[i] = <unsigned int>value
    else:
        column.data.as_ulonglongs[i] = value


cdef inline unsigned long long _get(array column, Py_ssize_t i) noexcept:
    cdef Py_ssize_t size = column.ob_descr.itemsize
    if size == 1:
        return column.data.as_uchars[i]
    if size == 2:
        return column.data.as_ushorts[i]
    if size == 4:
        return column.data.as_uints[i]
    return column.data.as_ulonglongs[i]


cdef object _extended(array column, list values, object python):
    """``python(column, values)`` (``radar.recent._extended``): in C when every value is an ``int`` that
    fits the column, by the Python helper otherwise (it widens the column)."""
    cdef unsigned long long largest = _largest(column), v
    cdef Py_ssize_t n = len(values), first = len(column), k
    cdef object value
    if largest == 0:
        return python(column, values)
    for k in range(n):
        value = values[k]
        if type(value) is not int:
            return python(column, values)
        v = PyLong_AsUnsignedLongLong(value)
        if v == <unsigned long long>-1 and PyErr_Occurred() != NULL:  # negative, or beyond 64 bits
            PyErr_Clear()
            return python(column, values)
        if v > largest:
            return python(column, values)
    resize_smart(column, first + n)
    for k in range(n):
        _set(column, first + k, PyLong_AsUnsignedLongLong(values[k]))
    return column


cdef inline bint _whole_seconds(object t):
    """``radar.recent._whole_seconds``."""
    cdef double x = PyFloat_AS_DOUBLE(t) if type(t) is float else float(t)
    return 0.0 <= x < 4294967296.0 and floor(x) == x and copysign(1.0, x) > 0.0  # not NaN, inf or -0.0


# -- candidate posts -----------------------------------------------------------------------------------
cdef inline double _number(object x) except? -1.0:
    """``float(x)``."""
    return PyFloat_AS_DOUBLE(x) if type(x) is float else PyFloat_AS_DOUBLE(float(x))


cdef inline Py_ssize_t _bisect_left(const double* a, Py_ssize_t n, double x) noexcept:
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline void _put_le(unsigned char* out, unsigned long long v, int size) noexcept:
    cdef int k
    for k in range(size):
        out[k] = <unsigned char>(v >> (8 * k))


cdef object _utf8(object s):
    """``s.encode("utf-8", "surrogatepass")``, or ``s`` itself when ASCII (its characters are it)."""
    if PyUnicode_IS_ASCII(s):
        return s
    return s.encode("utf-8", "surrogatepass")


cdef inline const char* _data(object encoded) noexcept:
    return PyUnicode_DATA(encoded) if type(encoded) is str else PyBytes_AS_STRING(encoded)


cdef inline Py_ssize_t _size(object encoded) noexcept:
    return PyUnicode_GET_LENGTH(encoded) if type(encoded) is str else len(<bytes>encoded)


def pack(post):
    """``radar.recent._pack(post)``."""
    _amplification, id_, url, author, followers, reshares, text = post
    if not (
        type(_amplification) is float
        and type(id_) is str
        and type(url) is str
        and type(author) is str
        and type(text) is str
        and type(followers) is int
        and type(reshares) is int
    ):
        return post
    cdef int overflow = 0, overflow2 = 0
    cdef long long f = PyLong_AsLongLongAndOverflow(followers, &overflow)
    cdef long long r = PyLong_AsLongLongAndOverflow(reshares, &overflow2)
    if overflow or overflow2:  # struct.error in Python: a count beyond 64 bits
        return post
    i, u, a, t = _utf8(id_), _utf8(url), _utf8(author), _utf8(text)
    cdef Py_ssize_t ni = _size(i), nu = _size(u), na = _size(a), nt = _size(t)
    if ni > 0xFFFF or nu > 0xFFFF or na > 0xFFFF:  # struct.error in Python
        return post
    cdef bytes out = PyBytes_FromStringAndSize(NULL, HEAD + ni + nu + na + nt)
    cdef unsigned char* p = <unsigned char*>PyBytes_AS_STRING(out)
    _put_le(p, <unsigned long long>f, 8)
    _put_le(p + 8, <unsigned long long>r, 8)
    _put_le(p + 16, ni, 2)
    _put_le(p + 18, nu, 2)
    _put_le(p + 20, na, 2)
    p += HEAD
    memcpy(p, _data(i), ni)
    memcpy(p + ni, _data(u), nu)
    memcpy(p + ni + nu, _data(a), na)
    memcpy(p + ni + nu + na, _data(t), nt)
    return out


cdef Py_ssize_t _below_post(object candidates, array amplifications, object post) except -1:
    """``candidates._below_post(post)``."""
    cdef double a = _number(post[0])
    cdef Py_ssize_t n = len(amplifications)
    cdef Py_ssize_t below = _bisect_left(amplifications.data.as_doubles, n, a)
    if below < n and amplifications.data.as_doubles[below] == a:
        below = candidates._below((post,))  # a tie in amplification: the whole posts decide
    return below


cdef int _insert(array column, Py_ssize_t j, double value) except -1:
    cdef Py_ssize_t n = len(column)
    resize_smart(column, n + 1)
    cdef double* d = column.data.as_doubles
    memmove(d + j + 1, d + j, (n - j) * sizeof(double))
    d[j] = value
    return 0


cdef int _keep(
    object candidates, object start, list new, dict packed, int top_posts, Py_ssize_t text_chars
) except -1:
    """``candidates.keep(start, new, packed)`` (``radar.recent._Candidates.keep``)."""
    if not new:
        return 0
    cdef array amplifications = candidates.amplifications
    cdef array starts = candidates.starts
    cdef bytearray beaten = candidates.beaten
    cdef list kept = candidates.packed
    if amplifications.ob_descr.typecode != b"d" or starts.ob_descr.typecode != b"d":
        candidates.keep(start, new, packed)
        return 0
    cdef object top = new[0], post, original, p
    for post in new[1:]:  # max(new): the first of the greatest
        if post > top:
            top = post
    cdef double a = _number(top[0])
    cdef Py_ssize_t n = len(amplifications), j, k, below
    cdef Py_ssize_t beaten_by_new = _bisect_left(amplifications.data.as_doubles, n, a)
    if beaten_by_new < n and amplifications.data.as_doubles[beaten_by_new] == a:
        beaten_by_new = candidates._below((top,))  # a tie in amplification: the whole posts decide
    cdef unsigned char* b
    cdef unsigned char most = <unsigned char>top_posts
    if beaten_by_new:
        for post in new:  # each new post beats the candidates ordered below it: one more each
            below = beaten_by_new if post is top else _below_post(candidates, amplifications, post)
            b = <unsigned char*>PyByteArray_AS_STRING(beaten)
            for k in range(below):
                b[k] = b[k] + 1 if b[k] + 1 < most else most
        j = beaten_by_new - 1
        while j >= 0:  # beaten TOP_POSTS times: never among the top again
            if (<unsigned char*>PyByteArray_AS_STRING(beaten))[j] == most:
                del amplifications[j], starts[j], beaten[j], kept[j]
            j -= 1
    cdef double at = PyFloat_AsDouble(start)  # as array("d").insert converts it
    for original in new:
        post = original
        if len(post[6]) > text_chars:  # never shown, and ids break every tie before the text
            post = post._replace(text=post[6][:text_chars])
        a = _number(post[0])
        n = len(amplifications)
        j = _bisect_left(amplifications.data.as_doubles, n, a)
        if j < n and amplifications.data.as_doubles[j] == a:
            j = candidates._not_above((post, start, 0))  # a tie in amplification: the whole posts decide
        key = id(original)  # the bucket holds the original all along: its id is its own
        p = packed.get(key)
        if p is None:
            p = packed[key] = pack(post)
        _insert(amplifications, j, a)
        _insert(starts, j, at)
        n = PyByteArray_GET_SIZE(beaten)
        PyByteArray_Resize(beaten, n + 1)
        b = <unsigned char*>PyByteArray_AS_STRING(beaten)
        memmove(b + j + 1, b + j, n - j)
        b[j] = 0
        PyList_Insert(kept, j, p)
    return 0


cdef int _drop_before(object candidates, double horizon) except -1:
    """``candidates.drop_before(horizon)``: the kept candidates move up in place."""
    cdef array amplifications = candidates.amplifications
    cdef array starts = candidates.starts
    cdef bytearray beaten = candidates.beaten
    cdef list kept = candidates.packed
    cdef Py_ssize_t n = len(starts), j, w = 0
    cdef double* s = starts.data.as_doubles
    cdef double* am = amplifications.data.as_doubles
    cdef unsigned char* b = <unsigned char*>PyByteArray_AS_STRING(beaten)
    for j in range(n):
        if s[j] >= horizon:
            if w != j:
                s[w], am[w], b[w] = s[j], am[j], b[j]
                kept[w] = kept[j]
            w += 1
    if w < n:
        del kept[w:]
        resize_smart(starts, w)
        resize_smart(amplifications, w)
        PyByteArray_Resize(beaten, w)
    return 0


cdef double _oldest(object candidates) except? -1.0:
    """``candidates.oldest()``."""
    cdef array starts = candidates.starts
    cdef Py_ssize_t n = len(starts), j
    if n == 0:
        return INF
    cdef double* s = starts.data.as_doubles
    cdef double best = s[0]
    for j in range(1, n):
        if s[j] < best:
            best = s[j]
    return best


# -- the bucket ----------------------------------------------------------------------------------------
def add(object recent, object bucket, object table, object python_extended, int top_posts,
        Py_ssize_t text_chars, Py_ssize_t cut):
    """``recent.add(bucket)`` (``radar.recent.RecentActivity.add``), with ``table`` its table of terms,
    ``python_extended`` ``radar.recent._extended``, ``top_posts``, ``text_chars`` and ``cut`` the
    module's ``TOP_POSTS``, ``TEXT_CHARS`` and ``CUT``."""
    cdef array starts = recent._starts
    cdef Py_ssize_t first, i, count
    cdef dict numbers
    cdef list ids, other_at, other
    cdef object terms, start, term, c, number
    mentions = bucket.mentions
    if mentions:
        terms, start = bucket.terms, bucket.start
        if starts.ob_descr.typecode == b"d":
            starts.append(start)
        elif _whole_seconds(start):
            starts.append(int(start))
        else:
            recent._starts = starts = array("d", starts)
            starts.append(start)
        recent._figures = _extended(recent._figures, [mentions, bucket.negative, bucket.positive],
                                    python_extended)
        recent._sizes = _extended(recent._sizes, [len(terms)], python_extended)
        first = len(recent._term_ids)
        numbers = table._numbers
        ids = []
        for term in terms:
            number = numbers.get(term)
            if number is None:  # a term new to the table
                ids = table.acquire(terms)
                break
            ids.append(number)
        recent._term_ids = _extended(recent._term_ids, ids, python_extended)
        other_at = other = None
        i = 0
        for c in terms.values():
            if c != 1:
                if other_at is None:
                    other_at, other = [], []
                other_at.append(first + i)
                other.append(c)
            i += 1
        if other_at is not None:
            recent._other_at = _extended(recent._other_at, other_at, python_extended)
            recent._other = _extended(recent._other, other, python_extended)
        posts = bucket.posts
        if posts:
            packed = {}  # a post among both the top and the negative ones
            _keep(recent._posts, start, posts, packed, top_posts, text_chars)
            _keep(recent._negative_posts, start, bucket.negative_posts, packed, top_posts, text_chars)
            if start < recent._oldest_post:
                recent._oldest_post = start
    horizon = bucket.start + bucket.seconds - recent.seconds
    starts = recent._starts
    cdef Py_ssize_t expired = recent._expired, n = len(starts)
    cdef double h
    cdef array sizes
    if expired < n and starts[expired] < horizon:
        sizes = recent._sizes
        count = 0
        if type(horizon) is float and starts.ob_descr.typecode == b"I" and _largest(sizes):
            h = PyFloat_AS_DOUBLE(horizon)
            while expired < n and <double>starts.data.as_uints[expired] < h:
                count += <Py_ssize_t>_get(sizes, expired)
                expired += 1
        else:
            while expired < n and starts[expired] < horizon:
                count += sizes[expired]
                expired += 1
        recent._expired_terms += count
        recent._expired = expired
        if expired >= cut:
            _cut(recent, python_extended)
    if recent._oldest_post < horizon:
        posts_kept, negative_kept = recent._posts, recent._negative_posts
        if type(horizon) is float and not _odd(posts_kept) and not _odd(negative_kept):
            h = PyFloat_AS_DOUBLE(horizon)
            _drop_before(posts_kept, h)
            _drop_before(negative_kept, h)
            a, b = _oldest(posts_kept), _oldest(negative_kept)
            recent._oldest_post = b if b < a else a
        else:
            posts_kept.drop_before(horizon)
            negative_kept.drop_before(horizon)
            recent._oldest_post = min(posts_kept.oldest(), negative_kept.oldest())


cdef bint _odd(object candidates):
    """Whether ``candidates`` are not the columns :func:`_drop_before` reads (then Python does it)."""
    cdef array starts = candidates.starts
    cdef array amplifications = candidates.amplifications
    return (
        starts.ob_descr.typecode != b"d"
        or amplifications.ob_descr.typecode != b"d"
        or type(candidates.beaten) is not bytearray
        or type(candidates.packed) is not list
    )


cdef int _cut(object recent, object python_extended) except -1:
    """``recent._cut()``: the expired buckets dropped from the columns."""
    cdef array other_at = recent._other_at
    cdef unsigned long long largest = _largest(other_at), v, most = 0
    if largest == 0:  # not an unsigned column (not one this module makes): the Python code
        recent._cut()
        return 0
    cdef Py_ssize_t k = recent._expired, m = recent._expired_terms
    del recent._starts[:k], recent._figures[: 3 * k], recent._sizes[:k], recent._term_ids[:m]
    cdef Py_ssize_t n = len(other_at), gone = 0, j
    while gone < n and _get(other_at, gone) < <unsigned long long>m:  # bisect_left(other_at, m)
        gone += 1
    del other_at[:gone], recent._other[:gone]
    n -= gone
    if n:
        for j in range(n):
            v = _get(other_at, j) - m
            if v > most:
                most = v
        code = b"H" if most <= 0xFFFF else b"I" if most <= 0xFFFFFFFF else b"Q"
        if other_at.ob_descr.typecode == (<char*>code)[0]:
            for j in range(n):
                _set(other_at, j, _get(other_at, j) - m)
        else:  # _narrowest(..., "H") makes another kind of column: the Python helper
            recent._other_at = python_extended(array("H"), [_get(other_at, j) - m for j in range(n)])
    recent._expired = recent._expired_terms = 0
    return 0


# -- the terms of a trailing window --------------------------------------------------------------------
def terms(object recent, Py_ssize_t first, list names):
    """The dict ``radar.recent.RecentActivity.terms`` makes of the terms from the ``first``-th on (their
    counts summed, in the order of their first appearance), with ``names`` the table's terms by number;
    ``None`` when a column is not one this module reads (the Python code then does it)."""
    cdef array ids = recent._term_ids
    cdef array other_at = recent._other_at
    cdef array other = recent._other
    if not _largest(ids) or not _largest(other_at) or not _largest(other) or other.ob_descr.itemsize == 8:
        return None  # (eight-byte counts could overflow a sum in C)
    cdef Py_ssize_t n = len(ids), table = len(names), m = len(other_at), k = 0, i, s, distinct = 0
    cdef unsigned long long number, c
    while k < m and _get(other_at, k) < <unsigned long long>first:  # bisect_left(other_at, first)
        k += 1
    if first >= n:
        return {}
    cdef Py_ssize_t* slot = <Py_ssize_t*>calloc(table + 1, sizeof(Py_ssize_t))  # place + 1, 0: unseen
    cdef Py_ssize_t* order = <Py_ssize_t*>malloc((n - first) * sizeof(Py_ssize_t))
    cdef long long* sums = <long long*>malloc((n - first) * sizeof(long long))
    cdef dict out = {}
    try:
        if slot == NULL or order == NULL or sums == NULL:
            raise MemoryError()
        for i in range(first, n):
            number = _get(ids, i)
            if number >= <unsigned long long>table:
                return None  # not a number of this table (never so): the Python code decides
            c = 1
            if k < m and _get(other_at, k) == <unsigned long long>i:
                c = _get(other, k)
                k += 1
            s = slot[number]
            if s == 0:
                order[distinct] = <Py_ssize_t>number
                sums[distinct] = <long long>c
                distinct += 1
                slot[number] = distinct
            else:
                sums[s - 1] += <long long>c
        for i in range(distinct):
            out[names[order[i]]] = sums[i]
        return out
    finally:
        free(slot)
        free(order)
        free(sums)
