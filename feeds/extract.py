"""Events and deadlines in the words UNODC and NGO pages use, as dates and instants.

Pure: the text comes in as lines, the reference date (for a date written without its
year) is passed in. English, French and Spanish date words; Russian and Arabic month and
weekday names from CLDR (Arabic in its Levantine and Egyptian names, often written
together: "أيار/مايو"), Chinese 年月日 dates, and other scripts' digits. What is found:
- dates in day-month and month-day order, with or without weekday and year, ISO and
  dotted dates, and ranges ("15 March 2022-30 April 2022", "4 April to 6 April 2022",
  "23 to 27 May 2022", "May 23-27, 2022", "du 23 au 27 mai 2022");
- times and zones ("11:55 p.m. CET", "midnight Vienna time", "10:00-13:00 CEST");
- what a date is: a registration or application deadline when a deadline phrase leads
  to it ("Register here until", "register by", "Deadline for applications:"), otherwise
  the date of an event when the line names one ("Constructive Dialogue on Firearms:").

A deadline given as "midnight" closes at the end of that date in the zone named; with no
zone named, Vienna (the mechanism's seat) is assumed and the finding says so. Every
finding carries a certainty between 0 and 1 and the assumptions made, in words.

This is one grammar, so it is one file: the date, range, time and zone patterns are
built from one another, and the deadline phrases and event names are read around the
spans those patterns find; split apart, the pieces would import one another's internals.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from zoneinfo import ZoneInfo

from babel import Locale

from config.dataset import VIENNA, EventKind, Theme, wall_time_exists
from config.zones import city_zones, spellings
from schedulers.dates import UTC, end_of_day, local_instant

# A finding below this certainty is shown by `untoc-watch extract` but never proposed.
MIN_CERTAINTY = 0.45
EXCERPT_CHARS = 300
# Lines after a heading ("Constructive Dialogue on Firearms") whose dates still belong to it.
HEADING_REACH = 3
MAX_RANGE_DAYS = 400
# How far apart two dates of one sentence may be for the later one's year to be shared.
MAX_SHARED_YEAR_GAP = 80
_ANY_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")

_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("january", "jan", "janvier", "janv", "enero", "ene"),
    2: ("february", "feb", "février", "fevrier", "févr", "fevr", "febrero"),
    3: ("march", "mar", "mars", "marzo"),
    4: ("april", "apr", "avril", "avr", "abril", "abr"),
    5: ("may", "mai", "mayo"),
    6: ("june", "jun", "juin", "junio"),
    7: ("july", "jul", "juillet", "juil", "julio"),
    8: ("august", "aug", "août", "aout", "agosto"),
    9: ("september", "sept", "sep", "septembre", "septiembre", "setiembre"),
    10: ("october", "oct", "octobre", "octubre"),
    11: ("november", "nov", "novembre", "noviembre"),
    12: ("december", "dec", "décembre", "decembre", "déc", "diciembre", "dic"),
}
# Russian and Arabic month names come from CLDR: Russian in the forms a date uses
# ("5 мая") and alone ("май"), Arabic in both the Egyptian ("مايو") and the Levantine
# ("أيار") names, which UN texts often write together ("أيار/مايو").
_CLDR_MONTHS: dict[int, set[str]] = {}
for _locale, _contexts in (
    ("ru", ("format", "stand-alone")),
    ("ar", ("format",)),
    ("ar_SY", ("format",)),
):
    for _context in _contexts:
        for _width in ("wide", "abbreviated"):
            for _number, _name in Locale.parse(_locale).months[_context][_width].items():
                _CLDR_MONTHS.setdefault(_number, set()).add(_name.lower().rstrip("."))
MONTHS = {name: number for number, names in _MONTH_NAMES.items() for name in names}
MONTHS.update({name: number for number, names in _CLDR_MONTHS.items() for name in names})
_WEEKDAY_NAMES: dict[int, tuple[str, ...]] = {
    0: ("monday", "mon", "lundi", "lunes"),
    1: ("tuesday", "tues", "tue", "mardi", "martes"),
    2: ("wednesday", "wed", "mercredi", "miércoles", "miercoles"),
    3: ("thursday", "thurs", "thur", "thu", "jeudi", "jueves"),
    4: ("friday", "fri", "vendredi", "viernes"),
    5: ("saturday", "sat", "samedi", "sábado", "sabado"),
    6: ("sunday", "sun", "dimanche", "domingo"),
}
WEEKDAYS = {name: number for number, names in _WEEKDAY_NAMES.items() for name in names}
for _locale in ("ru", "ar"):
    for _width in ("wide", "abbreviated"):
        for _number, _name in Locale.parse(_locale).days["format"][_width].items():
            WEEKDAYS.setdefault(_name.lower().rstrip("."), _number)
# Digits other scripts write dates with (Arabic-Indic, Persian, full-width), read as ASCII.
_DIGITS = str.maketrans(
    {chr(base + n): str(n) for base in (0x0660, 0x06F0, 0xFF10) for n in range(10)}
)
# English words that are also month names: lower-case and without a year, they are verbs.
_AMBIGUOUS_MONTHS = frozenset({"may", "march"})


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_M = _alternation(MONTHS)
_WD = _alternation(WEEKDAYS)
_ORDINAL = r"(?:st|nd|rd|th|er|re|º|°)?"
_YEAR = r"(?P<y>(?:19|20)\d\d)(?!\d)"
_DMY = re.compile(
    rf"(?:\b(?P<wd>{_WD})\.?,?\s+)?(?:(?:the|le|el)\s+)?(?<![\d:.,/])(?P<d>[0-3]?\d){_ORDINAL}\.?"
    rf"\s*(?:de\s+|of\s+)?(?P<m>{_M})(?![^\W\d_])\.?(?:\s*/\s*(?:{_M})(?![^\W\d_]))?"
    rf"(?:,?\s*(?:de\s+|del\s+)?{_YEAR})?",
    re.I,
)
_MDY = re.compile(
    rf"(?:\b(?P<wd>{_WD})\.?,?\s+)?\b(?P<m>{_M})\.?\s+(?:the\s+)?(?P<d>[0-3]?\d)"
    rf"(?:st|nd|rd|th)?(?!\d)(?![:.h]\d)(?:,?\s+{_YEAR})?",
    re.I,
)
_ISO = re.compile(r"(?<![\d-])(?P<y>(?:19|20)\d\d)-(?P<mo>0?[1-9]|1[0-2])-(?P<d>[0-3]?\d)(?!\d)")
_NUMERIC = re.compile(
    r"(?<![\d./])(?P<d>[0-3]?\d)(?P<sep>[./])(?P<mo>0?[1-9]|1[0-2])(?P=sep)"
    r"(?P<y>(?:19|20)\d\d)(?![\d./])"
)
# Chinese dates: 2027年5月5日, 5月5日 (the year once for a range: 2027年5月5日至7日).
_CJK = re.compile(
    r"(?:(?P<y>(?:19|20)\d\d)\s*年\s*)?(?<!\d)(?P<mo>1[0-2]|0?[1-9])\s*月\s*(?P<d>[0-3]?\d)\s*[日号]"
)
_RANGE_JOIN = re.compile(
    r"^\s*(?:-|\u2013|\u2014|to|till|until|through|thru|au|al|à|a|hasta(?:\s+el)?|jusqu['\u2019]au"
    r"|по|до|إلى|الى|حتى|至|到|~|\uff5e)\s*$",
    re.I,
)
_LIST_JOIN = re.compile(r"^\s*(?:,|and|et|y|or|ou|o|&|и|или|و|أو|和|及|、|，)\s*$", re.I)
_LIST_SEPARATORS = frozenset({"and", "et", "y", "и", "و"})
_BARE_DAY_BEFORE = re.compile(
    r"(?:(?P<between>between|entre|между)\s+|(?:from|du|del|de|с|со|من)\s+)?(?:the\s+)?(?<![\d:.,/])"
    rf"(?P<d>[0-3]?\d){_ORDINAL}\s*(?P<sep>-|\u2013|\u2014|to|au|al|à|a|and|et|y|по|إلى|الى|и|و)\s*$",
    re.I,
)
_BARE_DAY_AFTER = re.compile(
    rf"\s*(?:-|\u2013|\u2014|to|through|thru|至|到|~|\uff5e)\s*(?P<d>[0-3]?\d)(?:st|nd|rd|th|\s*[日号])?"
    r"(?!\d)(?![:.h]\d)"
    rf"(?:,?\s+{_YEAR})?",
    re.I,
)

# "2027年6月3日和10日": a second day of the same month, listed after the date (Chinese).
_CJK_LISTED_AFTER = re.compile(r"\s*(?:和|及|、|与)\s*(?P<d>[0-3]?\d)\s*[日号]")

_TIME = re.compile(
    r"(?P<noon>\b(?:12(?:[:.]00)?\s*)?(?:noon|midday|midi|mediod[ií]a)\b)"
    r"|(?P<midnight>\b(?:12(?:[:.]00)?\s*)?(?:midnight|minuit|media\s*noche|medianoche|полу?ноч\w*)\b"
    r"|منتصف\s+الليل|午夜|子夜"
    r"|\bend\s+of\s+(?:the\s+)?day\b|\b24[:h]00\b)"
    r"|(?<![\d.:])(?P<h12>1[0-2]|0?[1-9])(?:[:.](?P<m12>[0-5]\d))?\s*"
    r"(?P<ap>a\.?\s?m\b\.?|p\.?\s?m\b\.?)"
    r"|(?<![\d.:])(?P<h24>[01]?\d|2[0-3])(?::(?P<m24>[0-5]\d)|\s?h\s?(?P<mh>[0-5]\d)?(?![^\W\d_]))",
    re.I,
)
_ZONES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:CEST|CET|MESZ|MEZ)\b"), VIENNA),
    (
        re.compile(
            r"\bcentral\s+european(?:\s+summer)?\s+time\b|\bvienna(?:\s+local)?\s+time\b"
            r"|\bheure\s+de\s+vienne\b|\bhora\s+de\s+viena\b|\bvienna\b|\bvienne\b|\bviena\b"
            r"|\bпо\s+венскому\s+времени\b|\bпо\s+времени\s+вены\b|\bвенско\w*\s+времен\w*"
            r"|بتوقيت\s+فيينا|توقيت\s+فيينا|维也纳时间",
            re.I,
        ),
        VIENNA,
    ),
    (re.compile(r"\b(?:EDT|EST)\b"), "America/New_York"),
    (
        re.compile(
            r"\bnew\s+york(?:\s+time)?\b|\beastern\s+(?:standard\s+|daylight\s+)?time\b"
            r"|\bheure\s+de\s+new\s+york\b|\bhora\s+de\s+nueva\s+york\b",
            re.I,
        ),
        "America/New_York",
    ),
    (
        re.compile(
            r"\bgeneva(?:\s+time)?\b|\bheure\s+de\s+gen[eè]ve\b|\bhora\s+de\s+ginebra\b", re.I
        ),
        "Europe/Zurich",
    ),
    (re.compile(r"\b(?:nairobi(?:\s+time)?)\b", re.I), "Africa/Nairobi"),
    (re.compile(r"\b(?:bangkok(?:\s+time)?)\b", re.I), "Asia/Bangkok"),
    (re.compile(r"\b(?:BST)\b|\blondon\s+time\b", re.I), "Europe/London"),
    (re.compile(r"\b(?:CDT|CST)\b"), "America/Chicago"),
    (re.compile(r"\b(?:MDT|MST)\b"), "America/Denver"),
    (re.compile(r"\b(?:PDT|PST)\b"), "America/Los_Angeles"),
    (re.compile(r"\bBRT\b"), "America/Sao_Paulo"),
    (re.compile(r"\bART\b"), "America/Argentina/Buenos_Aires"),
    (re.compile(r"\bEAT\b"), "Africa/Nairobi"),
    (re.compile(r"\bWAT\b"), "Africa/Lagos"),
)
# "Bogotá time", "heure de Dakar", "hora de Ciudad de México", "по времени Каира",
# "بتوقيت القاهرة", "开罗时间": any city CLDR names a zone by, in the six languages.
_CITY_TIME = (
    re.compile(
        r"\b(?P<city>[A-Z][\w.'\u2019-]*(?:\s+[A-Z][\w.'\u2019-]*){0,2})\s+(?:local\s+)?time\b"
    ),
    re.compile(
        r"\bheure\s+(?:de\s+|d['\u2019]\s*)(?P<city>\w[\w.'\u2019-]*(?:\s+\w[\w.'\u2019-]*){0,2})",
        re.I,
    ),
    re.compile(r"\bhora\s+de\s+(?P<city>\w[\w.'-]*(?:\s+\w[\w.'-]*){0,3})", re.I),
    re.compile(r"\bпо\s+времени\s+(?P<city>\w[\w-]*(?:\s+\w[\w-]*)?)", re.I),
    re.compile(r"(?:ب)?توقيت\s+(?P<city>\w+(?:\s+\w+){0,2})"),
    re.compile(r"(?P<city>[\u4e00-\u9fff]{2,6}?)时间"),
)
_OFFSET_ZONE = re.compile(
    r"\b(?:UTC|GMT)\s*(?P<sign>[+\-\u2212])\s*(?P<hours>1[0-4]|0?\d)(?::?00)?\b"
)
_UTC_ZONE = re.compile(r"\b(?:UTC|GMT)\b")

# A deadline phrase that leads to the date by itself.
_SELF_CUE = (
    r"deadline(?:\s+(?:for|to)\s+[^.;:]{1,60}?)?(?:\s+is|\s+of)?"
    r"|closing\s+date(?:\s+for\s+[^.;:]{1,60}?)?(?:\s+is)?"
    r"|(?:no|not)\s+later\s+than|last\s+day\s+to\s+(?:register|apply)(?:\s+is)?"
    r"|date\s+limite(?:\s+(?:d['\u2019]|de\s+|pour\s+)[^.;:]{1,50}?)?|au\s+plus\s+tard(?:\s+le)?"
    r"|fecha\s+l[ií]mite(?:\s+(?:de|para)\s+[^.;:]{1,50}?)?|a\s+m[aá]s\s+tardar(?:\s+el)?"
    r"|plazo(?:\s+de\s+[^.;:]{1,40}?)?\s+(?:vence|hasta)"
    r"|крайний\s+срок(?:\s+[^.;:]{1,60}?)?|не\s+позднее|последний\s+день(?:\s+[^.;:]{1,40}?)?"
    r"|آخر\s+موعد(?:\s+[^.;:]{1,60}?)?(?:\s+هو)?|الموعد\s+النهائي(?:\s+[^.;:]{1,60}?)?(?:\s+هو)?"
    r"|(?:في\s+)?موعد\s+أقصاه"
)
# Chinese puts no space between words, so its phrases stand without word boundaries.
_SELF_CUE_CJK_AT_END = re.compile(r"(?:截止日期|截止时间|最后期限|截止)(?:为|是)?\s*[:：]?\s*$")
# "2027年1月15日前报名": in Chinese the word that makes a deadline follows the date.
# (a time and its zone may come between: "2027年1月15日18:00（维也纳时间）前")
_DEADLINE_AFTER_CJK = re.compile(r"^[^。；!?]{0,30}?(?:之前|以前|前|截止)")
# A connective that makes a deadline only when a deadline word precedes it in the clause.
_CONNECTIVE = (
    r"until|till|by|before|through|closes?|ends?|due(?:\s+by)?|extended\s+(?:to|until)"
    r"|jusqu['\u2019]au|avant|prolong[ée]e?s?\s+(?:au|jusqu['\u2019]au)|prorrogad[oa]s?\s+hasta"
    r"|d['\u2019]ici|hasta|antes\s+del?"
    r"|до|вплоть\s+до|قبل|حتى|بحلول|لغاية"
)
_DEADLINE_WORD = re.compile(
    r"\bregist(?:er|ration|rations|ered)\b|\bappl(?:y|ication|ications)\b|\bsubmi(?:t|ssions?)\b"
    r"|\bnominations?\b|\bexpressions?\s+of\s+interest\b|\bsign\s+up\b|\binscri\w*|\bcandidatures?\b"
    r"|\bsolicitud(?:es)?\b|\bpostul\w*|\bdeadline\b"
    r"|\bрегистрац\w*|\bзаявк\w*|\bподач\w*|\bзаписат\w*|\bзапис\w*"
    r"|التسجيل|تسجيل|الطلبات|طلبات|تقديم|الترشيح|报名|申请|登记|提交|注册",
    re.I,
)
# The words that may stand between a deadline phrase and its date ("until the 15th, at
# midnight Vienna time"). Each is one token of bounded length, matched on its own: a single
# regex repeating these overlapping alternatives backtracks exponentially on a line such as
# "1 1 1 1 … x 15 March" (see `_filler_start`, which reads them in linear time).
_FILLER_TOKENS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(token, re.I)
    for token in (
        r"\s+",
        r"[,:()\-\u2013\uff1a\uff0c\u060c]",
        r"\b(?:в|во|на|с|في|يوم)\b",
        r"[于在]",
        r"\b(?:on|the|at|le|el|à|a|las|de|del|of|hrs?|hours?)\b",
        r"\b\d{1,2}",
        r"\b\d{1,2}\s*(?:a\.?\s?m\b\.?|p\.?\s?m\b\.?)",
        r"\b\d{1,2}[:.h]\d{2}",
        r"\b\d{1,2}[:.h]\d{2}\s*(?:a\.?\s?m\b\.?|p\.?\s?m\b\.?)",
        r"\b(?:midnight|minuit|medianoche|media\s*noche|noon|полу?ноч\w{1,3})\b",
        r"منتصف\s+الليل|午夜|子夜|维也纳时间|(?:ب)?توقيت\s+فيينا",
        r"\bпо\s+венскому\s+времени\b",
        r"\b(?:CEST|CET|MESZ|MEZ|EDT|EST|UTC|GMT|BST)\b",
        r"\b(?:vienna|vienne|viena|new\s+york|geneva|local)(?:\s+(?:local\s+)?time)?\b",
        r"\b(?:heure|hora)\s+de\s+\w{1,40}\b",
    )
)
# Longer than any filler token but a run of spaces ("heure de " and a 40-letter city).
MAX_FILLER_TOKEN = 64
# How much of a clause before a date is read for its deadline phrase.
MAX_CLAUSE_CHARS = 400


def _filler_start(clause: str) -> int:
    """Where the run of filler words that ends the clause begins (its length if none).

    Reads from the end: a position starts a filler run when one token matches there and a
    run (or the end) follows it. Each position is tried once per token, so the time is
    linear in the clause's length whatever the text.
    """
    size = len(clause)
    runs_from = [False] * (size + 1)
    runs_from[size] = True
    start = size
    for position in range(size - 1, -1, -1):
        if start - position > MAX_FILLER_TOKEN:
            break  # no token is that long: nothing further left can reach the run
        for token in _FILLER_TOKENS:
            found = token.match(clause, position)
            if found and found.end() > position and runs_from[found.end()]:
                runs_from[position] = True
                start = position
                break
    return start


_SELF_CUE_AT_END = re.compile(rf"\b(?:{_SELF_CUE})\s*[:\-\u2013]?\s*$", re.I)
_CONNECTIVE_AT_END = re.compile(rf"\b(?:{_CONNECTIVE})\s*[:\-\u2013]?\s*$", re.I)
# Not a break: "a.m.", an initial ("J. Smith"), Russian "г." after a year ("2027 г.").
_CLAUSE_BREAK = re.compile(r"(?<![ap]\.m)(?<!\b[A-Z])(?<!\bг)[.;!?](?=\s+\S)|\||[。；！？؛؟]")
_CANCELLED = re.compile(
    r"\b(?:cancell?ed|annul[ée]e?s?|cancelad[oa]s?|suspendid[oa]s?)\b"
    # Postponed with no new date: "postponed to 13 May" is a move, not a cancellation.
    r"|\b(?:postponed|report[ée]e?s?|aplazad[oa]s?)\b(?!\s+(?:to|until|till|au|à|al|hasta)\b)",
    re.I,
)

_KIND_CUES: tuple[tuple[EventKind, re.Pattern[str], float], ...] = (
    (
        "preparation-day",
        re.compile(
            r"\b(?:multi-?\s?stakeholder\s+)?preparat(?:ion|ory)\s+day\b"
            r"|\bjourn[ée]e\s+pr[ée]paratoire\b|\bjornada\s+preparatoria\b",
            re.I,
        ),
        0.85,
    ),
    (
        "constructive-dialogue",
        re.compile(
            r"\bconstructive\s+dialogues?\b|\bdialogues?\s+constructifs?\b"
            r"|\bdi[aá]logos?\s+constructivos?\b",
            re.I,
        ),
        0.85,
    ),
    (
        "cop",
        re.compile(
            r"(?i:\bconference\s+of\s+(?:the\s+)?(?:states\s+)?parties\b"
            r"|\bconf[ée]rence\s+des\s+parties\b|\bconferencia\s+de\s+las\s+partes\b)"
            r"|\bCOP\s?\d{1,2}\b"
        ),
        0.85,
    ),
    (
        "working-group",
        re.compile(r"\bworking\s+group\b|\bgroupe\s+de\s+travail\b|\bgrupo\s+de\s+trabajo\b", re.I),
        0.75,
    ),
    (
        "training",
        re.compile(
            r"\b(?:workshop|course|training|webinar|e-?learning|seminar|atelier|cours|formation"
            r"|s[ée]minaire|taller|curso|capacitaci[oó]n|seminario)s?\b",
            re.I,
        ),
        0.7,
    ),
    ("constructive-dialogue", re.compile(r"\bdialogues?\b|\bdi[aá]logos?\b", re.I), 0.55),
    (
        "other",
        re.compile(
            r"\b(?:meeting|session|consultation|briefing|hearing|r[ée]union|reuni[oó]n"
            r"|sesi[oó]n|s[ée]ance)s?\b",
            re.I,
        ),
        0.5,
    ),
)
_THEME_CUES: tuple[tuple[Theme, re.Pattern[str]], ...] = (
    (
        "tip",
        re.compile(
            r"\btrafficking\s+(?:in|of)\s+persons\b|\bhuman\s+trafficking\b|\btraite\s+des\s+"
            r"(?:personnes|[êe]tres\s+humains)\b|\btrata\s+de\s+personas\b",
            re.I,
        ),
    ),
    (
        "som",
        re.compile(
            r"\bsmuggling\s+of\s+migrants\b|\bmigrant\s+smuggling\b|\btrafic\s+illicite\s+de\s+"
            r"migrants\b|\btr[aá]fico\s+il[ií]cito\s+de\s+migrantes\b",
            re.I,
        ),
    ),
    (
        "firearms",
        re.compile(r"\bfirearms?\b|\barmes?\s+[àa]\s+feu\b|\barmas?\s+de\s+fuego\b", re.I),
    ),
    (
        "cooperation",
        re.compile(
            r"\binternational\s+cooperation\b|\bcoop[ée]ration\s+internationale\b"
            r"|\bcooperaci[oó]n\s+internacional\b|\bmutual\s+legal\s+assistance\b",
            re.I,
        ),
    ),
    (
        "technical-assistance",
        re.compile(
            r"\btechnical\s+assistance\b|\bassistance\s+technique\b|\basistencia\s+t[ée]cnica\b",
            re.I,
        ),
    ),
    (
        "criminalization",
        re.compile(r"\bcriminali[sz]ation\b|\bincrimination\b|\bpenalizaci[oó]n\b", re.I),
    ),
    ("prevention", re.compile(r"\bprevention\b|\bpr[ée]vention\b|\bprevenci[oó]n\b", re.I)),
)
THEME_TITLES: dict[str, str] = {
    "tip": "Trafficking in Persons",
    "som": "Smuggling of Migrants",
    "firearms": "Firearms",
    "cooperation": "International Cooperation",
    "technical-assistance": "Technical Assistance",
    "criminalization": "Criminalization",
    "prevention": "Prevention",
    "general": "General",
}
# The same cues in Russian, Arabic and Chinese, joined to the ones above (Chinese has no
# spaces between words, so its cues stand without word boundaries).
_MORE_KIND_CUES: dict[tuple[EventKind, float], str] = {
    ("preparation-day", 0.85): r"(?i:\bдень\s+подготовки\b|\bподготовительн\w+\s+день\b)"
    r"|يوم\s+(?:ال)?تحضير\w*|筹备日|准备日",
    ("constructive-dialogue", 0.85): r"(?i:\bконструктивн\w+\s+диалог\w*)"
    r"|(?:ال)?حوار(?:ات)?\s+(?:ال)?بناء\w*|建设性对话",
    ("cop", 0.85): r"(?i:\bконференци\w+\s+участник\w*)|مؤتمر\s+(?:ال)?أطراف|缔约方会议",
    ("working-group", 0.75): r"(?i:\bрабоч\w+\s+групп\w*)|(?:ال)?فريق\s+(?:ال)?عامل|工作组",
    ("training", 0.7): r"(?i:\bсеминар\w*|\bтренинг\w*|\bкурс\w*|\bобучени\w*)"
    r"|(?:ال)?دورة\s+(?:ال)?تدريبية|(?:ال)?تدريب|حلقة\s+عمل|ورشة\s+عمل|培训|讲习班|研讨会|课程",
    ("constructive-dialogue", 0.55): r"(?i:\bдиалог\w*)|(?:ال)?حوار|对话",
    ("other", 0.5): r"(?i:\bзаседани\w*|\bсовещани\w*|\bсесси\w*|\bвстреч\w*)"
    r"|اجتماع\w*|(?:ال)?دورة|会议|届会",
}
_KIND_CUES = tuple(
    (kind, re.compile(f"{p.pattern}|{_MORE_KIND_CUES[(kind, w)]}", p.flags), w)
    if (kind, w) in _MORE_KIND_CUES
    else (kind, p, w)
    for kind, p, w in _KIND_CUES
)
_MORE_THEME_CUES: dict[str, str] = {
    "tip": r"(?i:\bторговл\w+\s+людьми\b)|الاتجار\s+بالأشخاص|الاتجار\s+بالبشر"
    r"|贩运人口|人口贩运|拐卖人口",
    "som": r"(?i:\bнезаконн\w+\s+ввоз\w*\s+мигрант\w*|\bконтрабанд\w+\s+мигрант\w*)"
    r"|تهريب\s+المهاجرين|偷运移民",
    "firearms": r"(?i:\bогнестрельн\w+)|(?:ال)?أسلحة\s+(?:ال)?نارية|枪支|火器",
}
_THEME_CUES = tuple(
    (theme, re.compile(f"{p.pattern}|{_MORE_THEME_CUES[theme]}", p.flags))
    if theme in _MORE_THEME_CUES
    else (theme, p)
    for theme, p in _THEME_CUES
)
# Arabic short vowels, shadda and tatweel: optional marks that would split a word's spellings.
_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")


def normalise_line(line: str) -> str:
    """A line as the grammar reads it: ASCII digits, Arabic words without optional marks."""
    return _ARABIC_MARKS.sub("", line.translate(_DIGITS))


_DEADLINE_VERBS = re.compile(
    r"\s*\b(?:is|are|will|must|be|shall|should|open|received|submitted|sent|close[sd]?)\s*$",
    re.I,
)
_COP_NUMBER = re.compile(r"\bCOP\s?(?P<n>\d{1,2})\b")
_TITLE_TRIM = re.compile(
    r"^[\s•·*\-\u2013\u2014:|>]+|[\s:,(\-\u2013\u2014|]+(?:on|from|du|del|le|el|the|at|date|dates)?[\s:,(\-\u2013\u2014|]*$",
    re.I,
)


@dataclass(frozen=True)
class Closing:
    """A registration or application deadline as the page gives it: a date, a time, a zone.

    `time` None means "midnight": the end of `day` in `zone`.
    """

    day: dt.date
    time: dt.time | None
    zone: str

    @property
    def instant(self) -> dt.datetime:
        """The moment the deadline passes, in UTC."""
        zone = ZoneInfo(self.zone)
        if self.time is None:
            return end_of_day(self.day, zone).astimezone(UTC)
        return local_instant(self.day, self.time, zone).astimezone(UTC)

    @property
    def time_text(self) -> str:
        """The time as the dataset writes it: "midnight" or HH:MM."""
        return "midnight" if self.time is None else self.time.strftime("%H:%M")


@dataclass(frozen=True)
class Finding:
    """One event or deadline read from the text, with where it was read and how sure we are.

    `kind` None is a deadline found with no event to attach it to. `lines` are the indexes
    of the lines the finding was read from (a heading, a date line, a deadline line).
    """

    kind: EventKind | None
    title: str
    themes: tuple[Theme, ...]
    start: dt.date | None
    end: dt.date | None
    start_time: dt.time | None
    end_time: dt.time | None
    zone: str
    closing: Closing | None
    excerpt: str
    lines: tuple[int, ...]
    certainty: float
    notes: tuple[str, ...] = ()
    cancelled: bool = False
    url: str | None = None
    cop_number: int | None = None
    # For a deadline without its event: the kind of event its line speaks of, if any.
    named_kind: EventKind | None = None

    @property
    def starts_at(self) -> dt.datetime | None:
        """The start as a UTC instant, when the page gives a time."""
        if self.start is None or self.start_time is None:
            return None
        return local_instant(self.start, self.start_time, ZoneInfo(self.zone)).astimezone(UTC)

    @property
    def ends_at(self) -> dt.datetime | None:
        """The end as a UTC instant, when the page gives an end time."""
        if self.start is None or self.end_time is None:
            return None
        day = self.end or self.start
        return local_instant(day, self.end_time, ZoneInfo(self.zone)).astimezone(UTC)


@dataclass
class _Mention:
    """A date written in the text, possibly a range, before it is given a role."""

    start: int
    stop: int
    day: dt.date | None
    d: int
    month: int
    year: int | None
    weekday: int | None
    month_word: str
    order: Literal["dmy", "mdy", "numeric", "ymd"]
    end: dt.date | None = None
    end_parts: tuple[int, int, int | None] | None = None
    year_inferred: bool = False
    weekday_wrong: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Clock:
    times: list[dt.time | None]
    zone: str | None


@dataclass(frozen=True)
class _Heading:
    """A line that names an event but gives no date: the next lines' dates may be its."""

    index: int
    kind: EventKind
    weight: float
    themes: tuple[Theme, ...]
    line: str
    cop: int | None


