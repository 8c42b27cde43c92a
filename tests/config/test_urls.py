"""Links are http(s) only where they enter the dataset and where they leave as iCal."""

from __future__ import annotations

import pytest

from config.dataset_loader import DatasetError, load_dataset
from config.urls import check_web_url, web_url

HOSTILE = [
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/x",
    "https://",
    "https://exa mple.org/",
    "https://example.org/\x00",
    "java\tscript:alert(1)",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_a_link_that_is_not_http_is_refused_with_the_reason(url):
    with pytest.raises(ValueError, match=r"http|host|spaces|link"):
        check_web_url(url)
    assert web_url(url) is None


def test_an_http_link_passes_unchanged():
    url = "https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html?x=1#y"
    assert check_web_url(url) == url and web_url(url) == url


@pytest.mark.parametrize("field", ["url", "registration.url"])
def test_a_dataset_override_with_a_javascript_link_is_refused_at_its_line(tmp_path, field):
    link = "javascript:alert(1)"
    registration = (
        f"    registration: {{deadline: 2027-02-12, url: '{link}'}}\n"
        if field == "registration.url"
        else "    registration: {deadline: 2027-02-12}\n"
    )
    url_line = f"    url: '{link}'\n" if field == "url" else ""
    (tmp_path / "events.yaml").write_text(
        "events:\n"
        "  - id: cd-2027-test\n"
        "    kind: constructive-dialogue\n"
        "    title: A dialogue\n"
        "    start: 2027-05-05\n"
        f"{url_line}{registration}"
        "    source: test\n"
        "    confidence: reported\n"
    )
    with pytest.raises(DatasetError, match="only http:// and https:// links") as raised:
        load_dataset(tmp_path)
    assert "events.yaml:" in str(raised.value)
