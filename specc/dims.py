"""Symbolic tensor dimensions.

A dimension is an ``int`` or a :class:`Sym`: an integer polynomial over symbol names
(``N``, ``T``, ``H``) and floor-division atoms such as ``(H+1)//2``. Arithmetic on Syms
normalises, so two branches computing the same size compare equal:

    >>> H = Sym.symbol("H")
    >>> (H + 2 - 3) // 2 + 1 == (H - 1) // 2 + 1
    True

Anything that turns out constant collapses back to a plain ``int``.

A Sym's size is bounded (``MAX_TERMS`` terms, ``MAX_DEGREE`` factors per term,
``MAX_ATOM_TEXT`` characters per floor-division atom): chains of pools and concatenations
otherwise grow the atoms' nested names like Fibonacci numbers. Past a bound the
operation raises :class:`DimTooLarge`, which inference reports as E004.
"""
from __future__ import annotations

_ATOMS: dict[str, tuple["Sym", int]] = {}  # floor-div atom name -> (numerator, divisor)
MAX_TERMS = 256
MAX_DEGREE = 64
MAX_ATOM_TEXT = 2_000
# A declared input size (a literal or a symbol bound with --dim) is at least 1: torch runs
# some ops on empty tensors (a Linear on a batch of 0) but refuses them in others, so a size
# of 0 would let check accept models that the build cannot run.
EMPTY_SIZE_REFUSED = ("torch refuses empty tensors in many ops (a reshape with -1, RNNs, "
                      "sequence packing, convolutions and pools over nothing)")


class DimTooLarge(Exception):
    """A symbolic size grew past its bound (see the module docstring)."""


class NeedsConcrete(Exception):
    """An operation needs a concrete size but got a symbolic one."""

    def __init__(self, dim: "Sym", what: str):
        self.dim = dim
        self.what = what
        super().__init__(f"{what} needs a concrete size, but it is {dim} "
                         f"(bind {', '.join(sorted(dim.symbols()))} with --dim)")


