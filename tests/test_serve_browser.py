"""`kavan serve` end to end in Debian's headless Chromium, driven by Selenium: upload real GIFs and bad files
through the page's file input and check what the page shows."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import kavan
from helpers.headless_chromium import BROWSER_TESTS, chromium
from helpers.web_server import running
from kavan.core.emotions import EMOTIONS
from kavan.serve import ServeSettings, make_server

LIMIT = 1_000_000  # a-bold-claim.gif (3.0 MB) is over it, cool.gif (0.2 MB) under

pytestmark = BROWSER_TESTS


@pytest.fixture
def served(tiny_model):
    predictor = kavan.load(tiny_model, "cpu")
    server = make_server(predictor, ServeSettings(port=0, max_upload_bytes=LIMIT))
    with running(server):
        yield server, predictor


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "profile", 1280, 900)
    yield driver
    driver.quit()


def choose(driver, path: Path) -> None:
    driver.find_element(By.ID, "file").send_keys(str(path))


def wait_for_result(driver, name: str) -> None:
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.ID, "result").is_displayed()
        and d.find_element(By.ID, "result").get_attribute("data-file") == name
        and d.execute_script("const i = document.getElementById('overlay'); return i.complete && i.naturalWidth > 0"))


def wait_for_error(driver, start: str) -> str:
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.ID, "error").is_displayed()
        and d.find_element(By.ID, "error").text.startswith(start))
    return driver.find_element(By.ID, "error").text


def check_result(driver, predictor, path: Path) -> None:
    expected = predictor.predict(path)
    overlay = driver.find_element(By.ID, "overlay")
    src = overlay.get_attribute("src")
    assert src.startswith("data:image/gif;base64,")
    with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
        assert image.is_animated and image.n_frames > 1
        assert driver.execute_script("return document.getElementById('overlay').naturalWidth") == image.size[0]
    bars = driver.find_elements(By.CSS_SELECTOR, "#bars .bar")
    assert [bar.get_attribute("data-emotion") for bar in bars] == list(EMOTIONS)
    for bar in bars:
        emotion = bar.get_attribute("data-emotion")
        assert float(bar.get_attribute("data-value")) == expected.emotions[emotion]
        assert bar.find_element(By.CLASS_NAME, "value").text == f"{expected.emotions[emotion]:.3f}"
    assert driver.find_element(By.ID, "quadrant").text == expected.quadrant.label
    assert not driver.find_element(By.ID, "error").is_displayed()


def test_upload_real_gifs_and_bad_files_through_the_page(served, browser, real_gifs, tmp_path):
    server, predictor = served
    browser.get(server.url)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    assert "SynthGIF" in browser.find_element(By.ID, "notice").text
    assert browser.find_element(By.ID, "limits").text == "GIF, MP4, WebM, PNG or JPEG, up to 1.0 MB"

    choose(browser, real_gifs / "cool.gif")
    wait_for_result(browser, "cool.gif")
    check_result(browser, predictor, real_gifs / "cool.gif")
    browser.save_screenshot(str(tmp_path / "page.png"))

    text_file = tmp_path / "notes.gif"
    text_file.write_text("a text file renamed .gif\n")
    choose(browser, text_file)
    assert wait_for_error(browser, "notes.gif: ").startswith("notes.gif: unrecognised content")
    assert not browser.find_element(By.ID, "result").is_displayed()

    choose(browser, real_gifs / "a-bold-claim.gif")  # 3.0 MB
    assert wait_for_error(browser, "a-bold-claim.gif") == "a-bold-claim.gif: 3.0 MB is over the upload limit of 1.0 MB"

    choose(browser, real_gifs / "rainbow-vomit.gif")  # a following good upload still works
    wait_for_result(browser, "rainbow-vomit.gif")
    check_result(browser, predictor, real_gifs / "rainbow-vomit.gif")
