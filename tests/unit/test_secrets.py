"""Secret sources and masking."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orchestrator.exceptions import SecretError
from orchestrator.secrets import (
    RedactingFilter,
    Redactor,
    SecretStore,
    load_redactions,
    save_redactions,
)


def test_sources_in_order(tmp_path: Path) -> None:
    file = tmp_path / "secrets.env"
    file.write_text("# comment\nA=from-file\nexport B='quoted value'\n")
    store = SecretStore({"ENVCTL_SECRET_A": "from-env"}, Redactor(), file, {"C": 30})
    assert store.get("A", "x") == "from-env"
    assert store.get("B", "x") == "quoted value"
    generated = store.get("C", "x")
    assert len(generated) == 30 and generated.isalnum()
    assert store.get("C", "x") == generated, "one value per environment"


def test_a_missing_secret_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(SecretError) as info:
        SecretStore({}, Redactor()).get("TOKEN", "bp.yaml:7:9 services.api.env.TOKEN")
    assert "bp.yaml:7:9" in info.value.message
    assert "ENVCTL_SECRET_TOKEN" in (info.value.hint or "")


def test_masks_values_and_their_url_encoded_form() -> None:
    redact = Redactor()
    redact.add("p@ss/word")
    text = "postgresql://app:p%40ss%2Fword@host/db and p@ss/word"
    assert redact(text) == "postgresql://app:***@host/db and ***"
    assert redact.redact_data({"a": ["p@ss/word"], "n": 1}) == {"a": ["***"], "n": 1}


def test_log_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    redact = Redactor()
    redact.add("hunter22")
    logger = logging.getLogger("orchestrator.test")
    logger.addFilter(RedactingFilter(redact))
    with caplog.at_level(logging.INFO, logger="orchestrator.test"):
        logger.info("connecting with %s", "hunter22")
    assert "hunter22" not in caplog.text and "connecting with ***" in caplog.text


def test_masks_survive_to_another_process_via_the_work_dir(tmp_path: Path) -> None:
    first = Redactor()
    first.add("token-123456")
    save_redactions(first, tmp_path)
    assert (tmp_path / ".redact").stat().st_mode & 0o077 == 0, "only the owner may read it"
    second = Redactor()
    load_redactions(second, tmp_path)
    assert second("x token-123456 y") == "x *** y"


@pytest.mark.parametrize(
    "written",
    [
        "p&amp;ss&lt;w0rd&quot;",  # ElementTree, in an attribute
        'p&amp;ss&lt;w0rd"',  # ElementTree, in text
        "p&#38;ss&#60;w0rd&#34;",  # decimal references
        "p&#x26;ss&#X3C;w0rd&#x22;",  # hex, either case
        'p&ss<w0rd"',
    ],
)
def test_masks_the_xml_and_html_escaped_forms(written: str) -> None:
    redact = Redactor()
    redact.add('p&ss<w0rd"')
    assert redact(f'<failure message="{written}">') == '<failure message="***">'


def test_masks_every_spelling_of_an_apostrophe() -> None:
    redact = Redactor()
    redact.add("it's-s3cret>")
    spellings = ("it's-s3cret>", "it&apos;s-s3cret&gt;", "it&#39;s-s3cret>", "it&#x27;s-s3cret>")
    for written in spellings:
        assert redact(f"[{written}]") == "[***]", written
    assert redact.values() == {"it's-s3cret>", "it%27s-s3cret%3E"}  # what is saved: the values


def test_a_suites_junit_file_is_masked_in_its_escaped_form(tmp_path: Path) -> None:
    from xml.etree import ElementTree as ET

    from orchestrator.secrets import redact_file

    secret = 'p&ss<w0rd"'
    case = ET.Element("testcase", {"name": "t", "classname": secret})
    ET.SubElement(case, "failure", {"message": f"login as {secret}"}).text = f"pw={secret}"
    junit = tmp_path / "suite.xml"
    ET.ElementTree(case).write(junit, encoding="utf-8")
    assert "p&amp;ss&lt;w0rd&quot;" in junit.read_text()  # how a suite writes it
    redact = Redactor()
    redact.add(secret)
    redact_file(junit, redact)
    parsed = ET.parse(junit).getroot()
    values = [parsed.get("classname"), *(e.get("message") for e in parsed), parsed[0].text]
    assert values == ["***", "login as ***", "pw=***"]
