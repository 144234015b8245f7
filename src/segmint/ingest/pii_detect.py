"""Find the columns that hold personal data: by their name in any spelling, and by their values.

A column is personal data when its **name** says so (``email``, ``E-Mail 2``, ``billing_phone``,
``telefono``, ``passport_no``...) or when a sample of its **values** looks like it: email
addresses, phone numbers (also when a spreadsheet wrote them as floats), Luhn-valid payment
card numbers, IBANs with a valid checksum, national identity numbers (US SSN, UK National
Insurance, Swedish personnummer, Canadian SIN), IPv4 addresses or ``@handles``. A column in
which some values merely *contain* an email address (free text, JSON) is found too.

What happens to a found column is decided by :func:`decide`: the workspace's
``privacy.pii`` setting if it names the column, else the kind's default
(:data:`DEFAULT_ACTIONS`): contact data is hashed, while card numbers, national ids,
passports and bank accounts stop the ingest until the user chooses.

Examples
--------
>>> name_kind("E-Mail_2"), name_kind("billing_telephone"), name_kind("passport_no"), name_kind("email_opt_in")
('email', 'phone', 'passport', None)
>>> import pyarrow as pa
>>> sample = pa.table({"contact": ["ann@example.com", "bo@example.org"], "ref": ["4111 1111 1111 1111", None],
...                    "order": ["536365", "536366"]})
>>> {c: (f.kind, f.found_by) for c, f in detect(sample).items()}
{'contact': ('email', 'values'), 'ref': ('card', 'values')}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pyarrow as pa

#: What segmint does with a found column when ``privacy.pii`` does not name it.
DEFAULT_ACTIONS = {
    "email": "hash", "phone": "hash", "name": "hash", "address": "hash", "ip": "hash", "dob": "hash",
    "handle": "hash", "text": "hash",
    "card": "refuse", "national_id": "refuse", "passport": "refuse", "bank_account": "refuse",
}
#: Plain words for each kind, used in the ingest report and in errors.
KIND_WORDS = {
    "email": "email addresses", "phone": "phone numbers", "name": "names", "address": "postal addresses",
    "ip": "IP addresses", "dob": "dates of birth", "handle": "messaging or social media handles",
    "text": "personal data", "card": "payment card numbers", "national_id": "national identity numbers",
    "passport": "passport numbers", "bank_account": "bank account numbers (IBAN)",
}
#: Share of a column's sampled, non-empty values that must look alike before the column counts.
THRESHOLD = 0.5
SAMPLE_ROWS = 2000
_HEAD = 50

# -- names --------------------------------------------------------------------------------------------
# Names are compared as their tokens joined ("e-mail" and "E_Mail" are both "email"), after dropping
# numbers ("email2", "telephone_2", DuckDB's "email_1" for a repeated header) and qualifiers in front or
# behind ("customer_", "billing_", "_work"). Common spellings of other languages are listed where they
# cannot be mistaken for something else.
_NAMES = {
    "email": "email e_mail email_address e_mail_address email_addr mail mail_address emailadresse courriel "
             "correo correo_electronico posta_elettronica epost e_post sahkoposti",
    "phone": "phone mobile telephone tel phone_number mobile_number mobile_phone telephone_number tel_no phone_no "
             "tel_number cell cell_phone cellphone cell_number msisdn telefon telefono telefone telefonnummer "
             "telefoonnummer handy handynummer mobil mobilnummer movil celular numero_telefono fax whatsapp_number "
             "sms_number",
    "name": "name first_name last_name full_name surname given_name family_name forename middle_name "
            "customer_name contact_name maiden_name nickname vorname nachname nombre apellido apellidos prenom "
            "nom nom_de_famille cognome nome",
    "address": "address street street_address address_line address_line1 address_line2 addr addr1 addr2 "
               "address1 address2 postcode post_code postal_code zip zip_code zipcode plz postleitzahl "
               "code_postal codigo_postal cap_code adresse direccion indirizzo strasse house_number",
    "ip": "ip ip_address ip_addr ipv ipv4 ipv6 ipv4_address ipv6_address",
    "dob": "date_of_birth dob birth_date birthdate birthday born geburtsdatum fecha_nacimiento "
           "fecha_de_nacimiento date_de_naissance data_di_nascita",
    "national_id": "ssn social_security social_security_number social_security_no sin social_insurance_number "
                   "nino ni_number ni_no national_insurance national_insurance_number national_id "
                   "national_id_number national_identity_number national_identification_number nin "
                   "personnummer personal_identity_number fodselsnummer henkilotunnus hetu cpr cpr_number bsn "
                   "burgerservicenummer nif nie dni cpf cnp pesel codice_fiscale steuer_id steuernummer "
                   "steueridentifikationsnummer tax_id tax_number tax_identification_number tin itin aadhaar "
                   "aadhar insee nir id_number id_card id_card_number identity_number identity_card "
                   "identity_card_number government_id citizen_id tfn ppsn pps_number ahv ahv_number nric curp "
                   "hkid emirates_id",
    "passport": "passport passport_number passport_no passport_id passeport reisepass pasaporte passaporto "
                "paspoort",
    "bank_account": "iban bank_account bank_account_number bank_account_no bank_details bankverbindung "
                    "kontonummer account_iban rib cbu clabe",
    "card": "card_number credit_card credit_card_number creditcard cc_number ccnum cc_num card_no card_num "
            "debit_card debit_card_number payment_card payment_card_number card_pan kreditkarte "
            "kreditkartennummer tarjeta tarjeta_credito numero_tarjeta carte_bancaire numero_carte cvv cvc "
            "cvv2 card_cvv card_verification_code",
    "handle": "handle username user_name screen_name login social_handle",
}
_TABLE = {n.replace("_", ""): kind for kind, names in _NAMES.items() for n in names.split()}
# "billing_address", "customer_email", "email_work": a qualifier keeps the kind.
_QUALIFIERS = set(
    "customer customers contact billing shipping delivery invoice primary secondary main alt alternative "
    "alternate other backup work home personal private user client buyer member holder owner subscriber "
    "recipient sender emergency parent guardian partner spouse new old current previous my your raw original "
    "cust usr".split())  # not "account", "business", "office": account_name, business_name name companies
# "phone_number", "passport_no": trailing words that do not change the kind.
_SUFFIXES = set("number no nr num nbr nummer numero value raw text txt str field".split())
# Messaging and social platforms: "whatsapp", "telegram_id", "instagram_handle", "skypeName".
_PLATFORMS = set("whatsapp telegram skype twitter instagram facebook linkedin tiktok snapchat wechat viber "
                 "signal discord threads mastodon bluesky x".split())
_PLATFORM_SUFFIXES = set("handle id name username user account url profile link number no".split())
_BARE_PLATFORMS = _PLATFORMS - {"signal", "threads", "x", "discord"}  # alone these words mean other things


def _tokens(column: str) -> list[str]:
    text = unicodedata.normalize("NFKD", str(column))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))  # "téléphone" -> "telephone"
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)  # firstName -> first Name
    text = re.sub(r"([A-Za-z])(\d)|(\d)([A-Za-z])", r"\1\3 \2\4", text)  # email2 -> email 2
    return [t for t in re.split(r"[^0-9a-z]+", text.lower()) if t]


def name_kind(column: str, extra: Mapping[str, str] | None = None) -> str | None:
    """The kind of personal data a column's name says it holds, or None.

    Parameters
    ----------
    column : str
        A source column name, in any spelling.
    extra : mapping of str to str, optional
        More names (any spelling) and their kinds.

    Examples
    --------
    >>> [name_kind(c) for c in ["EMAIL", "email_1_1", "Telephone 2", "work-mobile", "Handynummer", "skypeId"]]
    ['email', 'email', 'phone', 'phone', 'phone', 'handle']
    >>> [name_kind(c) for c in ["product_name", "email_opt_in", "customer", "telemetry", "zip_count"]]
    [None, None, None, None, None]
    """
    table = _TABLE if not extra else {**_TABLE, **{"".join(_tokens(k)): v for k, v in extra.items()}}
    tokens = _tokens(column)
    if not tokens:
        return None
    whole = "".join(tokens)
    if whole in table:  # "address_line1", "ipv4", "cvv2" are names of their own
        return table[whole]
    tokens = [t for t in tokens if not t.isdigit()] or tokens
    while len(tokens) > 1 and tokens[0] in _QUALIFIERS:
        tokens = tokens[1:]
    while len(tokens) > 1 and tokens[-1] in _QUALIFIERS:
        tokens = tokens[:-1]
    for candidate in (tokens, tokens[:-1] if len(tokens) > 1 and tokens[-1] in _SUFFIXES else None):
        if candidate and "".join(candidate) in table:
            return table["".join(candidate)]
    if tokens[0] in _PLATFORMS and (len(tokens) > 1 or tokens[0] in _BARE_PLATFORMS) and all(
            t in _PLATFORM_SUFFIXES for t in tokens[1:]):
        return "handle"
    return None


# -- values -------------------------------------------------------------------------------------------
_EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
EMAIL_FULL = re.compile(rf"^{_EMAIL}$")
EMAIL_ANYWHERE = re.compile(rf"(?<![A-Za-z0-9._%+'-]){_EMAIL}")
_PHONE_INTL = re.compile(r"^(?:\+|00)\s?[1-9][\d\s().\-/]{6,22}$")
_PHONE_NATIONAL = re.compile(r"^\(?0[1-9][\d\s().\-/]{7,18}$")
_PHONE_NANP = re.compile(r"^(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]?[2-9]\d{2}[\s.-]\d{4}$")
# International numbers written without "+" (as a number column or a float holds them): only well-known
# country codes with their exact lengths, so that long ids and order numbers are not taken for phones.
_PHONE_DIGITS = re.compile(
    r"^(?:1[2-9]\d{2}[2-9]\d{6}|44[1-9]\d{8,9}|49[1-9]\d{8,11}|33[1-9]\d{8}|34[6-9]\d{8}|39[03]\d{8,10}"
    r"|31[1-9]\d{8}|32[1-9]\d{7,8}|353[1-9]\d{7,8}|61[2-478]\d{8}|91[6-9]\d{9}|861\d{10}|81[1-9]\d{8,9}"
    r"|46[1-9]\d{6,8}|47[2-9]\d{7}|45[2-9]\d{7}|41[1-9]\d{8}|43[1-9]\d{6,11}|48[1-9]\d{8}|351[29]\d{8}"
    r"|55[1-9]\d{9,10}|52\d{10}|27[1-9]\d{8})$")
_CARD = re.compile(r"^\d[\d -]{11,22}\d$")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6)")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_NINO = re.compile(r"^(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]$",
                   re.IGNORECASE)
_PERSONNUMMER = re.compile(r"^(?:19|20)?(\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01]|[6-8]\d|9[01])[-+]?(\d{4})$")
_SIN = re.compile(r"^[1-79]\d{2}[ -]\d{3}[ -]\d{3}$")
_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_HANDLE = re.compile(r"^@[A-Za-z0-9_.]{2,30}$")
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_FLOAT_INT = re.compile(r"^[+-]?\d+\.0*$")
_WORDS = re.compile(r"[^\W\d_]{2}.*\s|\s.*[^\W\d_]{2}")  # a space and a word: text, not a timestamp
_SCIENTIFIC = re.compile(r"^[+-]?\d(?:\.\d+)?[eE]\+?\d{1,2}$")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of card numbers (and Canadian SINs, Swedish personnummer).

    Examples
    --------
    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616 check: the country and check digits moved to the end, read base 36, mod 97 is 1.

    Examples
    --------
    >>> iban_valid("GB82 WEST 1234 5698 7654 32"), iban_valid("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    s = re.sub(r"\s", "", text).upper()
    if not _IBAN.fullmatch(s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def as_number_text(value: str) -> str:
    """Digits of a number a spreadsheet or a float column wrote as ``447700900123.0`` or ``4.477e+11``.

    Other text is returned as it is.

    Examples
    --------
    >>> as_number_text("447700900123.0"), as_number_text("4.47700900123e+11"), as_number_text("12.5")
    ('447700900123', '447700900123', '12.5')
    """
    if _FLOAT_INT.fullmatch(value):
        return value.split(".")[0]
    if _SCIENTIFIC.fullmatch(value):
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            return value
        if number == number.to_integral_value():
            return str(int(number))
    return value


def _phone(v: str) -> bool:
    if _PHONE_DIGITS.fullmatch(v):
        return True
    if _DATE_LIKE.fullmatch(v):
        return False
    digits = sum(ch.isdigit() for ch in v)
    if _PHONE_INTL.fullmatch(v):
        return 8 <= digits <= 15
    if _PHONE_NATIONAL.fullmatch(v):
        return 9 <= digits <= 13
    return bool(_PHONE_NANP.fullmatch(v))


def _card(v: str) -> bool:
    if not _CARD.fullmatch(v):
        return False
    digits = v.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and len(set(digits)) > 1 \
        and luhn_valid(digits)


def _national_id(v: str) -> bool:
    if _SSN.fullmatch(v) or _NINO.fullmatch(v):
        return True
    m = _PERSONNUMMER.fullmatch(v)
    if m and ("-" in v or "+" in v or len(v) == 12):  # ten bare digits are too common to count
        return luhn_valid("".join(m.groups()))
    return bool(_SIN.fullmatch(v)) and luhn_valid(re.sub(r"\D", "", v))


# The order matters: the first kind most values satisfy wins (a card number is not a phone number).
_VALUE_TESTS = (
    ("email", lambda v: bool(EMAIL_FULL.fullmatch(v))),
    ("bank_account", iban_valid),
    ("card", _card),
    ("national_id", _national_id),
    ("phone", _phone),
    ("ip", lambda v: bool(_IPV4.fullmatch(v))),
    ("handle", lambda v: bool(_HANDLE.fullmatch(v))),
)
_VALUE_WORDS = {
    "email": "email addresses", "bank_account": "IBANs with a valid checksum",
    "card": "Luhn-valid payment card numbers", "national_id": "national identity numbers (SSN, NINO, "
    "personnummer or SIN patterns)", "phone": "phone numbers", "ip": "IPv4 addresses",
    "handle": "@handles",
}


@dataclass(frozen=True)
class Finding:
    """A column found to hold personal data, and how it was found (never any of its values)."""

    column: str
    kind: str
    found_by: str  # "name" or "values"
    evidence: str
    #: personal data inside longer text (emails in notes or JSON): only those parts are replaced
    embedded: bool = False

    def describe(self) -> str:
        return f"{KIND_WORDS[self.kind]} ({self.evidence})"


def _value_kind(values: list[str], n: int) -> tuple[str, int] | None:
    """The kind most of the ``n`` sampled values look like (``values``: those that may match), and how many do."""
    head = values[:_HEAD]
    for kind, test in _VALUE_TESTS:
        # A kind that hardly any of the first values match cannot reach the threshold (the sample is spread
        # over the source, not sorted): skip it rather than test every value against every pattern.
        if len(values) > _HEAD and sum(1 for v in head if test(v)) < THRESHOLD * _HEAD / 2:
            continue
        hits = sum(1 for v in values if test(v))
        if hits and hits >= THRESHOLD * n:
            return kind, hits
    return None


def _mixed_kinds(values: list[str], n: int) -> dict[str, int] | None:
    """Kinds of a column where no kind is the majority but personal data together is ("contact": emails and
    phones). Returns ``{kind: count}`` when their total reaches THRESHOLD."""
    def first_kind(v: str) -> str | None:
        return next((kind for kind, test in _VALUE_TESTS if test(v)), None)

    head = values[:_HEAD]
    if len(values) > _HEAD and sum(1 for v in head if first_kind(v)) < THRESHOLD * _HEAD / 2:
        return None
    counts: dict[str, int] = {}
    for v in values:
        kind = first_kind(v)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    return counts if sum(counts.values()) >= THRESHOLD * n else None


def value_findings(column: str, values: Iterable[str | None]) -> Finding | None:
    """Look at a sample of one column's values (as text).

    Examples
    --------
    >>> value_findings("x", ["+44 20 7946 0958", "020 7946 0958", None]).evidence
    '2 of 2 sampled values are phone numbers'
    >>> value_findings("notes", ["call me", "mail ann@example.com please", "ok"]).embedded
    True
    >>> value_findings("zip", ["10115", "75001", "90210"]) is None
    True
    >>> f = value_findings("contact", ["ann@example.com", "+44 20 7946 0958", "n/a"])
    >>> f.kind, f.evidence
    ('text', '2 of 3 sampled values are email addresses or phone numbers')
    """
    texts = [v.strip() for v in values if v is not None]
    texts = [as_number_text(v) for v in texts if v]
    if not texts:
        return None
    # Only text with a digit or an "@" can match any pattern: skip the rest cheaply.
    candidates = [v for v in texts if "@" in v or any(ch.isdigit() for ch in v[:4]) or v[:1] in "+("]
    found = _value_kind(candidates, len(texts)) if len(candidates) >= THRESHOLD * len(texts) else None
    if found:
        kind, hits = found
        return Finding(column, kind, "values", f"{hits} of {len(texts)} sampled values are {_VALUE_WORDS[kind]}")
    mixed = _mixed_kinds(candidates, len(texts)) if len(candidates) >= THRESHOLD * len(texts) else None
    if mixed:
        # Hashed as plain text (one normalisation cannot suit them all), unless one of them must be refused.
        refused = [k for k in mixed if DEFAULT_ACTIONS[k] == "refuse"]
        kind = max(refused, key=mixed.get) if refused else "text"
        words = " or ".join(_VALUE_WORDS[k] for k in sorted(mixed, key=mixed.get, reverse=True))
        return Finding(column, kind, "values", f"{sum(mixed.values())} of {len(texts)} sampled values are {words}")
    inside = sum(1 for v in texts if "@" in v and EMAIL_ANYWHERE.search(v))
    if inside:
        return Finding(column, "email", "values",
                       f"{inside} of {len(texts)} sampled values contain an email address", embedded=True)
    return None


def free_text(values: pa.Array | pa.ChunkedArray) -> bool:
    """Whether sampled values look like free text or JSON (where an address can hide in a sentence).

    A column that is empty in the sample counts too: what its few values hold is unknown.

    Examples
    --------
    >>> free_text(pa.array(["call me", None])), free_text(pa.array(['{"a": 1}'])), free_text(pa.array(["C001"]))
    (True, True, False)
    >>> free_text(pa.array([None, ""], pa.string())), free_text(pa.array(["2024-01-02 10:00:00"]))
    (True, False)
    """
    texts = [v for v in values.cast(pa.string()).to_pylist() if v]
    return not texts or any(len(v) > 40 or v[:1] in "{[" or _WORDS.search(v) for v in texts)


def detect(sample: pa.Table, *, by_name: bool = True, by_value: bool = True,
           extra: Mapping[str, str] | None = None, contains_email: Iterable[str] = ()) -> dict[str, Finding]:
    """Find personal-data columns of a source from its column names and a sample of its rows.

    Parameters
    ----------
    sample : pyarrow.Table
        Some rows of the source (any types; values are read as text).
    by_name, by_value : bool
        Which evidence to use.
    extra : mapping, optional
        More column names and their kinds (see :func:`name_kind`).
    contains_email : iterable of str
        Columns that a scan of every row found to contain an email somewhere; they are
        reported even when the sample holds none.

    Returns
    -------
    dict of str to Finding
        In the order of the sample's columns.
    """
    found: dict[str, Finding] = {}
    whole_scan = set(contains_email)
    for column in sample.column_names:
        kind = name_kind(column, extra) if by_name else None
        if kind is not None:
            found[column] = Finding(column, kind, "name", f"its name {column!r}")
            continue
        if not by_value:
            continue
        arr = sample.column(column)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = arr.cast(pa.string())
        finding = value_findings(column, arr.to_pylist())
        if finding is None and column in whole_scan:
            finding = Finding(column, "email", "values", "some values contain an email address", embedded=True)
        if finding is not None:
            found[column] = finding
    return found
