"""The README and docs/: every reference resolves (links, the repository paths they name), and they speak of the package."""

import dataclasses
import re

import pytest

from keras_nmf.nmf_arguments import NMFOptions
from tests.conftest import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
#: A repository path in backticks, e.g. `keras_nmf/layers/cnmf2d.py` or `tests/backend/`.
PATH = re.compile(r"`((?:keras_nmf|tests|scripts|docs|tuning|examples)/[A-Za-z0-9_./-]+)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=[str(doc.relative_to(REPO_ROOT)) for doc in DOCS])
def test_every_reference_of_a_document_resolves(doc):
    text = doc.read_text()
    missing = [
        f"link {target}"
        for target in LINK.findall(text)
        if not re.match(r"^[a-z]+://", target) and not (doc.parent / target).exists()
    ]
    missing += [f"path {target}" for target in PATH.findall(text) if not (REPO_ROOT / target).exists()]
    # Files of the workplace beside the repository are not part of a user's checkout.
    missing += [f"workplace file {name}" for name in re.findall(r"\b(PAPER\.md|STYLE\.md)\b", text)]
    assert not missing, f"{doc.relative_to(REPO_ROOT)} names what a checkout does not have: {missing}"


HISTORY = re.compile(r"\bissue #\d+|\b(?:this|previous|last|earlier) session\b|\bstop \d+\b", re.IGNORECASE)


@pytest.mark.parametrize("doc", [doc for doc in DOCS if "experiments" not in doc.parts], ids=lambda doc: doc.name)
def test_the_docs_speak_of_the_package_not_its_history(doc):
    """Issue numbers and work sessions mean nothing to a user (experiment records may say when they ran)."""
    assert not HISTORY.findall(doc.read_text()), doc


def test_the_options_table_names_every_nmf_option_with_its_default():
    """docs/nmf_options.md's table is where a user reads the options: a new field of NMFOptions, or a changed default,
    fails here until the table says it."""
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", (REPO_ROOT / "docs" / "nmf_options.md").read_text(), re.MULTILINE)
    table = {name: default.strip().strip("`") for name, default in rows}
    for field in dataclasses.fields(NMFOptions):
        shown = f'"{field.default}"' if isinstance(field.default, str) else str(field.default)
        assert table.get(field.name) == shown, (
            f"docs/nmf_options.md: `{field.name}` | {shown} | ... (got {table.get(field.name)!r})"
        )
