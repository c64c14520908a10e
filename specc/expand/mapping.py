"""Small operations on the located mappings (LDict) that spec nodes are."""
from __future__ import annotations

from specc.errors import Loc
from specc.loader import LDict


def normalise(raw, loc: Loc) -> LDict:
    """`- ReLU` is shorthand for `- {op: ReLU}`."""
    if isinstance(raw, str):
        item = LDict(loc)
        item["op"] = raw
        item.value_locs["op"] = loc
        item.key_locs["op"] = loc
        return item
    if isinstance(raw, LDict):
        return raw
    item = LDict(loc)
    item["op"] = raw
    return item


def without(item: LDict, keys) -> LDict:
    """A copy of a node mapping without some keys (positions kept)."""
    body = LDict(item.loc)
    for key, value in item.items():
        if key not in keys:
            body[key] = value
            body.value_locs[key] = item.loc_of(key)
            body.key_locs[key] = item.key_locs.get(key, item.loc)
    return body
