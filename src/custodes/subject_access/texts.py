"""What the person is shown, in plain words, in English, Albanian, Polish and Romanian.

Albanian, Polish and Romanian nationals are the largest groups of foreign national offenders in
England and Wales whose first language is not English (MoJ Offender Management Statistics; Irish
and Jamaican nationals, also among the largest, are mostly English speakers). These texts were
drafted by the developers and must be checked by a qualified translator before live use; any key
missing in a language falls back to English, never to nothing.
"""

from __future__ import annotations

LANGUAGES = ("en", "sq", "pl", "ro")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "check_in.match": "Your photo check-in was accepted.",
        "check_in.no_match": "The system could not match your photo to your enrolled photo. A person will look at it; "
                             "nothing happens automatically.",
        "check_in.near_threshold": "The system was not sure about your photo. A person will look at it.",
        "check_in.failure_to_acquire": "The photo could not be used (for example too dark, blurred or no face seen).",
        "check_in.repeated_failure_to_acquire": "Several photos could not be used. A person will look at why.",
        "check_in.liveness_failed": "The system could not confirm a live person in front of the camera. A person "
                                    "will look at it.",
        "check_in.liveness_undetermined": "The system could not check that the photo was taken live. A person will "
                                          "look at it.",
        "check_in.template_outdated": "Your enrolled photo needs renewing. A person will look at this check-in.",
        "check_in.no_template": "No enrolled photo was on file. A person will look at this check-in.",
        "check_in.missed": "No answer arrived before the deadline. A person will look at why; you can explain.",
        "check_in.reported_in_person": "You reported in person at a reporting centre.",
        "check_in.withdrawn": "This check-in was cancelled (you report in person instead).",
        "check_in.pending": "Waiting for your answer.",
        "alert.check_in_missed": "A check-in was missed.",
        "alert.check_in_failed": "Two reviewers decided a check-in photo was not you.",
        "alert.review_overdue": "Your order's quarterly review is overdue. Your caseworker has been told.",
        "alert.task_overdue": "The answer to your representation or challenge is late. Your caseworker has been "
                              "told.",
        "alert.curfew_breach_started": "You appeared to be away from the curfew address during curfew hours.",
        "alert.curfew_breach_ended": "You were back at the curfew address.",
        "alert.curfew_no_fix": "No location was received during curfew hours.",
        "alert.device_silent": "Your device stopped sending.",
        "alert.device_resumed": "Your device started sending again.",
        "alert.strap_cut": "The device strap reported that it was cut.",
        "alert.strap_opened": "The device strap reported that it was opened.",
        "alert.strap_closed": "The device strap was closed again.",
        "alert.implausible_movement": "A location was received that seems impossible (for example too fast).",
        "alert.exclusion_zone_entered": "You appeared to enter an area you must stay out of.",
        "alert.exclusion_zone_exited": "You left the area you must stay out of.",
        "alert.inclusion_zone_exited": "You appeared to leave an area you must stay in.",
        "alert.inclusion_zone_returned": "You returned to the area you must stay in.",
        "alert.check_in_policy_invalid": "Your check-in settings have a fault. Your caseworker has been told.",
        "status.open": "Not yet looked at", "status.acknowledged": "Being looked at", "status.resolved": "Closed",
        "outcome.breach_confirmed": "A breach was confirmed", "outcome.device_fault": "It was a device fault",
        "outcome.false_alarm": "It was a false alarm", "outcome.explained": "It was explained",
        "condition.curfew": "Curfew: stay at {zone} for {hours} hours from {time} ({rule}).",
        "condition.zone.inclusion": "Stay inside the area \"{name}\".",
        "condition.zone.exclusion": "Do not enter the area \"{name}\".",
        "condition.check_in_policy": "Up to {n} photo check-ins a day between {start} and {end}, each to be "
                                     "answered within {minutes} minutes.",
        "condition.in_person": "Report in person at a reporting centre every day between {start} and {end}.",
        "rule.daily": "every day", "rule.weekly": "on {days}", "rule.other": "{rule}",
        "your_address": "your curfew address",
    },
    "sq": {
        "check_in.match": "Kontrolli juaj me foto u pranua.",
        "check_in.no_match": "Sistemi nuk mundi ta përputhë foton tuaj me foton e regjistruar. Një person do ta "
                             "shikojë; asgjë nuk ndodh automatikisht.",
        "check_in.near_threshold": "Sistemi nuk ishte i sigurt për foton tuaj. Një person do ta shikojë.",
        "check_in.failure_to_acquire": "Fotoja nuk mund të përdorej (p.sh. shumë e errët, e turbullt ose pa fytyrë).",
        "check_in.repeated_failure_to_acquire": "Disa foto nuk mund të përdoreshin. Një person do të shikojë pse.",
        "check_in.liveness_failed": "Sistemi nuk mundi të konfirmojë një person të gjallë para kamerës. Një person "
                                    "do ta shikojë.",
        "check_in.missed": "Asnjë përgjigje nuk erdhi para afatit. Një person do të shikojë pse; ju mund të "
                           "shpjegoni.",
        "check_in.reported_in_person": "Ju u paraqitët personalisht në një qendër raportimi.",
        "check_in.withdrawn": "Ky kontroll u anulua (ju paraqiteni personalisht).",
        "check_in.pending": "Në pritje të përgjigjes suaj.",
        "alert.check_in_missed": "Një kontroll nuk u krye.",
        "alert.review_overdue": "Rishikimi tremujor i urdhrit tuaj është vonuar. Punonjësi juaj i çështjes është "
                                "njoftuar.",
        "alert.task_overdue": "Përgjigja për parashtresën ose kundërshtimin tuaj është vonuar. Punonjësi juaj i "
                              "çështjes është njoftuar.",
        "alert.curfew_breach_started": "Dukej se ishit larg adresës së orës policore gjatë orëve të saj.",
        "alert.device_silent": "Pajisja juaj ndaloi së dërguari të dhëna.",
        "status.open": "Ende pa u shqyrtuar", "status.acknowledged": "Në shqyrtim", "status.resolved": "Mbyllur",
        "outcome.breach_confirmed": "U konfirmua një shkelje", "outcome.device_fault": "Ishte defekt i pajisjes",
        "outcome.false_alarm": "Ishte alarm i rremë", "outcome.explained": "U shpjegua",
        "condition.curfew": "Ora policore: qëndroni në {zone} për {hours} orë nga ora {time} ({rule}).",
        "condition.zone.inclusion": "Qëndroni brenda zonës \"{name}\".",
        "condition.zone.exclusion": "Mos hyni në zonën \"{name}\".",
        "condition.check_in_policy": "Deri në {n} kontrolle me foto në ditë midis {start} dhe {end}, secili me "
                                     "përgjigje brenda {minutes} minutash.",
        "condition.in_person": "Paraqituni personalisht në një qendër raportimi çdo ditë midis {start} dhe {end}.",
        "rule.daily": "çdo ditë", "rule.weekly": "në ditët {days}",
        "your_address": "adresën tuaj të orës policore",
    },
    "pl": {
        "check_in.match": "Twoje zgłoszenie ze zdjęciem zostało przyjęte.",
        "check_in.no_match": "System nie dopasował Twojego zdjęcia do zdjęcia wzorcowego. Sprawdzi to człowiek; "
                             "nic nie dzieje się automatycznie.",
        "check_in.near_threshold": "System nie był pewien Twojego zdjęcia. Sprawdzi to człowiek.",
        "check_in.failure_to_acquire": "Zdjęcia nie dało się użyć (np. za ciemne, rozmazane albo bez twarzy).",
        "check_in.repeated_failure_to_acquire": "Kilku zdjęć nie dało się użyć. Człowiek sprawdzi dlaczego.",
        "check_in.liveness_failed": "System nie potwierdził, że przed kamerą jest żywa osoba. Sprawdzi to człowiek.",
        "check_in.missed": "Odpowiedź nie nadeszła przed terminem. Człowiek sprawdzi dlaczego; możesz to wyjaśnić.",
        "check_in.reported_in_person": "Zgłosiłeś się osobiście w punkcie zgłoszeń.",
        "check_in.withdrawn": "To zgłoszenie anulowano (zgłaszasz się osobiście).",
        "check_in.pending": "Czekamy na Twoją odpowiedź.",
        "alert.check_in_missed": "Pominięto zgłoszenie.",
        "alert.review_overdue": "Kwartalny przegląd Twojego nakazu jest opóźniony. Twój opiekun sprawy został "
                                "powiadomiony.",
        "alert.task_overdue": "Odpowiedź na Twoje stanowisko lub sprzeciw jest opóźniona. Twój opiekun sprawy "
                              "został powiadomiony.",
        "alert.curfew_breach_started": "Wyglądało na to, że w godzinach zakazu byłeś poza adresem.",
        "alert.device_silent": "Twoje urządzenie przestało wysyłać dane.",
        "status.open": "Jeszcze nie sprawdzone", "status.acknowledged": "W trakcie sprawdzania",
        "status.resolved": "Zamknięte",
        "outcome.breach_confirmed": "Potwierdzono naruszenie", "outcome.device_fault": "To była usterka urządzenia",
        "outcome.false_alarm": "To był fałszywy alarm", "outcome.explained": "Wyjaśniono",
        "condition.curfew": "Zakaz opuszczania: przebywaj pod adresem {zone} przez {hours} godz. od {time} ({rule}).",
        "condition.zone.inclusion": "Przebywaj w obszarze \"{name}\".",
        "condition.zone.exclusion": "Nie wchodź do obszaru \"{name}\".",
        "condition.check_in_policy": "Do {n} zgłoszeń ze zdjęciem dziennie między {start} a {end}; na każde "
                                     "odpowiedz w ciągu {minutes} minut.",
        "condition.in_person": "Zgłaszaj się osobiście w punkcie zgłoszeń codziennie między {start} a {end}.",
        "rule.daily": "codziennie", "rule.weekly": "w dni: {days}",
        "your_address": "Twoim adresem",
    },
    "ro": {
        "check_in.match": "Verificarea ta cu fotografie a fost acceptată.",
        "check_in.no_match": "Sistemul nu a putut potrivi fotografia ta cu fotografia înregistrată. O persoană o va "
                             "verifica; nimic nu se întâmplă automat.",
        "check_in.near_threshold": "Sistemul nu a fost sigur de fotografia ta. O persoană o va verifica.",
        "check_in.failure_to_acquire": "Fotografia nu a putut fi folosită (de exemplu prea întunecată, neclară sau "
                                       "fără față).",
        "check_in.repeated_failure_to_acquire": "Mai multe fotografii nu au putut fi folosite. O persoană va "
                                                "verifica de ce.",
        "check_in.liveness_failed": "Sistemul nu a putut confirma o persoană reală în fața camerei. O persoană va "
                                    "verifica.",
        "check_in.missed": "Niciun răspuns nu a sosit înainte de termen. O persoană va verifica de ce; poți explica.",
        "check_in.reported_in_person": "Te-ai prezentat personal la un centru de raportare.",
        "check_in.withdrawn": "Această verificare a fost anulată (te prezinți personal).",
        "check_in.pending": "Se așteaptă răspunsul tău.",
        "alert.check_in_missed": "O verificare a fost ratată.",
        "alert.review_overdue": "Revizuirea trimestrială a ordinului tău este întârziată. Consilierul tău a fost "
                                "anunțat.",
        "alert.task_overdue": "Răspunsul la reprezentarea sau contestația ta este întârziat. Consilierul tău a "
                              "fost anunțat.",
        "alert.curfew_breach_started": "Se pare că ai fost departe de adresă în orele de restricție.",
        "alert.device_silent": "Dispozitivul tău a încetat să trimită date.",
        "status.open": "Încă neverificat", "status.acknowledged": "În verificare", "status.resolved": "Închis",
        "outcome.breach_confirmed": "S-a confirmat o încălcare", "outcome.device_fault": "A fost o defecțiune a "
                                                                                       "dispozitivului",
        "outcome.false_alarm": "A fost o alarmă falsă", "outcome.explained": "A fost explicat",
        "condition.curfew": "Restricție: stai la {zone} timp de {hours} ore de la ora {time} ({rule}).",
        "condition.zone.inclusion": "Rămâi în zona \"{name}\".",
        "condition.zone.exclusion": "Nu intra în zona \"{name}\".",
        "condition.check_in_policy": "Până la {n} verificări cu fotografie pe zi între {start} și {end}, fiecare "
                                     "cu răspuns în {minutes} minute.",
        "condition.in_person": "Prezintă-te personal la un centru de raportare în fiecare zi între {start} și {end}.",
        "rule.daily": "în fiecare zi", "rule.weekly": "în zilele {days}",
        "your_address": "adresa ta de restricție",
    },
}


def language_for(tag: str | None) -> str:
    """The language to show: the subject's own (BCP 47 primary subtag) where we have it, else English."""
    primary = (tag or "en").split("-")[0].lower()
    return primary if primary in LANGUAGES else "en"


def say(lang: str, key: str, **values: object) -> str:
    """The text for `key` in `lang`, falling back to English, then to the key itself."""
    text = TEXTS.get(lang, {}).get(key) or TEXTS["en"].get(key) or key
    try:
        return text.format(**values)
    except (KeyError, IndexError):
        return text
