"""The bases of the small value types `specc check` makes (a location, a tensor type, a
diagnostic, an op's parameter...): plain classes with ``__slots__`` and an ``__init__``
written out, not dataclasses.

Why: `specc check` is a short process. Importing dataclasses imports inspect (with ast,
dis and tokenize: ~7 ms), and making a dataclass execs the source of its methods (~0.5 ms
each on Python 3.11): for the ~30 classes on the check path, ~20 ms of a ~90 ms run.
These two bases give what the check path used from dataclasses — equality by field, a
repr naming every field, and for :class:`Value` a hash and immutability — and nothing
else (tests/test_benchmarks.py keeps dataclasses and inspect off that path).

A subclass lists its fields in ``__slots__`` in the order of its ``__init__``'s parameters,
under the same names: equality, hash, repr, pickling and :meth:`Record.replace` read them
that way.
"""
from __future__ import annotations

from operator import attrgetter


class Record:
    """A mutable record, equal to another of its class whose fields are equal (so, like a
    mutable dataclass, it has no hash)."""

    __slots__: tuple[str, ...] = ()
    # the class's field values as a tuple, in __slots__ order: an attrgetter made once per
    # class (it runs in C; a Ref or TensorType is hashed ~700 times in a ResNet-50 check)
    # (called as self._get_fields(self): an attrgetter is no method, so the no-field and
    # one-field getters are static functions to match)
    _get_fields = staticmethod(lambda _record: ())

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        names = cls.__slots__
        if len(names) > 1:
            cls._get_fields = attrgetter(*names)  # type: ignore[assignment]
        elif names:  # attrgetter of one name returns the value, not a tuple
            one = attrgetter(names[0])
            cls._get_fields = staticmethod(lambda record: (one(record),))

    def field_values(self) -> tuple:
        """The field values in ``__slots__`` order."""
        return self._get_fields(self)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._get_fields(self) == other._get_fields(other)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({shown})"

    def replace(self, **changes):
        """A new one with these fields changed (what dataclasses.replace does)."""
        unknown = changes.keys() - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return type(self)(**{name: changes[name] if name in changes else getattr(self, name)
                             for name in self.__slots__})


class Value(Record):
    """An immutable record: hashable by its fields (it can be a dict key), and its fields
    cannot be assigned after ``__init__``, which sets them once with :meth:`_set_fields`."""

    __slots__ = ()

    def _set_fields(self, *values: object) -> None:
        """What a subclass's ``__init__`` calls once: its field values in ``__slots__``
        order, set past the immutability guard."""
        names: tuple[str, ...] = self.__slots__
        for name, value in zip(names, values, strict=True):
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        return hash(self._get_fields(self))

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a {type(self).__name__} "
                             "is immutable (make a new one with .replace())")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a {type(self).__name__} "
                             "is immutable")

    def __reduce__(self):
        # pickle and copy make it again through __init__ (their default sets the slots
        # with setattr, which an immutable value refuses)
        return type(self), self._get_fields(self)
