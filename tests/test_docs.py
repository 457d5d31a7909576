"""Every reference in the README and docs/ resolves: links, and the repository paths they name in backticks."""

import re

import pytest

from tests.conftest import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
#: A repository path in backticks, e.g. `keras_nmf/layers/cnmf2d.py` or `tests/backend/`.
PATH = re.compile(r"`((?:keras_nmf|tests|scripts|docs|tuning|examples)/[A-Za-z0-9_./-]+)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=[str(doc.relative_to(REPO_ROOT)) for doc in DOCS])
def test_every_reference_of_a_document_resolves(doc):
    text = doc.read_text()
    missing = [f"link {target}" for target in LINK.findall(text)
               if not re.match(r"^[a-z]+://", target) and not (doc.parent / target).exists()]
    missing += [f"path {target}" for target in PATH.findall(text) if not (REPO_ROOT / target).exists()]
    # Files of the workplace beside the repository are not part of a user's checkout.
    missing += [f"workplace file {name}" for name in re.findall(r"\b(PAPER\.md|STYLE\.md)\b", text)]
    assert not missing, f"{doc.relative_to(REPO_ROOT)} names what a checkout does not have: {missing}"
