"""Unified social credit codes, mobiles, postal codes, local links and the invoice kind rules."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from stdnum.cn import uscc

from accounts.validators import (
    cn_mobile_to_e164,
    invoice_profile_errors,
    is_local_path,
    uscc_normalize,
    validate_postal_code,
    validate_uscc,
)

VALID_USCC = "91310000134511148L"


def with_check_digit(first_17: str) -> str:
    return first_17 + uscc.calc_check_digit(first_17)


# Registration authority letters (Y 工会, N 农业, A …) in positions 1–2, region digits, then the body.
LETTER_LED = [
    with_check_digit("Y1310115MA1K4XB2A"),
    with_check_digit("N2440300MA5F0XGJ3"),
    with_check_digit("A1110000MB0123456"),
]


def error_code(value):
    with pytest.raises(ValidationError) as caught:
        validate_uscc(value)
    return caught.value.code


class TestUscc:
    def test_a_real_valid_code_is_accepted(self):
        validate_uscc(VALID_USCC)

    @pytest.mark.parametrize("code", LETTER_LED)
    def test_letter_led_valid_code_is_accepted(self, code):
        validate_uscc(code)

    @pytest.mark.parametrize("code", LETTER_LED)
    def test_stdnum_validate_alone_would_refuse_letter_led_codes(self, code):
        """Why validate_uscc computes the check digit itself instead of calling stdnum's validate."""
        assert not uscc.is_valid(code)

    def test_lower_case_with_spaces_is_normalised(self):
        assert uscc_normalize(" 9131 0000 1345\u30001114 8l ") == VALID_USCC
        validate_uscc(" 9131 0000 1345 1114 8l ")

    def test_normalise_of_empty_is_empty(self):
        assert uscc_normalize("") == "" and uscc_normalize(None) == ""

    def test_wrong_check_digit_is_refused(self):
        assert error_code("91310000134511148M") == "uscc_check_digit"

    def test_letter_led_code_with_wrong_check_digit_is_refused(self):
        code = LETTER_LED[0]
        wrong = "0" if code[-1] != "0" else "1"
        assert error_code(code[:-1] + wrong) == "uscc_check_digit"

    def test_swapped_characters_are_refused(self):
        assert error_code("91310000135411148L") == "uscc_check_digit"

    @pytest.mark.parametrize("code", ["91310000134511148", "91310000134511148LL", "", "9131"])
    def test_wrong_length_is_refused(self, code):
        assert error_code(code) == "uscc_length"

    @pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
    def test_illegal_letters_are_refused(self, letter):
        assert error_code(VALID_USCC[:10] + letter + VALID_USCC[11:]) == "uscc_characters"

    def test_punctuation_is_refused(self):
        assert error_code("91310000-34511148L") == "uscc_characters"

    def test_letters_in_the_region_code_are_refused(self):
        assert error_code(with_check_digit("91A10000134511148")) == "uscc_region"

    def test_messages_follow_the_users_language(self):
        with pytest.raises(ValidationError) as caught:
            validate_uscc("9131000013451114")
        with translation.override("en"):
            assert caught.value.messages == ["A unified social credit code has 18 characters; this one has 16."]


class TestMobile:
    @pytest.mark.parametrize("value", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "8613800138000"])
    def test_valid_mobiles_become_e164(self, value):
        assert cn_mobile_to_e164(value) == "+8613800138000"

    @pytest.mark.parametrize("value", ["12345", "1380013800", "021-64000000", "+1 415 555 0100", "abc", ""])
    def test_bad_mobiles_are_refused(self, value):
        with pytest.raises(ValidationError):
            cn_mobile_to_e164(value)


class TestPostalCode:
    def test_six_digits_pass(self):
        validate_postal_code("201100")

    @pytest.mark.parametrize("value", ["20110", "2011000", "20110A", ""])
    def test_anything_else_is_refused(self, value):
        with pytest.raises(ValidationError):
            validate_postal_code(value)


class TestLocalPath:
    @pytest.mark.parametrize("value", ["/account/orders/1/", "/account/messages/?page=2"])
    def test_paths_of_this_site_are_local(self, value):
        assert is_local_path(value)

    @pytest.mark.parametrize(
        "value",
        ["", "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "account/orders/"],
    )
    def test_other_hosts_schemes_and_relative_paths_are_not(self, value):
        assert not is_local_path(value)


class TestInvoiceProfileRules:
    FULL = {
        "title": "上海测试贸易有限公司",
        "taxpayer_id": VALID_USCC,
        "address": "上海市闵行区号景路206弄",
        "phone": "021-64000000",
        "bank": "招商银行上海分行",
        "account": "1219 0000 0000 0001",
    }

    def test_ordinary_company_needs_title_and_taxpayer_id(self):
        errors = invoice_profile_errors({"kind": "ordinary", "title_type": "company"})
        assert set(errors) == {"title", "taxpayer_id"}

    def test_ordinary_individual_needs_only_a_title(self):
        assert set(invoice_profile_errors({"kind": "ordinary", "title_type": "individual"})) == {"title"}
        assert invoice_profile_errors({"kind": "ordinary", "title_type": "individual", "title": "张三"}) == {}

    def test_special_needs_every_registration_detail(self):
        errors = invoice_profile_errors({"kind": "special", "title_type": "company"})
        assert set(errors) == {"title", "taxpayer_id", "address", "phone", "bank", "account"}

    def test_special_is_for_companies_only(self):
        errors = invoice_profile_errors({"kind": "special", "title_type": "individual", **self.FULL})
        assert set(errors) == {"title_type"}

    def test_complete_special_passes(self):
        assert invoice_profile_errors({"kind": "special", "title_type": "company", **self.FULL}) == {}
