"""The Chinese catalogue is complete: no untranslated or fuzzy entries, placeholders kept."""
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES"


def _entries(path: Path):
    text = path.read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        if block.startswith("#~") or "msgid" not in block:
            continue
        fuzzy = re.search(r"^#,.*\bfuzzy\b", block, re.M) is not None
        block = "\n".join(line for line in block.splitlines() if not line.startswith("#"))
        msgid = "".join(re.findall(r'"(.*)"', block.split("msgstr")[0].split("msgid", 1)[1]))
        msgstr = "".join(re.findall(r'"(.*)"', block.split("msgstr", 1)[1]))
        yield msgid, msgstr, fuzzy


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
