"""The query projection shared by condor_q and condor_status: the names the printed
expressions mention, and what each tool asks for with it."""
from __future__ import annotations

from condor_sim.tools import condor_q as Q, condor_status as ST
from condor_sim.tools._projection import printed_expressions, referenced_names


def test_printed_expressions_per_output():
    formats = [("%s ", "Owner"), ("%d\n", "RequestMemory * 2")]
    assert printed_expressions("af", ["Name", "Cpus"], formats) == ["Name", "Cpus"]
    assert printed_expressions("format", [], formats) == ["Owner", "RequestMemory * 2"]
    assert printed_expressions("long", ["Name"], formats) == []


def test_referenced_names_are_lower_cased_sorted_and_skip_string_literals():
    exprs = ['RemoteHost =?= undefined ? "Owner x" : strcat(Owner, My.Cpus)', "OWNER"]
    assert referenced_names(exprs) == ["cpus", "my", "owner", "remotehost", "strcat", "undefined"]
    assert referenced_names(["Cmd"], always=("clusterid", "procid")) == \
        ["clusterid", "cmd", "procid"]
    assert referenced_names([]) == []


def test_both_tools_project_through_it():
    assert Q.projection_of(Q.parse_args(["-af", "Owner", "RequestMemory*2"])) == \
        ["clusterid", "owner", "procid", "requestmemory"]
    assert Q.projection_of(Q.parse_args(["-format", "%s\n", 'strcat(Cmd, "x")'])) == \
        ["clusterid", "cmd", "procid", "strcat"]
    # condor_status adds what its default sort (Machine, then Name) needs
    assert ST.projection_of(ST.parse_args(["-af", "Cpus"])) == ["cpus", "machine", "name"]
