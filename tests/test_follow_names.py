"""Following authors whose names arXiv writes in LaTeX, with apostrophes, or with invisible
characters, through a real running server on SQLite and PostgreSQL: the follow button
shows and sends the readable name, and every spelling of one name (LaTeX, Unicode,
without accents) is one follow that finds the same papers."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date

import pytest

from paperwire.config import Settings
from paperwire.service import Service
from webkit import Live, listed_paper, live_server, signed_in

DAY = date(2025, 6, 2)
JSON = {"accept": "application/json"}
# (name as arXiv metadata writes it, as it reads) -- Bal\'azs and Nguy\~ên are real
# records' (the Kaggle snapshot's 0704.0001, the daily file's)
NAMES = [
    ('Petter T\\"ornberg', "Petter Törnberg"),
    ('Bernhard Sch{\\"o}lkopf', "Bernhard Schölkopf"),
    ("Paul Erd\\H{o}s", "Paul Erdős"),
    ("C. Bal\\'azs", "C. Balázs"),
    ("Thanh Nguy\\~ên", "Thanh Nguyễn"),
    ("Pat O'Brien", "Pat O'Brien"),
    ("Luca D'Incà", "Luca D'Incà"),
    ("\u202aAnn\u200b Lee\u202c", "Ann Lee"),  # bidi embedding, zero-width space
    ('Dwayne "The Rock" Johnson', 'Dwayne "The Rock" Johnson'),  # quotes in the phrase
    ("Peter St\\ütz", "Peter St\\ütz"),  # a real record's: a backslash LaTeX does not read
]
PAPERS = [
    listed_paper(n, f"Paper number {n} on topic {n}", [written, "Co Author"], DAY)
    for n, (written, _) in enumerate(NAMES, 1)
]


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with Service(settings) as service:
        service.store.upsert_papers(PAPERS)
        service.rebuild_index()  # the followed-authors page searches the index
    with live_server(settings) as running:
        yield running


def follow_button(page: str, name: str) -> tuple[str, str] | None:
    """(follow or unfollow, aria-pressed) of the button sending `name`, if the page has one."""
    buttons = re.findall(r'name="(follow|unfollow)" value="([^"]*)" aria-pressed="(\w+)"', page)
    return next(((act, on) for act, value, on in buttons if html.unescape(value) == name), None)


def test_the_follow_button_sends_the_readable_name_and_follows_that_author(live: Live) -> None:
    client, token, _ = signed_in(live, "fan@example.org")
    for paper, (written, readable) in zip(PAPERS, NAMES, strict=True):
        url = f"/papers/{paper.arxiv_id}"
        page = client.get(url).text
        button = follow_button(page, readable)
        assert button is not None and button == ("follow", "false"), readable
        authors = page.split('<form class="authors"', 1)[1].split("</form>", 1)[0]
        assert written == readable or written not in html.unescape(authors)  # no raw LaTeX
        done = client.post(
            "/follow", data={"csrf_token": token, "follow": readable}, headers=JSON
        ).json()
        assert done == {"name": readable, "following": True}
        pressed = follow_button(client.get(url).text, readable)
        assert pressed is not None and pressed == ("unfollow", "true"), readable
    assert client.get("/api/v1/follows").json() == [r for _, r in NAMES]
    found = client.get("/api/v1/follows/papers", params={"days": 7}).json()
    assert [(f["name"], [p["arxiv_id"] for p in f["papers"]]) for f in found] == [
        (readable, [paper.arxiv_id]) for paper, (_, readable) in zip(PAPERS, NAMES, strict=True)
    ]
    page = client.get("/following").text
    assert all(f"Paper number {n} on topic" in page for n in range(1, len(NAMES) + 1))
    client.close()


def test_every_spelling_of_a_name_is_one_follow_finding_the_same_papers(live: Live) -> None:
    client, token, _ = signed_in(live, "typist@example.org")
    typed = [
        ('Petter T\\"ornberg', "Petter Törnberg"),  # LaTeX, as the API may send it
        ("petter tornberg", None),  # the same person: not followed twice
        ("PETTER  TÖRNBERG", None),
        ("Bernhard Schölkopf", "Bernhard Schölkopf"),
        ("paul erdos", "paul erdos"),
        ("Pat O’Brien", "Pat O’Brien"),  # a typographic apostrophe
        ("luca d'inca", "luca d'inca"),
        ("Ann Lee", "Ann Lee"),
        ("Ann\u2060 Lee", None),  # a word joiner in it: the same name
    ]
    for name, _ in typed:
        answer = client.post(
            "/api/v1/follows", json={"name": name}, headers={"x-csrf-token": token}
        )
        assert answer.status_code == 200, (name, answer.text)
    wanted = [stored for _, stored in typed if stored]
    assert client.get("/api/v1/follows").json() == wanted
    found = client.get("/api/v1/follows/papers", params={"days": 7}).json()
    by_name = {f["name"]: [p["arxiv_id"] for p in f["papers"]] for f in found}
    assert by_name == {
        "Petter Törnberg": ["2506.00001"],
        "Bernhard Schölkopf": ["2506.00002"],
        "paul erdos": ["2506.00003"],
        "Pat O’Brien": ["2506.00006"],
        "luca d'inca": ["2506.00007"],
        "Ann Lee": ["2506.00008"],
    }
    # the paper pages show them followed, whichever spelling was typed
    page = client.get("/papers/2506.00001").text
    button = follow_button(page, "Petter Törnberg")
    assert button is not None and button == ("unfollow", "true")
    gone = client.post(
        "/follow", data={"csrf_token": token, "unfollow": 'Petter T\\"ornberg'}, headers=JSON
    )
    assert gone.json()["following"] is False
    assert "Petter Törnberg" not in client.get("/api/v1/follows").json()
    client.close()
