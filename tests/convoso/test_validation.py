import pytest

from statusadmin.convoso.status import FLAG_HINTS, FLAG_LABELS, FLAGS
from statusadmin.convoso.validation import (
    InvalidInput,
    clean_changes,
    clean_code,
    clean_color,
    clean_flag,
    clean_name,
    safe_color,
)


class CodeTests:
    @pytest.mark.parametrize(
        ("raw", "clean"), [("sale", "SALE"), (" ab ", "AB"), ("A1B2C3", "A1B2C3")]
    )
    def test_accepted_and_upper_cased(self, raw, clean):
        assert clean_code(raw) == clean

    @pytest.mark.parametrize("raw", ["A", "ABCDEFG", "NO_ANS", "A B", "ÄBC", "", None, 12, "A\nB"])
    def test_rejected(self, raw):
        with pytest.raises(InvalidInput) as exc:
            clean_code(raw)
        assert exc.value.field == "code"
        assert "2 to 6 letters or digits" in exc.value.message


class NameTests:
    def test_stripped(self):
        assert clean_name("  Sale  ") == "Sale"

    @pytest.mark.parametrize("raw", ["a\x00b", "line\nbreak", "bell\x07"])
    def test_control_characters_are_refused(self, raw):
        with pytest.raises(InvalidInput) as exc:
            clean_name(raw)
        assert exc.value.field == "name"
        assert "control characters" in exc.value.message

    def test_other_unicode_is_fine(self):
        assert clean_name("Rückruf, später ✓") == "Rückruf, später ✓"

    @pytest.mark.parametrize("raw", ["", "   ", None, 5])
    def test_required(self, raw):
        with pytest.raises(InvalidInput) as exc:
            clean_name(raw)
        assert exc.value.field == "name"
        assert exc.value.message == "Give the status a name."


class FlagTests:
    @pytest.mark.parametrize(
        ("raw", "value"), [(True, True), (False, False), ("Y", True), ("n", False)]
    )
    def test_accepted(self, raw, value):
        assert clean_flag("dnc", raw) is value

    @pytest.mark.parametrize("raw", ["", "yes", "1", 1, None])
    def test_rejected_on_its_own_field(self, raw):
        with pytest.raises(InvalidInput) as exc:
            clean_flag("dnc", raw)
        assert exc.value.field == "dnc"
        assert "DNC" in exc.value.message

    def test_every_flag_has_a_label_and_a_hint(self):
        assert set(FLAG_LABELS) == set(FLAG_HINTS) == set(FLAGS)
        assert len(FLAGS) == 7


class ColourTests:
    @pytest.mark.parametrize(
        ("raw", "clean"),
        [("00aa00", "#00AA00"), ("#6711d1", "#6711D1"), ("", None), (None, None), ("  ", None)],
    )
    def test_accepted_with_or_without_hash(self, raw, clean):
        assert clean_color(raw) == clean

    @pytest.mark.parametrize("raw", ["red", "#12345", "1234567", "##123456", "12345g", "red;x:1"])
    def test_rejected(self, raw):
        with pytest.raises(InvalidInput) as exc:
            clean_color(raw)
        assert exc.value.field == "color"
        assert "six hexadecimal digits" in exc.value.message

    @pytest.mark.parametrize("raw", ["red;background:url(x)", "#fff", 0xFFFFFF, ["#000000"]])
    def test_safe_colour_never_raises_and_drops_anything_else(self, raw):
        assert safe_color(raw) is None

    @pytest.mark.parametrize(("raw", "clean"), [("#6711d1", "#6711D1"), ("00AA00", "#00AA00")])
    def test_safe_colour_keeps_a_valid_colour(self, raw, clean):
        assert safe_color(raw) == clean


class ChangesTests:
    def test_partial_changes_are_cleaned(self):
        assert clean_changes({"dnc": "Y", "name": " X ", "color": "abcdef"}) == {
            "dnc": True,
            "name": "X",
            "color": "#ABCDEF",
        }

    @pytest.mark.parametrize(
        ("changes", "field"),
        [({"name": " "}, "name"), ({"color": "red"}, "color"), ({"final": "maybe"}, "final")],
    )
    def test_an_invalid_change_names_its_field(self, changes, field):
        with pytest.raises(InvalidInput) as exc:
            clean_changes({"dnc": "Y", **changes})
        assert exc.value.field == field

    def test_code_and_unknown_fields_cannot_be_changed(self):
        for field in ("code", "status", "custom", "workflow"):
            with pytest.raises(InvalidInput) as exc:
                clean_changes({field: "x"})
            assert exc.value.field == field
