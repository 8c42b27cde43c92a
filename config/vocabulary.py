"""The mechanism's vocabulary, declared once: its themes, the kinds of deadline, clusters.

And the mechanism's zone (`ZONE`), which everything else imports.

Each theme and kind has one row here: its id (what the dataset, the database and URLs
hold), its deep-link code (Telegram allows 64 characters for a whole selection), its
English label (a message id: `bot/text/` translates it through the catalogs) and the
words people type for it beyond that label, in each of our six languages. Everything
else is derived from this table: the `Theme` and `Kind` values, the labels on buttons
and pages, the deep-link tokens, and the index of the parser of typed words
(`bot/filters/vocabulary.py`) that Telegram and Slack share. A test holds the Literals
and the table to the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

Theme = Literal[
    "tip",
    "som",
    "firearms",
    "cooperation",
    "technical-assistance",
    "criminalization",
    "prevention",
    "general",
]
Kind = Literal["milestone", "registration", "event"]
THEMES: tuple[Theme, ...] = get_args(Theme)
KINDS: tuple[Kind, ...] = get_args(Kind)
LANGUAGES = ("en", "fr", "es", "ru", "zh", "ar")
# The mechanism's zone, named once: UNODC announces in Vienna time, and whole-day
# milestones are judged on the Vienna calendar. Kept here, where importing is cheap.
ZONE = "Europe/Vienna"


def N_(message: str) -> str:
    """Marks an English label for the catalogs; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Term:
    """One theme or kind: its id, deep-link code, English label and typed words."""

    id: str
    code: str
    label: str
    # Words people type for it, per language, beyond the label in that language.
    words: Mapping[str, tuple[str, ...]]


THEME_TERMS: Mapping[Theme, Term] = {
    "tip": Term(
        "tip",
        "tip",
        N_("Trafficking in persons"),
        {
            "en": ("trafficking", "human trafficking", "trafficking in human beings"),
            "fr": ("traite", "traite des personnes", "traite des êtres humains"),
            "es": ("trata", "trata de personas", "trata de seres humanos"),
            "ru": ("торговля людьми", "торговля", "торговли людьми"),
            "zh": ("人口贩运", "贩运人口", "贩卖人口"),
            "ar": ("الاتجار بالبشر", "الاتجار بالأشخاص", "الاتجار"),
        },
    ),
    "som": Term(
        "som",
        "som",
        N_("Smuggling of migrants"),
        {
            "en": ("smuggling", "migrant smuggling"),
            "fr": ("trafic de migrants", "trafic illicite de migrants"),
            "es": ("tráfico de migrantes", "tráfico ilícito de migrantes"),
            "ru": ("незаконный ввоз мигрантов", "ввоз мигрантов"),
            "zh": ("偷运移民",),
            "ar": ("تهريب المهاجرين",),
        },
    ),
    "firearms": Term(
        "firearms",
        "fa",
        N_("Firearms"),
        {
            "en": ("firearms", "firearm", "arms"),
            "fr": ("armes à feu", "armes"),
            "es": ("armas de fuego", "armas"),
            "ru": ("огнестрельное оружие", "оружие"),
            "zh": ("枪支", "火器"),
            "ar": ("الأسلحة النارية", "الأسلحة"),
        },
    ),
    "cooperation": Term(
        "cooperation",
        "co",
        N_("International cooperation"),
        {
            "en": ("cooperation", "international cooperation"),
            "fr": ("coopération", "coopération internationale"),
            "es": ("cooperación", "cooperación internacional"),
            "ru": ("сотрудничество", "международное сотрудничество"),
            "zh": ("合作", "国际合作"),
            "ar": ("التعاون", "التعاون الدولي"),
        },
    ),
    "technical-assistance": Term(
        "technical-assistance",
        "ta",
        N_("Technical assistance"),
        {
            "en": ("technical assistance",),
            "fr": ("assistance technique",),
            "es": ("asistencia técnica",),
            "ru": ("техническая помощь",),
            "zh": ("技术援助",),
            "ar": ("المساعدة التقنية",),
        },
    ),
    "criminalization": Term(
        "criminalization",
        "cr",
        N_("Criminalization"),
        {
            "en": ("criminalisation",),
            "fr": ("incrimination", "criminalisation"),
            "es": ("penalización", "tipificación"),
            "ru": ("криминализация",),
            "zh": ("刑事定罪", "定罪"),
            "ar": ("التجريم",),
        },
    ),
    "prevention": Term(
        "prevention",
        "pv",
        N_("Prevention"),
        {
            "en": ("prevention",),
            "fr": ("prévention",),
            "es": ("prevención",),
            "ru": ("предупреждение", "профилактика"),
            "zh": ("预防",),
            "ar": ("المنع", "الوقاية"),
        },
    ),
    "general": Term(
        "general",
        "gen",
        N_("General"),
        {
            "en": ("general",),
            "fr": ("général",),
            "es": ("general",),
            "ru": ("общие вопросы",),
            "zh": ("一般事项",),
            "ar": ("عام",),
        },
    ),
}

KIND_TERMS: Mapping[Kind, Term] = {
    "milestone": Term(
        "milestone",
        "km",
        N_("Review milestone"),
        {
            "en": ("milestones", "review milestones"),
            "fr": ("étape", "étapes"),
            "es": ("etapa", "etapas"),
            "ru": ("этап", "этапы"),
            "zh": ("节点", "审议节点"),
            "ar": ("مرحلة", "مراحل"),
        },
    ),
    "registration": Term(
        "registration",
        "kr",
        N_("Registration deadline"),
        {
            "en": ("registrations", "registration deadlines"),
            "fr": ("inscription", "inscriptions"),
            "es": ("inscripción", "inscripciones"),
            "ru": ("регистрация",),
            "zh": ("登记",),
            "ar": ("التسجيل",),
        },
    ),
    "event": Term(
        "event",
        "ke",
        N_("Event"),
        {
            "en": ("events",),
            "fr": ("événement", "événements"),
            "es": ("evento", "eventos"),
            "ru": ("мероприятие", "мероприятия"),
            "zh": ("活动",),
            "ar": ("فعالية", "فعاليات"),
        },
    ),
}

# The word before a cluster's number ("cluster 2", "groupe 2"); "c2" works everywhere.
CLUSTER_WORDS: Mapping[str, tuple[str, ...]] = {
    "en": ("cluster", "c"),
    "fr": ("groupe", "groupe thématique", "cluster"),
    "es": ("grupo", "grupo temático", "cluster"),
    "ru": ("блок", "тематический блок", "кластер"),
    "zh": ("专题组", "组"),
    "ar": ("مجموعة", "مجموعة المواد"),
}
