"""The privacy notice (what is collected, why, for how long, who it is shared with), per language.

The texts live beside this module as JSON, one file per language, with the same section ids; a
test holds every translation to the English sections."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from custodes.subject_access.texts import LANGUAGES, language_for

_FOLDER = Path(__file__).with_name("notices")


@cache
def notice(lang: str) -> dict[str, Any]:
    """The notice in `lang` (a BCP 47 tag is fine), English where that language is not available."""
    code = language_for(lang)
    return json.loads((_FOLDER / f"{code}.json").read_text(encoding="utf-8"))


def available() -> tuple[str, ...]:
    return LANGUAGES
