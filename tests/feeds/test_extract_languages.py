"""Dates as UNODC's Russian, Arabic and Chinese pages (and NGOs) write them, and a year
written once for two dates of one sentence."""

from __future__ import annotations

import datetime as dt

import pytest

from feeds.extract import extract_findings, normalise_line

REFERENCE = dt.date(2026, 12, 1)
VIENNA = "Europe/Vienna"


def one(line: str):
    (finding,) = extract_findings([line], REFERENCE)
    return finding


@pytest.mark.parametrize(
    ("line", "kind", "themes", "start", "end"),
    [
        # Russian: genitive month names, "г."/"года", ranges "с ... по ..."
        (
            "Конструктивный диалог по огнестрельному оружию: 5 мая 2027 года.",
            "constructive-dialogue",
            ("firearms",),
            "2027-05-05",
            None,
        ),
        (
            "Рабочая группа по торговле людьми проведёт заседание с 6 по 8 октября 2027 г.",
            "working-group",
            ("tip",),
            "2027-10-06",
            "2027-10-08",
        ),
        (
            "Конференция участников: 16–20 октября 2028 года, Вена",
            "cop",
            (),
            "2028-10-16",
            "2028-10-20",
        ),
        # Arabic: the Levantine and Egyptian month names together, Arabic-Indic digits, marks
        (
            "الحوار البنّاء بشأن الأسلحة النارية: ٥ أيار/مايو ٢٠٢٧",
            "constructive-dialogue",
            ("firearms",),
            "2027-05-05",
            None,
        ),
        (
            "الفريق العامل المعني بالاتجار بالأشخاص: من 6 إلى 8 تشرين الأول/أكتوبر 2027",
            "working-group",
            ("tip",),
            "2027-10-06",
            "2027-10-08",
        ),
        (
            "الحوار البناء بشأن تهريب المهاجرين يوم 11 أكتوبر 2027",
            "constructive-dialogue",
            ("som",),
            "2027-10-11",
            None,
        ),
        # Chinese: 年月日, a range with the month once
        (
            "关于枪支问题的建设性对话：2027年5月5日",
            "constructive-dialogue",
            ("firearms",),
            "2027-05-05",
            None,
        ),
        (
            "工作组会议将于2027年10月6日至8日在维也纳举行。",
            "working-group",
            (),
            "2027-10-06",
            "2027-10-08",
        ),
        (
            "关于人口贩运问题的建设性对话将于2027年10月8日举行",
            "constructive-dialogue",
            ("tip",),
            "2027-10-08",
            None,
        ),
    ],
)
def test_events_in_russian_arabic_and_chinese(line, kind, themes, start, end):
    finding = one(line)
    assert finding.kind == kind
    assert finding.themes == themes
    assert str(finding.start) == start
    assert str(finding.end) == str(end)


@pytest.mark.parametrize(
    "line",
    [
        "Регистрация открыта до 15 февраля 2027 г. (до полуночи по венскому времени).",
        "Крайний срок подачи заявок: 15 февраля 2027 года",
        "آخر موعد للتسجيل هو 15 شباط/فبراير 2027، منتصف الليل بتوقيت فيينا",
        "يجب تقديم الطلبات قبل ١٥ فبراير ٢٠٢٧",
        "请于2027年2月15日前报名（维也纳时间午夜）。",
        "报名截止日期：2027年2月15日",
    ],
)
def test_deadlines_in_russian_arabic_and_chinese_close_at_the_end_of_the_day_in_vienna(line):
    finding = one(line)
    assert finding.closing is not None
    assert finding.closing.day == dt.date(2027, 2, 15)
    assert finding.closing.time is None and finding.closing.zone == VIENNA
    assert finding.closing.instant == dt.datetime(2027, 2, 15, 23, tzinfo=dt.UTC)


def test_a_year_written_once_in_a_sentence_is_shared_and_said():
    finding = one(
        "Constructive Dialogue on Trafficking in Persons on 5 December, "
        "registration closes on 9 January 2027."
    )
    # read on 1 December 2026 either way, but from the sentence, not from the reading day
    assert finding.start == dt.date(2026, 12, 5)
    assert finding.closing is not None and finding.closing.day == dt.date(2027, 1, 9)
    assert any("written later in the sentence" in note for note in finding.notes)
    group, dialogue = extract_findings(
        ["The Working Group on Firearms meets on 2 March and the dialogue on 9 April 2029."],
        REFERENCE,
    )
    assert group.start == dt.date(2029, 3, 2)  # not 2027, the year nearest the reading day
    assert dialogue.start == dt.date(2029, 4, 9)


def test_an_event_day_followed_by_its_hours_starts_at_the_first_hour():
    finding = one(
        "Constructive Dialogue on Trafficking in Persons: 22 June 2027, 09:30-12:30 Vienna time"
    )
    assert finding.start_time == dt.time(9, 30) and finding.end_time == dt.time(12, 30)
    assert finding.zone == VIENNA


def test_digits_of_other_scripts_read_as_ascii_and_arabic_marks_are_dropped():
    assert normalise_line("٢٠٢٧ ۵ ５") == "2027 5 5"
    assert normalise_line("البنّاء") == "البناء"