def extract_findings(
    lines: Sequence[str],
    reference: dt.date,
    *,
    default_zone: str = VIENNA,
    url: str | None = None,
) -> list[Finding]:
    """Every event and deadline in `lines`, in page order.

    A date without a year gets the year that puts it nearest to `reference` (the day the
    page was read), leaning to the future, as announcements mostly are.
    """
    findings: list[Finding] = []
    heading: _Heading | None = None
    recent: list[int] = []  # events of the last lines that a deadline line may complete
    lines = [normalise_line(line) for line in lines]
    for index, line in enumerate(lines):
        mentions = _mentions(line, reference)
        if not mentions:
            cue = _kind_of(line)
            if cue is not None:
                heading = _Heading(index, cue[0], cue[1], _themes_of(line), line, _cop_number(line))
            continue
        if heading is not None and index - heading.index > HEADING_REACH:
            heading = None
        events: list[tuple[int, Finding]] = []
        closings: list[tuple[_Mention, Closing, list[str]]] = []
        for position, mention in enumerate(mentions):
            previous_stop = mentions[position - 1].stop if position else 0
            next_start = mentions[position + 1].start if position + 1 < len(mentions) else None
            clause_before = _clause_before(line, previous_stop, mention.start)
            clause_after = _clause_after(line, mention.stop, next_start)
            if _is_deadline(clause_before, clause_after):
                closings.append(_closing(mention, clause_before, clause_after, default_zone))
                continue
            found = _event(line, index, mentions, position, clause_after, heading, default_zone)
            if found is not None:
                events.append((mention.start, found))
        for finding in _attach(events, closings, line, index, findings, recent):
            findings.append(finding)
            if finding.kind is not None:
                recent.append(len(findings) - 1)
        recent = [i for i in recent if index - max(findings[i].lines) < 2]
    if url is not None:
        findings = [replace(f, url=url) for f in findings]
    return findings


