"""`/untoc` in people's own words: the subcommands by their names in the six languages,
and a question (`/untoc quand est le prochain dialogue ?`) read for what it asks.

The subcommands' words are compared folded (case and accents off), so `/untoc abonner`,
`/untoc подписаться` and `/untoc 订阅` are `/untoc subscribe`. What a question asks is read
by `bot.text.intents`, and answered with the words of `bot.text.asked`, as on Telegram.
"""

from __future__ import annotations

from bot.filters.vocabulary import fold
from bot.text.asked import Asked

ASKED = Asked(
    upcoming="/untoc upcoming",
    country="/untoc country",
    subscribe="/untoc subscribe",
    settings="/untoc settings",
    help="/untoc help",
)

# Each subcommand's names: English first, then French, Spanish, Russian, Arabic, Chinese.
_NAMES: dict[str, str] = {
    "subscribe": "subscribe|follow|abonner|s'abonner|suivre|suscribir|suscribirse|seguir|"
    "подписаться|подписка|اشتراك|اشترك|订阅|关注",
    "unsubscribe": "unsubscribe|unfollow|desabonner|se desabonner|desuscribir|"
    "cancelar suscripcion|отписаться|إلغاء الاشتراك|الغاء الاشتراك|退订|取消订阅",
    "list": "list|mysubs|liste|lista|список|قائمة|列表",
    "upcoming": "upcoming|prochaines|a venir|proximos|proximas|ближайшие|скоро|"
    "القادمة|القادم|即将|近期",
    "country": "country|pays|pais|страна|بلد|دولة|国家",
    "calendar": "calendar|calendrier|calendario|календарь|تقويم|التقويم|日历",
    "settings": "settings|reglages|parametres|ajustes|configuracion|настройки|الإعدادات|"
    "اعدادات|设置",
    "help": "help|aide|ayuda|помощь|справка|مساعدة|帮助",
}
SUBCOMMAND_WORDS: dict[str, str] = {
    fold(word): name for name, words in _NAMES.items() for word in words.split("|")
}


def subcommand(line: str) -> tuple[str | None, str]:
    """The subcommand a line starts with, by any of its names (one or two words), and the rest."""
    words = line.split()
    for length in (2, 1):
        if len(words) >= length:
            name = SUBCOMMAND_WORDS.get(fold(" ".join(words[:length])))
            if name is not None:
                return name, " ".join(words[length:])
    return None, line