@pytest.mark.parametrize(
    ("line", "time", "zone"),
    [
        (
            "Applications must be submitted by 15 January 2027, 17:00 Bogotá time.",
            (17, 0),
            "America/Bogota",
        ),
        ("Register by 15 January 2027, 5 p.m. PST", (17, 0), "America/Los_Angeles"),
        ("Register by 15 January 2027, 5 p.m. EST", (17, 0), "America/New_York"),
        ("Register by 15 January 2027, 17:00 UTC-3", (17, 0), "Etc/GMT+3"),
        ("Inscriptions jusqu'au 15 janvier 2027 à 18 h, heure de Dakar.", (18, 0), "Africa/Dakar"),
        (
            "Solicitudes hasta el 15 de enero de 2027 a las 18:00, hora de Ciudad de México.",
            (18, 0),
            "America/Mexico_City",
        ),
        ("Регистрация до 15 января 2027 года, 18:00 по времени Каира", (18, 0), "Africa/Cairo"),
        ("Регистрация до 15 января 2027 года, 18:00 по времени Москвы", (18, 0), "Europe/Moscow"),
        ("آخر موعد للتسجيل هو 15 يناير 2027، الساعة 18:00 بتوقيت القاهرة", (18, 0), "Africa/Cairo"),
        ("请于2027年1月15日18:00（开罗时间）前报名", (18, 0), "Africa/Cairo"),
    ],
)
def test_a_deadline_in_another_zone_is_read_in_that_zone(line, time, zone):
    finding = one(line)
    assert finding.closing is not None
    assert finding.closing.day == dt.date(2027, 1, 15)
    assert finding.closing.time == dt.time(*time) and finding.closing.zone == zone


@pytest.mark.parametrize(
    ("line", "dates"),
    [
        (
            "The Working Group on Firearms meets on 3 and 4 June 2027.",
            [("2027-06-03", "2027-06-04")],
        ),
        (
            "Рабочая группа по огнестрельному оружию: 3 и 4 июня 2027 года",
            [("2027-06-03", "2027-06-04")],
        ),
        (
            "Les dialogues constructifs sur les armes à feu auront lieu les 3 et 10 juin 2027.",
            [("2027-06-03", "None"), ("2027-06-10", "None")],
        ),
    ],
)
def test_days_listed_with_one_month_are_each_read(line, dates):
    found = extract_findings([line], REFERENCE)
    assert [(str(f.start), str(f.end)) for f in found] == dates


@pytest.mark.parametrize(
    ("line", "starts"),
    [
        (
            "Los diálogos constructivos sobre armas de fuego serán los días 3 y 10 de junio de 2027.",
            ["2027-06-03", "2027-06-10"],
        ),
        (
            "الحوار البناء بشأن الأسلحة النارية يومي 3 و10 حزيران/يونيو 2027",
            ["2027-06-03", "2027-06-10"],
        ),
        ("关于枪支问题的建设性对话将于2027年6月3日和10日举行", ["2027-06-03", "2027-06-10"]),
    ],
)
def test_days_listed_with_one_month_in_spanish_arabic_and_chinese(line, starts):
    assert [str(f.start) for f in extract_findings([line], REFERENCE)] == starts


@pytest.mark.parametrize(
    "line",
    [
        "Dialogue constructif sur la traite des personnes : 22 juin 2027, 9 h 30-12 h 30, heure de Vienne",
        "Diálogo constructivo sobre la trata de personas: 22 de junio de 2027, 09:30-12:30, hora de Viena",
        "Конструктивный диалог по торговле людьми: 22 июня 2027 года, 09:30–12:30 по венскому времени",
        "الحوار البناء بشأن الاتجار بالأشخاص: 22 حزيران/يونيو 2027، 09:30-12:30 بتوقيت فيينا",
        "关于人口贩运问题的建设性对话：2027年6月22日，维也纳时间09:30-12:30",
    ],
)
def test_an_event_day_followed_by_its_hours_in_five_more_languages(line):
    finding = one(line)
    assert finding.start == dt.date(2027, 6, 22)
    assert finding.start_time == dt.time(9, 30) and finding.zone == VIENNA


@pytest.mark.parametrize(
    "line",
    [
        "Constructive Dialogue on Firearms: Wed., 5 May 2027",
        "Dialogue constructif sur les armes à feu : mer. 5 mai 2027",
        "Diálogo constructivo sobre armas de fuego: miér. 5 de mayo de 2027",
        "Конструктивный диалог по огнестрельному оружию: ср, 5 мая 2027 г.",
        "الحوار البناء بشأن الأسلحة النارية: الأربعاء 5 أيار/مايو 2027",
        "关于枪支问题的建设性对话：2027年5月5日（周三）",
    ],
)
def test_business_day_abbreviations_before_or_after_the_date(line):
    assert one(line).start == dt.date(2027, 5, 5)


@pytest.mark.parametrize(
    "line",
    [
        "UNODC announced that the Constructive Dialogue on Firearms will convene on 5 May 2027.",
        "Le dialogue constructif sur les armes à feu se tiendra le 5 mai 2027.",
        "El diálogo constructivo sobre armas de fuego se celebrará el 5 de mayo de 2027.",
        "Конструктивный диалог по огнестрельному оружию состоится 5 мая 2027 года.",
        "سيُعقد الحوار البناء بشأن الأسلحة النارية في 5 أيار/مايو 2027.",
        "关于枪支问题的建设性对话定于2027年5月5日召开。",
    ],
)
def test_a_date_in_an_ordinary_sentence_with_any_verb(line):
    finding = one(line)
    assert finding.start == dt.date(2027, 5, 5) and finding.kind == "constructive-dialogue"
