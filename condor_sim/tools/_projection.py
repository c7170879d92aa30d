"""The projection of a query made for printing: which attributes to ask a daemon for.

condor_q and condor_status both project their query to the attributes their output
evaluates, as the real tools do: every name mentioned by the -af or -format expressions
(or by a view's columns), plus what the sort needs and ids they always show.  Asking
for only these keeps the reply small; asking for fewer would leave the printed
expressions undefined.  Which expressions a tool prints, and when it wants whole ads
instead, stays with the tool; the shared part is here.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from ..jobqueue.select import names_in


def printed_expressions(output: str, af_attrs: Sequence[str],
                        formats: Sequence[tuple[str, str]]) -> list[str]:
    """The expressions an ``af`` or ``format`` output evaluates per ad: the -af attributes,
    or the expression of each -format pair (its print format left out); [] otherwise."""
    if output == "af":
        return list(af_attrs)
    if output == "format":
        return [expr for _, expr in formats]
    return []


def referenced_names(exprs: Iterable[str], always: Iterable[str] = ()) -> list[str]:
    """Every attribute name the expressions mention (lower-cased, string literals left
    out), with the names in ``always``, sorted: the projection for those expressions."""
    return sorted({name for expr in exprs for name in names_in(expr)} | set(always))
