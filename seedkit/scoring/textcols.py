"""Text columns built with numpy: ``'%.9g' % score`` for a million scores, and whole lines.

:func:`format_g9` gives the bytes of ``'%.9g' % float(v)`` for every value (checked against
Python's own formatting in the tests: the rounding is decided on the float64 product
``|v| * 10**(8 - e)``, and values whose product lies within 1e-6 of a rounding tie, or whose
exponent is outside [-14, 22], are formatted by Python). :func:`join_lines` lays fixed-width
columns side by side, NUL-padded, and drops the NULs in one pass, which gives the bytes of
``f"{a} {b} {c}\\n"`` per row without a Python loop.
"""

from __future__ import annotations

import numpy as np

__all__ = ["format_g9", "join_lines", "key_column"]

_DIGITS = 9
_TIE = 1e-6  # products this close to .5 are left to Python's correctly rounded formatting
_MIN_EXP, _MAX_EXP = -14, 22  # 10.0 ** k is exact for |k| <= 22


#: the three digits of 0..999 as the bytes of one little-endian uint32 ('ddd' + NUL)
_TRIPLES = np.frombuffer(b"".join(b"%03d\0" % i for i in range(1000)), dtype="<u4")
_TRAILING = np.array([3] + [len(str(i)) - len(str(i).rstrip("0")) for i in range(1, 1000)],
                     dtype=np.int64)


def _python_g9(values: np.ndarray, width: int) -> np.ndarray:
    txt = np.array([b"%.9g" % v for v in values.tolist()], dtype=f"S{width}")
    return txt.view(np.uint8).reshape(values.size, width)


def format_g9(values: np.ndarray) -> np.ndarray:
    """``[n, W]`` uint8: row i is ``b'%.9g' % values[i]``, NUL-padded on the right."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n = v.size
    width = 16  # '-1.23456789e-05' is 15; 'e+100' exponents go through Python
    out = np.zeros((n, width), dtype=np.uint8)
    if n == 0:
        return out
    a = np.abs(v)
    finite_nz = np.isfinite(v) & (a > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.floor(np.log10(np.where(finite_nz, a, 1.0))).astype(np.int64)
    ok = finite_nz & (e >= _MIN_EXP) & (e <= _MAX_EXP)
    e = np.where(ok, e, 0)
    y = _scaled(a, e)
    # log10 can be off by one next to powers of ten: bring y into [1e8, 1e9)
    fix = np.flatnonzero((y >= 1e9) | (y < 1e8))
    if fix.size:
        e[fix] += np.where(y[fix] >= 1e9, 1, -1)
        ok[fix] &= (e[fix] >= _MIN_EXP) & (e[fix] <= _MAX_EXP)
        e[fix] = np.where(ok[fix], e[fix], 0)
        y[fix] = _scaled(a[fix], e[fix])
    with np.errstate(invalid="ignore"):
        frac = y - np.floor(y)
        ok &= np.abs(frac - 0.5) > _TIE
        m = np.where(ok, np.floor(y + 0.5), 0).astype(np.int32)
    up = m >= 10 ** _DIGITS  # 999999999.5 -> 1000000000: one more digit of exponent
    m = np.where(up, m // 10, m)
    e = e + up
    ok &= (e >= _MIN_EXP) & (e <= _MAX_EXP)
    # nine digits as three table look-ups of three digits each
    a, bc = np.divmod(m, 1_000_000)
    b, c = np.divmod(bc, 1000)
    cells = np.stack([_TRIPLES[a], _TRIPLES[b], _TRIPLES[c]], axis=1)  # [n, 3] 'ddd\0'
    digits = cells.view(np.uint8).reshape(n, 3, 4)[:, :, :3].reshape(n, _DIGITS)
    last = np.where(c != 0, 8 - _TRAILING[c], np.where(b != 0, 5 - _TRAILING[b],
                                                          2 - _TRAILING[a]))
    neg = np.signbit(v)
    e_ok = np.where(ok, e - _MIN_EXP, -1)
    for ex in np.flatnonzero(np.bincount(e_ok[ok])) + _MIN_EXP:
        rows = np.flatnonzero(e_ok == ex - _MIN_EXP)
        out[rows] = _layout(digits[rows], last[rows], neg[rows], int(ex), width)
    zero = v == 0
    out[zero] = 0
    out[zero, 0] = np.where(neg[zero], ord("-"), ord("0"))
    out[zero & neg, 1] = ord("0")
    other = np.flatnonzero(~ok & ~zero)
    if other.size:
        out[other] = _python_g9(v[other], width)
    return out


_POW10 = 10.0 ** np.arange(_MAX_EXP + 1)  # exact


def _scaled(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``a * 10**(8 - e)`` with one rounding (exact powers of ten multiply or divide);
    ``e`` in [_MIN_EXP, _MAX_EXP]."""
    k = _DIGITS - 1 - e  # in [-14, 22]
    with np.errstate(over="ignore"):  # values Python formats (not ok) may overflow here
        y = a * _POW10[np.maximum(k, 0)]
    big = np.flatnonzero(k < 0)
    if big.size:
        y[big] = a[big] / _POW10[-k[big]]
    return y