class Sym:
    __slots__ = ("terms", "_hash")

    def __init__(self, terms: dict):
        # terms: monomial (sorted tuple of atom names) -> nonzero int coefficient
        self.terms = tuple(sorted((m, c) for m, c in terms.items() if c))
        if len(self.terms) > MAX_TERMS or any(len(m) > MAX_DEGREE for m, _ in self.terms):
            raise DimTooLarge(f"a symbolic size has more than {MAX_TERMS} terms or "
                              f"{MAX_DEGREE} factors in a term; bind its symbols with --dim")
        self._hash = hash(self.terms)

    @staticmethod
    def symbol(name: str) -> "Sym":
        return Sym({(name,): 1})

    @staticmethod
    def make(terms: dict) -> Dim:
        clean = {m: c for m, c in terms.items() if c}
        if not clean:
            return 0
        if list(clean) == [()]:
            return clean[()]
        return Sym(clean)

    # -- arithmetic -------------------------------------------------------------
    def _terms(self) -> dict:
        return dict(self.terms)

    def __add__(self, other):
        terms = self._terms()
        for m, c in _as_terms(other).items():
            terms[m] = terms.get(m, 0) + c
        return Sym.make(terms)

    __radd__ = __add__

    def __neg__(self):
        return Sym.make({m: -c for m, c in self.terms})

    def __sub__(self, other):
        return self + (-other if isinstance(other, Sym) else -int(other))

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        result: dict = {}
        for m1, c1 in self.terms:
            for m2, c2 in _as_terms(other).items():
                m = tuple(sorted(m1 + m2))
                result[m] = result.get(m, 0) + c1 * c2
        return Sym.make(result)

    __rmul__ = __mul__

    def __floordiv__(self, k):
        if isinstance(k, Sym):
            if k == self:
                return 1
            raise NeedsConcrete(k, "division by a symbolic size")
        k = int(k)
        if k == 1:
            return self
        quotient, remainder = {}, {}
        for m, c in self.terms:
            quotient[m] = c // k
            if c % k:
                remainder[m] = c % k
        rest = Sym.make(remainder)
        if isinstance(rest, int):
            return Sym.make(quotient) + rest // k
        inner = _floor_atom(rest)
        if inner is not None:  # (x // a) // b == x // (a·b) for integers
            return Sym.make(quotient) + inner[0] // (inner[1] * k)
        text = str(rest)
        name = f"{text}//{k}" if text.isidentifier() else f"({text})//{k}"
        if len(name) > MAX_ATOM_TEXT:
            raise DimTooLarge(f"a symbolic size grew to over {MAX_ATOM_TEXT} characters "
                              f"({name[:60]}…); bind its symbols with --dim")
        _ATOMS[name] = (rest, k)
        return Sym.make(quotient) + Sym.symbol(name)

    def __rfloordiv__(self, other):
        raise NeedsConcrete(self, "division by a symbolic size")

    def __mod__(self, k):
        return self - (self // k) * k

    def __eq__(self, other):
        return isinstance(other, Sym) and self.terms == other.terms

    def __hash__(self):
        return self._hash

    def __bool__(self):
        return True

    # -- inspection -------------------------------------------------------------
    def symbols(self) -> set[str]:
        names: set[str] = set()
        for m, _ in self.terms:
            for atom in m:
                if atom in _ATOMS:
                    names |= _ATOMS[atom][0].symbols()
                else:
                    names.add(atom)
        return names

    def exact_div(self, k: int):
        """self / k when every coefficient divides, else None (for reshape's -1)."""
        if all(c % k == 0 for _, c in self.terms):
            return Sym.make({m: c // k for m, c in self.terms})
        return None

    def div_by(self, other: "Sym"):
        """self / other for a monomial divisor (C*H*W / H = C*W), else None."""
        if len(other.terms) != 1:
            return self if other == self else None
        (mono, coef), = other.terms
        out = {}
        for m, c in self.terms:
            rest = list(m)
            for atom in mono:
                if atom not in rest:
                    return None
                rest.remove(atom)
            if c % coef:
                return None
            out[tuple(rest)] = c // coef
        return Sym.make(out)

    def substitute(self, env: dict) -> Dim:
        total: Dim = 0
        for m, c in self.terms:
            term: Dim = c
            for atom in m:
                if atom in _ATOMS:
                    numerator, k = _ATOMS[atom]
                    value = substitute(numerator, env) // k
                else:
                    value = env.get(atom, Sym.symbol(atom))
                term = term * value
            total = total + term
        return total

    def __str__(self):
        parts = []
        for m, c in sorted(self.terms, key=lambda t: (len(t[0]) == 0, t[0])):
            # a floor atom inside a product needs parentheses: 2*(H//8), not 2*H//8
            wrap = len(m) > 1 or abs(c) != 1
            mono = "*".join(f"({a})" if wrap and a in _ATOMS else a for a in m)
            if not m:
                text = str(abs(c))
            elif abs(c) == 1:
                text = mono
            else:
                text = f"{abs(c)}*{mono}"
            sign = "-" if c < 0 else "+"
            parts.append((sign, text))
        out = ("-" if parts[0][0] == "-" else "") + parts[0][1]
        for sign, text in parts[1:]:
            out += sign + text
        return out

    __repr__ = __str__


Dim = int | Sym  # a size: concrete, or a polynomial of symbols


def _floor_atom(value: "Sym"):
    """(numerator, divisor) when value is exactly one floor-division atom, else None."""
    if len(value.terms) == 1:
        (mono, coef), = value.terms
        if coef == 1 and len(mono) == 1 and mono[0] in _ATOMS:
            return _ATOMS[mono[0]]
    return None


def parse_dim(text: str):
    """A declared dim: 'N', '8*h' or '2*h*w' → Sym; None when it is not of that form."""
    factors = text.replace(" ", "").split("*")
    result = 1
    for factor in factors:
        if factor.isascii() and factor.isdigit():  # not "١٢": E104 refuses it as YAML does
            result = result * int(factor)
        elif factor.isidentifier():
            result = result * Sym.symbol(factor)
        else:
            return None
    return result


def solve_linear(dim: Dim, size: int) -> tuple[str, int | None] | None:
    """Where ``dim`` is ``a*s + b`` in one symbol ``s`` (8*h, h+2, no floor division):
    (s, the whole s >= 0 at which dim equals ``size``, or None where there is none).
    None where ``dim`` is not of that form (a constant, h*w, h*h, (h+1)//2)."""
    if not isinstance(dim, Sym):
        return None
    slope, offset, symbol = 0, 0, None
    for mono, coef in dim.terms:
        if not mono:
            offset = coef
        elif len(mono) == 1 and mono[0] not in _ATOMS and symbol is None:
            symbol, slope = mono[0], coef
        else:
            return None
    assert symbol is not None  # a Sym with only a constant term collapses to an int
    value, remainder = divmod(size - offset, slope)
    return symbol, (value if remainder == 0 and value >= 0 else None)


def _as_terms(value) -> dict:
    if isinstance(value, Sym):
        return dict(value.terms)
    return {(): int(value)}


def substitute(dim: Dim, env: dict) -> Dim:
    return dim.substitute(env) if isinstance(dim, Sym) else dim


def dim_json(dim: Dim):
    return dim if isinstance(dim, int) else str(dim)


def shape_str(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def product(dims) -> Dim:
    result: Dim = 1
    for d in dims:
        result = result * d
    return result


def ceil_div(a: Dim, k: int) -> Dim:
    return (a + (k - 1)) // k
