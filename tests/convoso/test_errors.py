"""The error types themselves: what each carries and says (test_client.py covers when each is
raised)."""

from __future__ import annotations

import pytest

from statusadmin.convoso import errors
from statusadmin.convoso.status import FLAG_LABELS, FLAGS


class ConvosoErrorTests:
    def test_an_error_the_dashboard_raises_itself_carries_no_convoso_text(self):
        # E.g. "not found" after a search: nothing Convoso said goes into the audit log.
        error = errors.StatusNotFound(errors.NOT_FOUND_EXPLANATION)
        assert (error.endpoint, error.code, error.upstream_message) == ("", None, "")
        assert str(error) == error.explanation == errors.NOT_FOUND_EXPLANATION

    def test_what_convoso_said_is_kept_apart_from_the_explanation(self):
        error = errors.UnexpectedConvosoError(
            "Convoso refused.", endpoint="update", code=7001, upstream_message="Quota hit"
        )
        assert (error.endpoint, error.code, error.upstream_message) == ("update", 7001, "Quota hit")
        assert (error.explanation, error.outcome) == ("Convoso refused.", "rejected")

    def test_a_field_error_names_its_field(self):
        error = errors.StatusNotModifiable("No.", field="code", endpoint="update", code=6069)
        assert (error.field, error.endpoint, error.code) == ("code", "update", 6069)


class UnavailableTests:
    def test_a_request_that_may_have_applied_says_so(self):
        error = errors.ConvosoUnavailable(
            "Convoso did not answer in time.", kind="timeout", may_have_applied=True
        )
        assert error.summary == "Convoso did not answer in time."
        assert error.explanation == (
            "Convoso did not answer in time. The change may or may not have been made."
        )
        assert (error.kind, error.may_have_applied, error.outcome) == ("timeout", True, "unknown")

    def test_one_that_cannot_have_applied_says_only_what_happened(self):
        error = errors.ConvosoUnavailable("Convoso could not be reached.", kind="connection")
        assert error.summary == error.explanation == "Convoso could not be reached."
        assert (error.may_have_applied, error.outcome) == (False, "failed")


class FlagExplanationTests:
    @pytest.mark.parametrize("flag", FLAGS)
    def test_each_flag_code_names_its_flag(self, flag):
        label = FLAG_LABELS[flag]
        assert errors.INSERT_CODES[6062 + FLAGS.index(flag)][2] == (
            f"Convoso needs {label} set to Yes or No."
        )
        assert errors.UPDATE_CODES[6071 + FLAGS.index(flag)][2] == (
            f"Convoso needs {label} set to Yes or No; it arrived empty, so nothing was changed."
        )

    @pytest.mark.parametrize("flag", FLAGS)
    def test_the_explanation_is_built_from_the_label(self, flag):
        # The tables are built at import, before `make mutation` switches a mutant on, so only a
        # direct call shows a wrong builder to it.
        label = FLAG_LABELS[flag]
        assert (
            errors._flag_explanation(flag, empty=False)
            == f"Convoso needs {label} set to Yes or No."
        )
        assert errors._flag_explanation(flag, empty=True).startswith(
            f"Convoso needs {label} set to Yes or No; it arrived empty"
        )