def _layout(digits: np.ndarray, last: np.ndarray, neg: np.ndarray, ex: int, width: int
            ) -> np.ndarray:
    """Rows of one decimal exponent ``ex``: sign, digits, point and exponent as printf's %g."""
    n = digits.shape[0]
    row = np.zeros((n, width), dtype=np.uint8)
    row[:, 0] = np.where(neg, ord("-"), 0)
    fixed = -4 <= ex < _DIGITS
    whole = max(ex, 0) if fixed else 0  # index of the last digit before the point
    # trailing zeros after the point are dropped: NUL them (NULs vanish when lines are joined),
    # and the point with them when no digit follows it
    digits[np.arange(_DIGITS)[None, :] > np.maximum(last, whole)[:, None]] = 0
    point = np.where(last > whole, ord("."), 0).astype(np.uint8)
    if fixed:
        if ex >= 0:  # d..d[.ddd]
            parts = [digits[:, :ex + 1], point[:, None], digits[:, ex + 1:]]
        else:  # 0.000ddd
            lead = np.full((n, 1 - ex), ord("0"), dtype=np.uint8)
            lead[:, 1] = ord(".")
            parts = [lead, digits]
    else:  # d[.dddd]e+XX
        tail = b"e%+03d" % ex
        parts = [digits[:, :1], point[:, None], digits[:, 1:],
                 np.frombuffer(tail, dtype=np.uint8)[None, :].repeat(n, axis=0)]
    body = np.concatenate(parts, axis=1)
    row[:, 1:1 + body.shape[1]] = body
    return row


def key_column(keys: list[str]) -> np.ndarray | None:
    """``keys`` as a NUL-padded bytes array (``S<max len>``), or None when a key is not plain
    text numpy can hold that way (non-ASCII or containing NUL): the caller then formats in
    Python."""
    try:
        col = np.array(keys, dtype="S")
    except UnicodeEncodeError:
        return None
    if "\0" in "".join(keys):
        return None
    return col


def join_lines(columns: list[np.ndarray]) -> bytes:
    """The rows of NUL-padded columns (``S`` arrays or ``[n, w]`` uint8) joined by single
    spaces, each row ending in a newline, NULs removed."""
    mats = []
    for i, c in enumerate(columns):
        if c.dtype.kind == "S":
            c = np.ascontiguousarray(c).view(np.uint8).reshape(c.shape[0], -1)
        m = c
        mats.append(m)
        sep = ord("\n") if i == len(columns) - 1 else ord(" ")
        mats.append(np.full((m.shape[0], 1), sep, dtype=np.uint8))
    block = np.concatenate(mats, axis=1)
    return block[block != 0].tobytes()
