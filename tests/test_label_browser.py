"""`kavan label` in Debian's headless Chromium, driven by Selenium: give a name, answer 20 questions by clicking and
by keyboard, undo one, reload, and check votes.csv and what the page shows.

With KAVAN_LABEL_SCREENSHOT=PATH the page is saved there as a PNG (docs/labelling-page.png is made so)."""

from __future__ import annotations

import csv
import os

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from helpers.headless_chromium import BROWSER_TESTS, chromium
from helpers.web_server import running
from kavan.core.issues import IssueLog
from kavan.labels.ratings import parse_votes
from kavan.labels.vote_log import VOTE_LOG_COLUMNS
from kavan.serve.label_app import LabelSettings
from kavan.serve.label_web import make_label_server

pytestmark = BROWSER_TESTS

# how each of the 20 questions is answered: a button's id, or a key sent to the page
ANSWERS = ["vote-a", Keys.ARROW_LEFT, "vote-b", Keys.ARROW_RIGHT, "vote-neither", Keys.ARROW_DOWN, "1", "2", "3",
           "vote-a"] * 2
WINNERS = {"vote-a": "a", Keys.ARROW_LEFT: "a", "1": "a", "vote-b": "b", Keys.ARROW_RIGHT: "b", "2": "b",
           "vote-neither": "neither", Keys.ARROW_DOWN: "neither", "3": "neither"}


@pytest.fixture
def served(synth16_copy):
    (synth16_copy / "votes.csv").unlink()  # SynthGIF's simulated votes: label from nothing
    server = make_label_server(synth16_copy, LabelSettings(port=0))
    with running(server):
        yield server, synth16_copy


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "profile", 1100, 760)
    yield driver
    driver.quit()


def pair(driver) -> dict[str, str]:
    element = driver.find_element(By.ID, "pair")
    return {key: element.get_attribute(f"data-{key}") for key in ("ticket", "gif-a", "gif-b", "emotion")}


def wait_for(driver, votes: int, not_ticket: str | None = None) -> None:
    """Until the page shows ``votes`` votes and a question other than ``not_ticket``, its GIFs loaded."""
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-votes") == str(votes)
        and pair(d)["ticket"] and pair(d)["ticket"] != not_ticket
        and d.execute_script("return [...document.querySelectorAll('#pair img')].every("
                             "(i) => i.complete && i.naturalWidth > 0)"))


def test_answer_twenty_undo_one_and_reload(served, browser):
    server, root = served
    browser.get(server.url)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "name-form").is_displayed())
    browser.find_element(By.ID, "name").send_keys("tess <b>&amp;</b>")  # escaped as text, never read as HTML
    browser.find_element(By.CSS_SELECTOR, "#name-form button").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    wait_for(browser, 0)
    assert browser.find_element(By.ID, "annotator").text == "tess <b>&amp;</b>"
    assert "← 1" in browser.find_element(By.ID, "vote-a").text  # the shortcuts are on the page
    asked = []
    for k, answer in enumerate(ANSWERS):
        shown = pair(browser)
        assert browser.find_element(By.ID, "emotion").text == shown["emotion"]
        asked.append((shown["gif-a"], shown["gif-b"], shown["emotion"], WINNERS[answer]))
        if answer.startswith("vote-"):
            browser.find_element(By.ID, answer).click()
        else:
            browser.find_element(By.TAG_NAME, "body").send_keys(answer)
        wait_for(browser, k + 1, not_ticket=shown["ticket"])
    uncertainty = float(browser.find_element(By.ID, "uncertainty").text)
    assert 0 < uncertainty < 1

    before = pair(browser)
    browser.find_element(By.TAG_NAME, "body").send_keys("u")
    wait_for(browser, 19, not_ticket=before["ticket"])
    undone = pair(browser)
    assert (undone["gif-a"], undone["gif-b"], undone["emotion"]) == asked[-1][:3]  # asked again

    browser.refresh()
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    wait_for(browser, 19)
    assert pair(browser)["ticket"] == undone["ticket"]  # the tab resumed on its question
    assert browser.find_element(By.ID, "votes").text == "19"
    assert browser.find_element(By.ID, "mine").text == "19"
    assert not browser.find_element(By.ID, "name-form").is_displayed()  # the name was kept
    assert not browser.find_element(By.ID, "error").is_displayed()
    if os.environ.get("KAVAN_LABEL_SCREENSHOT"):
        browser.save_screenshot(os.environ["KAVAN_LABEL_SCREENSHOT"])

    with open(root / "votes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(VOTE_LOG_COLUMNS)
    assert [(r["gif_a"], r["gif_b"], r["emotion"], r["winner"]) for r in rows] == asked[:19]
    assert {r["annotator"] for r in rows} == {"tess <b>&amp;</b>"}
    issues = IssueLog()
    assert len(parse_votes(root / "votes.csv", issues)) == 19 and not issues.issues

    # the tab remembers its own votes across the reload: undo takes back the one before, and asks it again
    before = pair(browser)
    browser.find_element(By.TAG_NAME, "body").send_keys("u")
    wait_for(browser, 18, not_ticket=before["ticket"])
    again = pair(browser)
    assert (again["gif-a"], again["gif-b"], again["emotion"]) == asked[-2][:3]
    assert len(parse_votes(root / "votes.csv", IssueLog())) == 18


def test_a_second_tab_cannot_undo_the_first_tabs_votes(served, browser):
    server, root = served
    browser.get(server.url)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "name-form").is_displayed())
    browser.find_element(By.ID, "name").send_keys("tess")
    browser.find_element(By.CSS_SELECTOR, "#name-form button").click()
    wait_for(browser, 0)
    shown = pair(browser)
    browser.find_element(By.ID, "vote-a").click()
    wait_for(browser, 1, not_ticket=shown["ticket"])
    browser.switch_to.new_window("tab")  # same browser, same name (localStorage), its own session
    browser.get(server.url)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    wait_for(browser, 1)
    browser.find_element(By.TAG_NAME, "body").send_keys("u")
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "no vote to undo" in browser.find_element(By.ID, "error").text
    assert len(parse_votes(root / "votes.csv", IssueLog())) == 1
