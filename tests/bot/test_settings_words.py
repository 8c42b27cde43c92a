"""Settings as people write them, in the six languages: one reader for both bots."""

from __future__ import annotations

import pytest

from bot.filters.settings import NotUnderstood, read_setting
from bot.filters.vocabulary import Vocabulary
from bot.text.i18n import Texts
from config.dataset_loader import load_dataset

# (language, what a person types, the preference it sets)
READ = [
    ("en", "timezone Abidjan", {"timezone": "Africa/Abidjan"}),
    ("en", "time zone GMT", {"timezone": "UTC"}),
    ("en", "reminders 30,7,1", {"lead_days": [30, 7, 1]}),
    ("en", "quiet 22-7", {"quiet_hours": (22, 7)}),
    ("fr", "fuseau Le Caire", {"timezone": "Africa/Cairo"}),
    ("fr", "fuseau horaire Côte d'Ivoire", {"timezone": "Africa/Abidjan"}),
    ("fr", "langue français", {"language": "fr"}),
    ("fr", "résumé hebdomadaire", {"digest": "weekly"}),
    ("fr", "silence 22h-7h", {"quiet_hours": (22, 7)}),
    ("fr", "rappels 30 7 et 1 jours", {"lead_days": [30, 7, 1]}),
    ("es", "zona horaria Ciudad de México", {"timezone": "America/Mexico_City"}),
    ("es", "idioma español", {"language": "es"}),
    ("es", "resumen diario", {"digest": "daily"}),
    ("ru", "часовой пояс Москва", {"timezone": "Europe/Moscow"}),
    ("ru", "язык русский", {"language": "ru"}),
    ("ru", "напоминания 14, 7 и 1", {"lead_days": [14, 7, 1]}),
    ("ru", "тишина с 23 до 6", {"quiet_hours": (23, 6)}),
    ("ar", "المنطقة الزمنية القاهرة", {"timezone": "Africa/Cairo"}),
    ("ar", "اللغة العربية", {"language": "ar"}),
    ("ar", "تذكيرات ٣٠ ٧ ١", {"lead_days": [30, 7, 1]}),
    ("ar", "ملخص أسبوعي", {"digest": "weekly"}),
    ("zh", "时区 开罗", {"timezone": "Africa/Cairo"}),
    ("zh", "语言 中文", {"language": "zh"}),
    ("zh", "摘要 每周", {"digest": "weekly"}),
    ("zh", "免打扰 22点到7点", {"quiet_hours": (22, 7)}),
    # the setting's name in one language, the chat in another
    ("en", "langue русский", {"language": "ru"}),
]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary(load_dataset())


@pytest.mark.parametrize(("language", "typed", "change"), READ)
def test_settings_are_read_in_the_persons_own_words(vocabulary, language, typed, change):
    assert read_setting(typed, Texts(language), vocabulary).change == change


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("timezone Abidjn", "Abidjan"),  # close: say the closest
        ("timezone UTC+3", "Abidjan"),  # an offset: ask for a city
        ("timezone Russia", "Moscow"),  # several zones: name some
        ("language klingon", "English"),
        ("digest sometimes", "weekly"),
        ("quiet late", "22-7"),
        ("reminders soon", "30 7 1"),
        ("reminders ²", "30 7 1"),  # a superscript is no number of days
        ("colour blue", "timezone"),
    ],
)
def test_a_refusal_names_what_was_not_understood_and_the_closest_valid_value(
    vocabulary, typed, named
):
    with pytest.raises(NotUnderstood) as refused:
        read_setting(typed, Texts("en"), vocabulary)
    message = str(refused.value)
    assert named in message, message
    if "+" not in typed and "Russia" not in typed:  # the word not understood is named
        assert any(word in message for word in typed.split()), message