def _mentions(line: str, reference: dt.date) -> list[_Mention]:
    """The dates written in `line`, ranges merged, years filled in."""
    found: list[_Mention] = []
    for pattern in (_DMY, _MDY):
        for match in pattern.finditer(line):
            month_word = match.group("m")
            year = int(match.group("y")) if match.group("y") else None
            if year is None and month_word in _AMBIGUOUS_MONTHS:
                continue  # "article 5 may apply": a verb, not a date
            weekday = match.group("wd")
            found.append(
                _Mention(
                    start=match.start(),
                    stop=match.end(),
                    day=None,
                    d=int(match.group("d")),
                    month=MONTHS[_fold(month_word)],
                    year=year,
                    weekday=WEEKDAYS[_fold(weekday)] if weekday else None,
                    month_word=month_word,
                    order="dmy" if pattern is _DMY else "mdy",
                )
            )
    for pattern in (_ISO, _NUMERIC, _CJK):
        for match in pattern.finditer(line):
            found.append(
                _Mention(
                    start=match.start(),
                    stop=match.end(),
                    day=None,
                    d=int(match.group("d")),
                    month=int(match.group("mo")),
                    year=int(match.group("y")) if match.group("y") else None,
                    weekday=None,
                    month_word=match.group("mo"),
                    order="ymd" if pattern is _CJK else "numeric",
                )
            )
    mentions = _leftmost_longest(found)
    mentions = [m for m in mentions if _valid(m.d, m.month, m.year or 2000)]
    _borrow_years(line, mentions)
    for mention in mentions:
        _settle(mention, reference)
    merged = _merge_ranges(line, mentions, reference)
    return [m for m in merged if m.day is not None]


