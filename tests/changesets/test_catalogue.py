"""Reading a catalogue file: forgiving about spreadsheets, strict about meaning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statusadmin.changesets import catalogue
from statusadmin.convoso.status import FLAGS, Status

HEADER = "code,name,color," + ",".join(FLAGS) + ",workflow,system\n"


def test_an_export_reads_back_as_the_same_values():
    statuses = [
        Status("XFER", "Transferred", "#6711D1", reached=True, custom=True),
        Status("=BAD", '=HYPERLINK("x")', None, dnc=True, custom=True),
        Status("COMP", "Completed", "#00AA00", final=True, workflow="sale"),
    ]
    text = "".join(catalogue.export_csv(statuses))
    assert "'=HYPERLINK" in text  # safe in a spreadsheet
    lines = catalogue.read(text.encode())
    assert [line.code for line in lines] == ["XFER", "=BAD", "COMP"]
    assert lines[1].values["name"] == '=HYPERLINK("x")'
    assert lines[1].values["dnc"] is True
    assert [line.system for line in lines] == [False, False, True]
    assert catalogue.read(catalogue.export_json(statuses).encode())[2].values["final"] is True


@pytest.mark.parametrize(
    "data",
    [
        ("\ufeffcode;name;colour;dnc\nOPT;Opt-out;#aa0000;yes\n").encode(),  # Excel, Europe
        b"Code,Name,Hex_Color,DNC\r\nOPT,Opt-out,aa0000,1\r\n",
        "code;name;color;dnc\nOPT;Opt-out;AA0000;Y\n".encode("cp1252"),
        b'[{"code": "OPT", "name": "Opt-out", "color": "#aa0000", "dnc": true}]',
        b'{"statuses": [{"status": "OPT", "description": "Opt-out", "hex_color": "AA0000",'
        b' "dnc": "Y"}]}',
    ],
)
def test_what_spreadsheets_and_people_write_is_understood(data):
    (line,) = catalogue.read(data)
    assert (line.code, line.problems) == ("OPT", [])
    assert line.values["name"] == "Opt-out"
    assert line.values["color"].upper().lstrip("#") == "AA0000"
    assert line.values["dnc"] is True


def test_problems_name_their_value():
    (line,) = catalogue.read((HEADER + "X1,Name,,maybe,N,N,N,N,N,N,,N\n").encode())
    assert line.problems == ["final: “maybe” is not Y or N (yes/no and 1/0 work too)"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"name,color\nA,B\n", "'code'"),
        (b"{not json", "not readable JSON"),
        (b'{"statuses": 3}', "list of statuses"),
    ],
)
def test_an_unreadable_file_says_why(data, message):
    with pytest.raises(catalogue.UnreadableFile, match=message):
        catalogue.read(data)


cell = st.text(max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.lists(st.lists(cell, max_size=14), max_size=8).map(
            lambda rows: "\n".join(";".join(r) for r in [["code", "name", "dnc"], *rows]).encode()
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
            max_leaves=20,
        ).map(lambda value: __import__("json").dumps(value).encode()),
    )
)
def test_any_file_is_read_or_refused_in_plain_words(data):
    try:
        lines = catalogue.read(data)
    except catalogue.UnreadableFile as exc:
        refusal = str(exc)
        lines = []
    else:
        refusal = "read"
    assert refusal
    for line in lines:
        assert isinstance(line.code, str)
        assert all(isinstance(p, str) and p for p in line.problems)
        assert set(line.values) <= {"name", "color", *FLAGS}
        assert all(isinstance(line.values[f], bool) for f in FLAGS if f in line.values)
