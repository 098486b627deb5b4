"""The Chinese catalogue is complete: no untranslated or fuzzy entries, placeholders kept."""
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES"


def _quoted(text: str) -> str:
    return "".join(re.findall(r'"(.*)"', text))


def _entries(path: Path):
    """(msgid, msgstr, fuzzy) per entry; for a plural entry the msgid is the plural form and the msgstr
    the one form Chinese has."""
    text = path.read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        if block.startswith("#~") or "msgid" not in block:
            continue
        fuzzy = re.search(r"^#,.*\bfuzzy\b", block, re.M) is not None
        block = "\n".join(line for line in block.splitlines() if not line.startswith("#"))
        head, _sep, translation = block.partition("msgstr")
        singular, _sep, plural = head.split("msgid", 1)[1].partition("msgid_plural")
        yield _quoted(plural or singular), _quoted(translation), fuzzy


@pytest.mark.parametrize("name", ["django.po", "djangojs.po"])
def test_catalogue_is_complete(name):
    problems = []
    for msgid, msgstr, fuzzy in _entries(LOCALE / name):
        if not msgid:
            continue  # header
        if fuzzy or not msgstr:
            problems.append(msgid)
        elif sorted(re.findall(r"%\(\w+\)[.0-9]*[sdf]", msgid)) != sorted(re.findall(r"%\(\w+\)[.0-9]*[sdf]", msgstr)):
            problems.append(f"placeholders differ: {msgid}")
    assert not problems, problems
    assert (LOCALE / name.replace(".po", ".mo")).stat().st_mtime >= (LOCALE / name).stat().st_mtime - 5


ROOT = LOCALE.parents[2]
SOURCE_DIRS = ["portal", "accounts", "audit", "devices", "health", "federation", "lending", "templates"]
# Simple literals only (what xgettext would surely extract); a literal with an escaped quote is skipped.
PYTHON_CALL = re.compile(r"""\b(?:_|gettext|gettext_lazy|pgettext_lazy\("[^"]*",\s*)\(\s*"((?:[^"\\\n]|\\[^"])*)"\s*[,)]""")
TEMPLATE_TAG = re.compile(r"""{%\s*(?:translate|trans)\s+"([^"\n]*)"(?:\s+(?:as\s+\w+|noop))*\s*%}""")
JS_CALL = re.compile(r"""\b(?:t|gettext)\(\s*"((?:[^"\\\n]|\\[^"])*)"\s*\)""")


def _catalogue_ids(name: str) -> set[str]:
    return {msgid.replace('\\"', '"') for msgid, _msgstr, _fuzzy in _entries(LOCALE / name)}


def _literals(pattern, suffixes, dirs) -> dict[str, str]:
    found = {}
    for folder in dirs:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in suffixes or "migrations" in path.parts:
                continue
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                found.setdefault(match.group(1).replace('\\"', '"').replace("\\n", "\n"),
                                 str(path.relative_to(ROOT)))
    return found


def test_every_marked_string_is_in_the_catalogue():
    """Strings marked for translation in the code but missing from the Chinese catalogue would show in
    English: ``manage.py makemessages -l zh_Hans`` (and ``-d djangojs``) must have been run and filled."""
    ids = _catalogue_ids("django.po")
    marked = _literals(PYTHON_CALL, {".py"}, SOURCE_DIRS)
    # makemessages escapes a template string's "%" as "%%" (the tag formats it)
    marked |= {text.replace("%", "%%"): where
               for text, where in _literals(TEMPLATE_TAG, {".html", ".txt"}, SOURCE_DIRS).items()}
    missing = {text: where for text, where in marked.items() if text and text not in ids}
    assert not missing, missing
    js_ids = _catalogue_ids("djangojs.po")
    js_missing = {text: where for text, where in _literals(JS_CALL, {".js"}, ["static/js"]).items()
                  if text not in js_ids}
    assert not js_missing, js_missing


def test_amounts_are_grouped_by_thousands_in_both_languages():
    from django.utils import translation

    from lending.templatetags.lending_format import money

    for language in ("en", "zh-hans"):
        with translation.override(language):
            assert money("9000000.00") == "9,000,000", language