def _fold(word: str) -> str:
    word = word.lower().rstrip(".")
    if word in MONTHS or word in WEEKDAYS:
        return word
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn"
    )
    return stripped


def _leftmost_longest(found: list[_Mention]) -> list[_Mention]:
    found.sort(key=lambda m: (m.start, -(m.stop - m.start)))
    kept: list[_Mention] = []
    for mention in found:
        if kept and mention.start < kept[-1].stop:
            continue
        kept.append(mention)
    return kept


def _valid(day: int, month: int, year: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _borrow_years(line: str, mentions: list[_Mention]) -> None:
    """A year written once for several dates ("27 May and 1 July 2022") applies to each."""
    for position in range(len(mentions) - 2, -1, -1):
        mention, following = mentions[position], mentions[position + 1]
        if mention.year is not None or following.year is None:
            continue
        between = line[mention.stop : following.start]
        joined = bool(_RANGE_JOIN.match(between) or _LIST_JOIN.match(between))
        # "opens on 2 March and closes on 9 April 2026": one sentence, its year written once
        in_sentence = (
            len(between) <= MAX_SHARED_YEAR_GAP
            and not _CLAUSE_BREAK.search(between)
            and not _ANY_YEAR.search(between)
        )
        if joined or in_sentence:
            later = (following.month, following.d) < (mention.month, mention.d)
            mention.year = following.year - 1 if later else following.year
            if not _valid(mention.d, mention.month, mention.year):
                mention.year = None
            elif not joined:
                mention.notes.append(
                    f"The year {mention.year} is the one written later in the sentence."
                )


def _settle(mention: _Mention, reference: dt.date) -> None:
    """Fix the date of a mention: its year (inferred if missing) and a weekday check."""
    if mention.year is None:
        mention.year, confirmed = _infer_year(mention.d, mention.month, mention.weekday, reference)
        mention.year_inferred = True
        if not confirmed:
            mention.notes.append(f"The page gives no year; {mention.year} assumed.")
    mention.day = dt.date(mention.year, mention.month, mention.d)
    if mention.weekday is not None and mention.day.weekday() != mention.weekday:
        actual = mention.day.strftime("%A")
        mention.weekday_wrong = actual
        mention.notes.append(
            f"The page gives a weekday that does not fit: {mention.day.isoformat()} is a {actual}."
        )


def _infer_year(day: int, month: int, weekday: int | None, reference: dt.date) -> tuple[int, bool]:
    """The year nearest to `reference` (a past date counts half as far again); a weekday decides."""
    candidates = [
        dt.date(year, month, day)
        for year in range(reference.year - 1, reference.year + 2)
        if _valid(day, month, year)
    ]
    if weekday is not None:
        fitting = [c for c in candidates if c.weekday() == weekday]
        if fitting:
            candidates = fitting
            best = min(candidates, key=lambda c: _distance(c, reference))
            return best.year, True
    if not candidates:  # 29 February near no leap year
        return reference.year, False
    best = min(candidates, key=lambda c: _distance(c, reference))
    return best.year, False


def _distance(day: dt.date, reference: dt.date) -> float:
    days = (day - reference).days
    return days if days >= 0 else -days * 1.5


def _merge_ranges(line: str, mentions: list[_Mention], reference: dt.date) -> list[_Mention]:
    """Join "4 April to 6 April 2022" into one mention; read "23 to 27 May" and "May 23-27"."""
    merged: list[_Mention] = []
    position = 0
    while position < len(mentions):
        mention = mentions[position]
        if position + 1 < len(mentions):
            following = mentions[position + 1]
            between = line[mention.stop : following.start]
            if (
                _RANGE_JOIN.match(between)
                and mention.day is not None
                and following.day is not None
                and 0 <= (following.day - mention.day).days <= MAX_RANGE_DAYS
            ):
                mention.end = following.day
                mention.stop = following.stop
                mention.notes.extend(n for n in following.notes if n not in mention.notes)
                mention.year_inferred = mention.year_inferred and following.year_inferred
                merged.append(mention)
                position += 2
                continue
        previous_stop = merged[-1].stop if merged else 0
        before = _BARE_DAY_BEFORE.search(line, previous_stop, mention.start)
        listed = before is not None and before.group("sep").lower() in _LIST_SEPARATORS
        if (
            before is not None
            and listed
            and not before.group("between")
            and mention.order == "dmy"
            and mention.day is not None
            and int(before.group("d")) < mention.d - 1
            and _valid(int(before.group("d")), mention.month, mention.day.year)
        ):
            # "on 3 and 10 June 2026": two days of one month, each a date of its own
            first = int(before.group("d"))
            merged.append(
                replace(
                    mention,
                    start=before.start("d"),
                    stop=before.end("d"),
                    d=first,
                    day=dt.date(mention.day.year, mention.month, first),
                    end=None,
                    notes=list(mention.notes),
                )
            )
            merged.append(mention)
            position += 1
            continue
        if (
            before is not None
            and mention.order == "dmy"
            and mention.day is not None
            and (not listed or before.group("between") or int(before.group("d")) == mention.d - 1)
        ):
            first = int(before.group("d"))
            if first < mention.d and _valid(first, mention.month, mention.day.year):
                mention.end = mention.day
                mention.day = dt.date(mention.day.year, mention.month, first)
                mention.start = before.start()
                mention.weekday_wrong = None
                mention.notes = [n for n in mention.notes if "weekday" not in n]
        elif (listed_after := _CJK_LISTED_AFTER.match(line, mention.stop)) and (
            mention.order == "ymd"
            and mention.day is not None
            and int(listed_after.group("d")) > mention.d
            and _valid(int(listed_after.group("d")), mention.month, mention.day.year)
        ):
            # "2027年6月3日和10日": two days of one month, each a date of its own
            second = int(listed_after.group("d"))
            merged.append(mention)
            merged.append(
                replace(
                    mention,
                    start=listed_after.start("d"),
                    stop=listed_after.end(),
                    d=second,
                    day=dt.date(mention.day.year, mention.month, second),
                    end=None,
                    notes=list(mention.notes),
                )
            )
            position += 1
            continue
        else:
            after = _BARE_DAY_AFTER.match(line, mention.stop)
            if after is not None and mention.order in {"mdy", "ymd"} and mention.day is not None:
                last = int(after.group("d"))
                year = int(after.group("y")) if after.group("y") else None
                if last > mention.d and _valid(last, mention.month, year or mention.day.year):
                    if year is not None and mention.year_inferred:
                        mention.day = dt.date(year, mention.month, mention.d)
                        mention.year_inferred = False
                        mention.notes = [n for n in mention.notes if "no year" not in n]
                    mention.end = dt.date(mention.day.year, mention.month, last)
                    mention.stop = after.end()
        merged.append(mention)
        position += 1
    return merged


def _clause_before(line: str, start: int, stop: int) -> str:
    """The text of the clause that leads to a date (from the last sentence break)."""
    text = line[start:stop]
    breaks = list(_CLAUSE_BREAK.finditer(text))
    return text[breaks[-1].end() :] if breaks else text


def _clause_after(line: str, start: int, stop: int | None) -> str:
    """The text after a date up to the next date or the end of its sentence."""
    text = line[start:stop]
    found = _CLAUSE_BREAK.search(text)
    return text[: found.start()] if found else text


def _is_deadline(clause: str, after: str = "") -> bool:
    """True when the clause leading to a date (or, in Chinese, the words after it) announces
    a deadline."""
    head = clause[: _filler_start(clause)]
    if _SELF_CUE_AT_END.search(head) or _SELF_CUE_CJK_AT_END.search(head):
        return True
    if _DEADLINE_AFTER_CJK.match(after) and _DEADLINE_WORD.search(clause + after):
        return True
    return bool(_CONNECTIVE_AT_END.search(head) and _DEADLINE_WORD.search(clause))


def _clock(text: str) -> _Clock:
    """The times (None for midnight) and the zone written in a piece of text."""
    times: list[dt.time | None] = []
    for match in _TIME.finditer(text):
        if match.group("noon"):
            times.append(dt.time(12))
        elif match.group("midnight"):
            times.append(None)
        elif match.group("h12"):
            hour = int(match.group("h12")) % 12
            if match.group("ap").lower().startswith("p"):
                hour += 12
            times.append(dt.time(hour, int(match.group("m12") or 0)))
        else:
            minutes = match.group("m24") or match.group("mh") or "0"
            times.append(dt.time(int(match.group("h24")), int(minutes)))
    return _Clock(times, _zone_in(text))


def _city_zone(text: str) -> str | None:
    """The zone of a city named as "<city> time" (or as the other languages say it)."""
    cities = city_zones()
    for pattern in _CITY_TIME:
        for match in pattern.finditer(text):
            words = match.group("city").split()
            # "Constructive Dialogue Vienna time": try the shortest ending first
            for start in range(len(words) - 1, -1, -1):
                for spelling in spellings(" ".join(words[start:])):
                    zone = cities.get(spelling)
                    if zone is not None:
                        return zone
    return None


def _zone_in(text: str) -> str | None:
    offset = _OFFSET_ZONE.search(text)
    if offset is not None:
        hours = int(offset.group("hours"))
        if hours == 0:
            return "UTC"
        # IANA's Etc zones count the other way: UTC+2 is Etc/GMT-2.
        sign = "-" if offset.group("sign") == "+" else "+"
        return f"Etc/GMT{sign}{hours}"
    for pattern, zone in _ZONES:
        if pattern.search(text):
            return zone
    city = _city_zone(text)
    if city is not None:
        return city
    if _UTC_ZONE.search(text):
        return "UTC"
    return None


def _closing(
    mention: _Mention, before: str, after: str, default_zone: str
) -> tuple[_Mention, Closing, list[str]]:
    """The deadline a mention gives, with its time and zone read around it."""
    assert mention.day is not None
    clock = _clock(after)
    if not clock.times:
        earlier = _clock(before)
        clock = _Clock(earlier.times, clock.zone or earlier.zone)
    elif clock.zone is None:
        clock.zone = _zone_in(before)
    notes = list(mention.notes)
    day = mention.end or mention.day
    time = clock.times[0] if clock.times else None
    zone = clock.zone or default_zone
    if not clock.times and clock.zone is None:
        notes.append(
            "The page gives no time or zone for the deadline; end of day "
            f"{_zone_words(zone)} assumed."
        )
    elif not clock.times:
        notes.append("The page gives no time for the deadline; end of day assumed.")
    elif clock.zone is None:
        notes.append(f"The page gives no time zone for the deadline; {_zone_words(zone)} assumed.")
    if time is not None and not wall_time_exists(day, time, ZoneInfo(zone)):
        shifted = (
            dt.datetime.combine(day, time, tzinfo=ZoneInfo(zone))
            .astimezone(UTC)
            .astimezone(ZoneInfo(zone))
        )
        notes.append(
            f"{time:%H:%M} does not exist on {day.isoformat()} in {zone} (the clocks skip it); "
            f"{shifted:%H:%M} used."
        )
        time = shifted.time().replace(tzinfo=None)
    return mention, Closing(day, time, zone), notes


def _zone_words(zone: str) -> str:
    return "Vienna time" if zone == VIENNA else zone


def event_kind_in(text: str) -> EventKind | None:
    """The kind of event a piece of text names ("Constructive Dialogue", "workshop"), if any."""
    found = _kind_of(text)
    return found[0] if found else None


def themes_in(text: str) -> tuple[Theme, ...]:
    """The review themes a piece of text names, in the order it names them."""
    return _themes_of(text)


def cop_number_in(text: str) -> int | None:
    """The session number of a COP a piece of text names ("COP 11"), if any."""
    return _cop_number(text)


def _kind_of(text: str) -> tuple[EventKind, float] | None:
    best: tuple[int, EventKind, float] | None = None
    for rank, (kind, pattern, weight) in enumerate(_KIND_CUES):
        if pattern.search(text) and (best is None or rank < best[0]):
            best = (rank, kind, weight)
    return None if best is None else (best[1], best[2])


def _themes_of(text: str) -> tuple[Theme, ...]:
    found = [(match.start(), theme) for theme, p in _THEME_CUES if (match := p.search(text))]
    return tuple(theme for _, theme in sorted(found))


def _cop_number(text: str) -> int | None:
    found = _COP_NUMBER.search(text)
    return int(found.group("n")) if found else None


def _event(
    line: str,
    index: int,
    mentions: list[_Mention],
    position: int,
    clause_after: str,
    heading: _Heading | None,
    default_zone: str,
) -> Finding | None:
    """The event a date belongs to: named before the date (or after it, or in a heading)."""
    mention = mentions[position]
    assert mention.day is not None
    start = mentions[position - 1].stop if position else 0
    stop = mentions[position + 1].start if position + 1 < len(mentions) else len(line)
    before = line[start : mention.start]
    after = line[mention.stop : stop]
    lines: tuple[int, ...] = (index,)
    excerpt = _excerpt(line, mention.start)
    if position + 1 < len(mentions) and _LIST_JOIN.match(after):
        # "the 27 May and 1 July 2022 dialogues": the words after the list name both.
        following = mentions[position + 1]
        after_stop = mentions[position + 2].start if position + 2 < len(mentions) else len(line)
        after = line[following.stop : after_stop]
    if position and _LIST_JOIN.match(before):
        # "the dialogues of 6 May and 27 May 2022": the words before the list name both.
        before_start = mentions[position - 2].stop if position >= 2 else 0
        before = line[before_start : mentions[position - 1].start]
    cue = _kind_of(before) or _kind_of(after)
    themes = _themes_of(before) or _themes_of(after)
    subject = before if _kind_of(before) or not _kind_of(after) else _clause_after(after, 0, None)
    cop = _cop_number(before) or _cop_number(after)
    if cue is None and heading is not None:
        cue = (heading.kind, heading.weight - 0.05)
        themes = themes or heading.themes
        subject = heading.line
        cop = cop or heading.cop
        lines = (heading.index, index)
        excerpt = _excerpt(f"{heading.line} … {line}", len(heading.line) + mention.start)
    if cue is None:
        return None
    kind, certainty = cue
    if kind == "constructive-dialogue" and not themes:
        certainty -= 0.15
    zone_info_name, start_time, end_time, notes = _event_times(mention, clause_after, default_zone)
    return Finding(
        kind=kind,
        title=_title(kind, themes, subject, cop),
        themes=themes,
        start=mention.day,
        end=mention.end,
        start_time=start_time,
        end_time=end_time,
        zone=zone_info_name,
        closing=None,
        excerpt=excerpt,
        lines=lines,
        certainty=_adjusted(certainty, mention),
        notes=tuple(notes),
        cancelled=bool(_CANCELLED.search(line)),
        cop_number=cop if kind == "cop" else None,
    )


def _event_times(
    mention: _Mention, clause_after: str, default_zone: str
) -> tuple[str, dt.time | None, dt.time | None, list[str]]:
    """An event's zone and hours: the first time given starts it, the last one ends it."""
    assert mention.day is not None
    clock = _clock(clause_after)
    times = [t for t in clock.times if t is not None]
    zone = clock.zone or default_zone
    notes = list(mention.notes)
    start_time = times[0] if times else None
    end_time = times[-1] if len(times) > 1 else None
    if start_time is not None and clock.zone is None:
        notes.append(f"The page gives no time zone; {_zone_words(zone)} assumed.")
    if start_time is not None and not wall_time_exists(mention.day, start_time, ZoneInfo(zone)):
        notes.append("The time given does not exist in that zone (the clocks skip it).")
        return zone, None, None, notes
    if end_time is not None and start_time is not None:
        last_day = mention.end or mention.day
        backwards = mention.end is None and end_time <= start_time
        if backwards or not wall_time_exists(last_day, end_time, ZoneInfo(zone)):
            end_time = None
    return zone, start_time, end_time, notes


def _adjusted(certainty: float, mention: _Mention) -> float:
    if mention.year_inferred:
        certainty -= 0.05 if mention.weekday is not None else 0.15
    if mention.weekday_wrong is not None:
        certainty -= 0.3
    return round(min(0.99, max(0.05, certainty)), 2)


def _title(kind: EventKind, themes: Sequence[str], subject: str, cop: int | None) -> str:
    """A title in the dataset's style, from the kind and themes, or from the page's words."""
    named = " and ".join(THEME_TITLES[t] for t in themes)
    if kind == "constructive-dialogue":
        return f"Constructive Dialogue on {named}" if named else "Constructive Dialogue"
    if kind == "preparation-day":
        return f"Multistakeholder Preparation Day{f' ({named})' if named else ''}"
    if kind == "cop":
        return f"Conference of the Parties (COP {cop})" if cop else "Conference of the Parties"
    words = _TITLE_TRIM.sub("", subject).strip()
    words = _CANCELLED.sub("", words).strip(" ,:;-\u2013")
    if len(words) > 120:
        words = words[:119].rstrip() + "…"
    if words:
        return words
    return {"constructive-dialogue": "Constructive Dialogue", "working-group": "Working Group"}.get(
        kind, "Event"
    )


def _excerpt(line: str, around: int) -> str:
    if len(line) <= EXCERPT_CHARS:
        return line
    start = max(0, min(around - EXCERPT_CHARS // 3, len(line) - EXCERPT_CHARS))
    text = line[start : start + EXCERPT_CHARS]
    return ("…" if start else "") + text + ("…" if start + EXCERPT_CHARS < len(line) else "")


def _attach(
    events: list[tuple[int, Finding]],
    closings: list[tuple[_Mention, Closing, list[str]]],
    line: str,
    index: int,
    findings: list[Finding],
    recent: list[int],
) -> list[Finding]:
    """Give each event of a line the deadline that goes with it, or complete an earlier event.

    A deadline after events applies to those before it still without one; a deadline before
    every event applies to the events after it. A deadline on a line of its own completes
    the event of the line before; failing that, it stands alone.
    """
    done = [event for _, event in events]
    where = [at for at, _ in events]
    for mention, closing, notes in closings:
        open_events = [i for i, event in enumerate(done) if event.closing is None]
        owners = [i for i in open_events if where[i] < mention.start] or open_events
        if owners:
            for i in owners:
                done[i] = _with_closing(done[i], closing, notes, mention)
            continue
        if events:
            continue  # every event of this line already has its deadline
        earlier = [i for i in reversed(recent) if findings[i].closing is None]
        if earlier:
            target = findings[earlier[0]]
            completed = _with_closing(target, closing, notes, mention)
            findings[earlier[0]] = replace(
                completed,
                lines=(*target.lines, index),
                excerpt=_excerpt(f"{target.excerpt} … {line}", len(target.excerpt)),
            )
            continue
        subject = _clause_before(line, 0, mention.start)
        named = _kind_of(line)
        done.append(
            Finding(
                kind=None,
                title=_deadline_title(subject),
                themes=_themes_of(line),
                start=None,
                end=None,
                start_time=None,
                end_time=None,
                zone=closing.zone,
                closing=closing,
                excerpt=_excerpt(line, mention.start),
                lines=(index,),
                certainty=_adjusted(0.5, mention),
                notes=tuple(notes),
                named_kind=named[0] if named else None,
            )
        )
    return done


def _with_closing(event: Finding, closing: Closing, notes: list[str], mention: _Mention) -> Finding:
    merged = (*event.notes, *(n for n in notes if n not in event.notes))
    certainty = event.certainty
    if mention.weekday_wrong is not None:
        certainty = round(max(0.05, certainty - 0.3), 2)
    return replace(event, closing=closing, notes=merged, certainty=certainty)


def _deadline_title(clause: str) -> str:
    """ "Deadline: <what the clause says closes>", without the phrase that announced it."""
    words = clause[: _filler_start(clause)]
    words = _SELF_CUE_AT_END.sub("", words)
    words = _CONNECTIVE_AT_END.sub("", words)
    while True:
        shorter = _DEADLINE_VERBS.sub("", words.strip())
        if shorter == words:
            break
        words = shorter
    words = _TITLE_TRIM.sub("", words.strip()).strip() or _TITLE_TRIM.sub("", clause).strip()
    if len(words) > 100:
        words = "…" + words[-99:].lstrip()
    if not words:
        return "Deadline"
    return (
        words[0].upper() + words[1:]
        if words.lower().startswith("deadline")
        else f"Deadline: {words}"
    )
