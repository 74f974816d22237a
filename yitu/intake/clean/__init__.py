"""Cleaning rules for imported records (数据清洗): citizen ID numbers, phones, names,
addresses (parsed, then matched to the standard address registry) and credit codes. Every rule
returns ``Cleaned(value, issues)``; messages never contain the raw value."""

from yitu.intake.clean.address import AddressParts, normalise_address_text, parse_address
from yitu.intake.clean.credit import clean_credit_code
from yitu.intake.clean.dates import clean_date
from yitu.intake.clean.idnumber import clean_id_number, id_birth_sex, upgrade15
from yitu.intake.clean.matcher import AddressMatch, AddressMatcher
from yitu.intake.clean.names import clean_name, name_key
from yitu.intake.clean.phone import clean_phone
from yitu.intake.clean.result import INFORMATIONAL, Cleaned, Issue

__all__ = [
    "INFORMATIONAL",
    "AddressMatch",
    "AddressMatcher",
    "AddressParts",
    "Cleaned",
    "Issue",
    "clean_credit_code",
    "clean_date",
    "clean_id_number",
    "clean_name",
    "clean_phone",
    "id_birth_sex",
    "name_key",
    "normalise_address_text",
    "parse_address",
    "upgrade15",
]
