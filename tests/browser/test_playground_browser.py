"""The playground (`GET /`) in a real headless Chromium against `hng serve`: generate, boxes, errors, links,
the dataset panel, the keyboard and a 360 px wide window."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import pytest

from hng.local import ServeProcess
from tests.support.browser import (
    SCREENSHOTS,
    StagePrefix,
    console_errors,
    make_driver,
    off_host,
    requested_urls,
    save_screenshot,
    wait_for,
)

pytestmark = pytest.mark.full_data


def loaded_images(driver) -> list[dict]:
    """The grid's images that finished loading: natural size, label, source."""
    return driver.execute_script(
        """return [...document.querySelectorAll('#grid img')].filter(i => i.complete && i.naturalWidth > 0)
             .map(i => ({w: i.naturalWidth, h: i.naturalHeight, label: i.dataset.label, src: i.src}))"""
    )


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def set_value(driver, element_id: str, value: str) -> None:
    element = by_id(driver, element_id)
    element.clear()
    if value:
        element.send_keys(value)


def natural_width(label: str, served: str, seed: int, preset: str) -> int:
    """The width the API gives this label, seed and preset with no width asked (through the API itself)."""
    body = {"number": label, "preset": preset, "seed": seed, "includeImage": False}
    request = urllib.request.Request(
        served + "generate",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)["image_width"]


def test_generate_six_mild_variants_boxes_errors_and_a_screenshot(served, browser):
    from selenium.webdriver.support.ui import Select

    browser.get(served)
    assert browser.title == "hng playground"
    set_value(browser, "number", "4096")
    Select(by_id(browser, "preset")).select_by_value("mild")
    set_value(browser, "count", "6")
    set_value(browser, "seed", "100")
    by_id(browser, "generate").click()

    wait_for(browser, lambda d: len(loaded_images(d)) == 6, message="6 images did not load")
    images = loaded_images(browser)
    expected = [natural_width("4096", served, 100 + k, "mild") for k in range(6)]
    assert [(i["w"], i["h"], i["label"]) for i in images] == [(w, 28, "4096") for w in expected]
    # The state is in the query string, so the link reproduces the view.
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query["number"] == ["4096"] and query["preset"] == ["mild"]
    assert query["count"] == ["6"] and query["seed"] == ["100"]

    # The images are the stored PNGs: white digits on black, the asked label's width.
    with urllib.request.urlopen(images[0]["src"], timeout=60) as answer:
        png = cv2.imdecode(np.frombuffer(answer.read(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert png.shape == (28, expected[0]) and png.dtype == np.uint8
    assert png[:, :2].max() == 0 and png.max() > 200

    boxes = browser.find_elements("css selector", "#grid .box")
    assert len(boxes) == 24 and not any(box.is_displayed() for box in boxes)
    by_id(browser, "boxes").click()
    assert all(box.is_displayed() for box in boxes)
    first_frame = browser.find_element("css selector", "#grid .frame").rect
    first_box = boxes[0].rect
    assert first_frame["x"] <= first_box["x"] < first_frame["x"] + first_frame["width"]
    assert first_box["height"] > 0.3 * first_frame["height"]

    # Masks: turning them on generates again with includeMask, and each card overlays its mask PNG.
    by_id(browser, "masks").click()
    wait_for(
        browser,
        lambda d: (
            d.execute_script(
                "return [...document.querySelectorAll('#grid img.mask')]"
                ".filter(i => i.complete && i.naturalWidth > 0).length"
            )
            == 6
        ),
        message="6 masks did not load",
    )
    masks = browser.find_elements("css selector", "#grid img.mask")
    assert all(mask.is_displayed() for mask in masks)
    assert parse_qs(urlsplit(browser.current_url).query)["masks"] == ["1"]
    with urllib.request.urlopen(masks[0].get_attribute("src"), timeout=60) as answer:
        mask = cv2.imdecode(np.frombuffer(answer.read(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert mask.shape == png.shape and sorted(np.unique(mask).tolist()) == [0, 1, 2, 3, 4]
    save_screenshot(browser, "playground-masks")

    assert console_errors(browser) == []
    assert off_host(requested_urls(browser)) == []
    shot = save_screenshot(browser, "playground")
    picture = cv2.imread(str(shot))
    assert picture is not None and picture.shape[1] >= 1000

    # Width 0: the API's message beside the width field, nothing else changed.
    set_value(browser, "image_width", "0")
    set_value(browser, "count", "1")
    by_id(browser, "generate").click()
    error = by_id(browser, "image_width-error")
    wait_for(browser, lambda d: error.is_displayed(), message="no error beside the width field")
    assert "greater than or equal to 1" in error.text
    assert by_id(browser, "image_width").get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == by_id(browser, "image_width")
    assert not by_id(browser, "number-error").is_displayed()
    assert not by_id(browser, "gen-alert").is_displayed()
    # The browser logs the 400 answer itself as a failed resource load; nothing else is an error.
    assert all("400 (Bad Request)" in entry["message"] for entry in console_errors(browser))


def test_a_link_with_state_generates_at_once_and_snippets_reproduce_the_image(served, browser):
    browser.get(
        served + "?number=007&preset=strong&count=3&seed=7&image_width=90&fit=pad&spacing_min=2&spacing_max=6"
    )
    wait_for(browser, lambda d: len(loaded_images(d)) == 3, message="the link did not generate")
    images = loaded_images(browser)
    assert [(i["w"], i["label"]) for i in images] == [(90, "007")] * 3
    assert by_id(browser, "fit").get_attribute("value") == "pad"

    browser.find_elements("css selector", "#grid .copy-curl")[1].click()
    snippet = by_id(browser, "snippet")
    wait_for(browser, lambda d: "curl" in snippet.text)
    body = json.loads(re.search(r"-d '(.*)'", snippet.text, re.S)[1])
    assert body == {
        "number": "007",
        "preset": "strong",
        "fit": "pad",
        "split": "train",
        "includeImage": False,
        "image_width": 90,
        "spacing_min": 2,
        "spacing_max": 6,
        "seed": 8,
    }
    assert f"'{served}generate'" in snippet.text
    # The snippet's request makes the very image shown: same pixels.
    request = urllib.request.Request(
        served + "generate", json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        again = json.load(answer)
    shown = decode(images[1]["src"])
    assert np.array_equal(decode(again["imageUrl"]), shown)

    browser.find_elements("css selector", "#grid .copy-python")[1].click()
    wait_for(browser, lambda d: "urllib.request" in snippet.text)
    python = snippet.text
    namespace: dict = {}
    exec(
        compile(
            python.replace('print(image["label"], image["seed"], image["imageUrl"])', ""), "snippet", "exec"
        ),
        namespace,
    )  # the snippet as a user would paste it (its print left out)
    assert namespace["image"]["seed"] == 8
    assert np.array_equal(decode(namespace["image"]["imageUrl"]), shown)
    assert console_errors(browser) == []


def decode(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return cv2.imdecode(np.frombuffer(answer.read(), np.uint8), cv2.IMREAD_UNCHANGED)


def test_keyboard_only_and_a_360_px_window(served, browser_binaries):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver = make_driver(browser_binaries)
    # A phone's viewport: a window cannot be made narrower than 500 px, so the viewport is emulated.
    phone = {"width": 360, "height": 780, "deviceScaleFactor": 1, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)
    try:
        driver.get(served)
        assert driver.execute_script("return window.innerWidth") == 360
        # Every input, select and button has a label a screen reader reads.
        unlabelled = driver.execute_script(
            """return [...document.querySelectorAll('input, select, button')]
                 .filter(e => !e.closest('[hidden]'))
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                 .filter(e => !e.textContent.trim())
                 .map(e => e.id || e.outerHTML)"""
        )
        assert unlabelled == []
        # Nothing wider than the window: no sideways scrolling at 360 px.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 360

        # Keyboard alone: tab to the number, type, tab through to Generate, press Enter.
        # From the top of the page: Tab passes the header's links, then reaches the number.
        for _ in range(10):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            if driver.switch_to.active_element.get_attribute("id") == "number":
                break
        assert driver.switch_to.active_element.get_attribute("id") == "number"
        actions = ActionChains(driver)
        actions.key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys("58")
        for _ in range(20):
            actions.send_keys(Keys.TAB)
            actions.perform()
            actions = ActionChains(driver)
            if driver.switch_to.active_element.get_attribute("id") == "generate":
                break
        assert driver.switch_to.active_element.get_attribute("id") == "generate"
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait_for(driver, lambda d: len(loaded_images(d)) == 6, message="Enter on Generate made no images")
        assert {i["label"] for i in loaded_images(driver)} == {"58"}
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 360
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**phone, "height": height})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / "playground-360px.png"))
        assert console_errors(driver) == []

        # The document look, opened with every field it can show, fits as well; style background with
        # no prefix: the API's message beside the prefix field.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)
        driver.get(served + "?number=58&count=1&style=background&ink=%23123456&image_encoding=jpeg")
        error = by_id(driver, "background-error")
        wait_for(driver, lambda d: error.is_displayed(), message="no error beside the background field")
        assert "required by style background" in error.text
        for field in ("background", "ink_colour", "jpeg_quality", "verify_labels"):
            assert by_id(driver, field).is_displayed(), field
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 360
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**phone, "height": height})
        driver.save_screenshot(str(SCREENSHOTS / "playground-looks-360px.png"))
    finally:
        driver.quit()


def test_dataset_panel_shows_progress_then_the_contact_sheet_and_manifest(served, browser):
    browser.get(served)
    set_value(browser, "ds-count", "120")
    set_value(browser, "ds-shard_size", "40")
    set_value(browser, "ds-digits", "3-4")
    set_value(browser, "ds-seed", "5")
    by_id(browser, "ds-start").click()
    status = by_id(browser, "ds-status")
    wait_for(browser, lambda d: "done, 3 of 3 shards" in status.text, timeout=300, message=status.text)
    assert by_id(browser, "ds-progress").get_attribute("value") == "3"
    sheet = by_id(browser, "ds-sheet")
    wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", sheet) > 0)
    manifest_link = browser.find_element("css selector", "#ds-links a")
    with urllib.request.urlopen(manifest_link.get_attribute("href"), timeout=60) as answer:
        manifest = json.load(answer)
    assert manifest["count"] == 120 if "count" in manifest else manifest["spec"]["count"] == 120
    assert console_errors(browser) == []
    save_screenshot(browser, "playground-dataset")

    # A refused spec: the message beside the field it names.
    set_value(browser, "ds-digits", "0")
    by_id(browser, "ds-start").click()
    error = by_id(browser, "ds-digits-error")
    wait_for(browser, lambda d: error.is_displayed(), message="no error beside the digits field")


@pytest.fixture(scope="module")
def served_without_data(tmp_path_factory):
    """`hng serve` whose MNIST data is missing (generation answers 503) and whose stack requires a key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HNG_BUCKET"}
    missing = tmp_path_factory.mktemp("no-data") / "mnist.npz"
    env.update(AWS_EC2_METADATA_DISABLED="true", HNG_MNIST_PATH=str(missing), HNG_API_KEY_REQUIRED="true")
    with ServeProcess(env=env) as proc:
        yield proc.url.rstrip("/") + "/"


def test_a_503_shows_the_apis_message_and_the_key_is_sent_and_kept_for_the_tab(served_without_data, browser):
    browser.get(served_without_data)
    key_field = by_id(browser, "apikey")
    assert key_field.is_displayed()  # the stack requires a key
    key_field.send_keys("k-123")
    requested_urls(browser)  # forget the page's own loads
    by_id(browser, "generate").click()
    alert = by_id(browser, "gen-alert")
    wait_for(browser, lambda d: alert.is_displayed(), message="no alert for the 503")
    assert alert.text.startswith("503: ") and "MNIST data is not available" in alert.text
    assert not browser.find_elements("css selector", "#grid img")
    sent = [
        json.loads(entry["message"])["message"]["params"]["request"]
        for entry in browser.get_log("performance")
        if json.loads(entry["message"])["message"]["method"] == "Network.requestWillBeSent"
    ]
    posts = [request for request in sent if request["method"] == "POST"]
    assert posts and all(request["headers"].get("x-api-key") == "k-123" for request in posts)
    storage = browser.execute_script(
        "return [sessionStorage.getItem('hng-api-key'), localStorage.length, document.cookie]"
    )
    assert storage == ["k-123", 0, ""]
    # sessionStorage lives as long as the tab: a reload keeps the key.
    browser.refresh()
    assert by_id(browser, "apikey").get_attribute("value") == "k-123"


@pytest.mark.parametrize("entry", ["", "/"])
def test_behind_a_stage_prefix_every_request_keeps_the_stage(served, browser, entry):
    """As API Gateway serves it: https://…/dev and https://…/dev/ are both the page (the stage's root)."""
    with StagePrefix(served) as stage:
        browser.get(stage.url.rstrip("/") + entry + "?number=31&count=2&seed=4")
        wait_for(browser, lambda d: len(loaded_images(d)) == 2, message="no images behind the stage")
        assert urlsplit(browser.current_url).path == "/dev/"  # the state is written under the stage
        for link in browser.find_elements("css selector", "header a"):
            assert urlsplit(link.get_attribute("href")).path in ("/dev/docs", "/dev/openapi.json")
        browser.find_element("css selector", "#grid .copy-curl").click()
        snippet = by_id(browser, "snippet")
        wait_for(browser, lambda d: "curl" in snippet.text)
        assert f"'{stage.url}generate'" in snippet.text
        assert console_errors(browser) == []
    api_paths = [path for path in stage.requested if not path.startswith(("/dev?", "/dev/?"))]
    assert api_paths and all(path.startswith("/dev/") for path in api_paths), stage.requested
    assert stage.requested.count("/dev/generate") == 2


def posted_bodies(driver) -> list[dict]:
    """The JSON bodies of the page's POST /generate requests since the performance log was last read."""
    bodies = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] != "Network.requestWillBeSent":
            continue
        request = message["params"]["request"]
        if request["method"] == "POST" and request["url"].endswith("/generate"):
            bodies.append(json.loads(request["postData"]))
    return bodies


def rendered(driver) -> list[dict]:
    """Each card as drawn: its frame, image, mask and boxes (CSS pixel rects), the image's natural size
    and URLs."""
    return driver.execute_script(
        """const rect = (e) => { const r = e.getBoundingClientRect();
                                 return {x: r.left, y: r.top, w: r.width, h: r.height}; };
           return [...document.querySelectorAll('#grid .frame')].map(f => {
             const img = f.querySelector('img:not(.mask)'), mask = f.querySelector('img.mask');
             return {frame: rect(f), image: rect(img), w: img.naturalWidth, h: img.naturalHeight,
                     src: img.src, mask: mask ? rect(mask) : null, maskSrc: mask ? mask.src : null,
                     link: f.closest('.card').querySelector('.row a').textContent,
                     boxes: [...f.querySelectorAll('.box')].map(b => ({digit: b.textContent, ...rect(b)}))};
           })"""
    )


def test_document_look_paper_48_rows_rotated_boxes_and_masks_on_the_ink_jpeg_and_a_bad_height(
    served, browser
):
    from selenium.webdriver.support.ui import Select

    browser.get(served)
    look = by_id(browser, "look")
    assert look.get_attribute("open") is None  # folded: the form looks as it did
    assert by_id(browser, "look-summary").text == "· mnist, 28 px"
    # Untouched, the form asks what it asked before the look existed: no new field in the body.
    set_value(browser, "number", "2026")
    set_value(browser, "count", "1")
    by_id(browser, "boxes").click()
    by_id(browser, "masks").click()
    browser.get_log("performance")
    by_id(browser, "generate").click()
    wait_for(browser, lambda d: len(loaded_images(d)) == 2, message="the plain image did not load")
    (plain,) = posted_bodies(browser)
    assert set(plain) == {"number", "preset", "fit", "split", "includeImage", "includeMask"} | {
        "spacing_min",
        "spacing_max",
    }

    browser.find_element("css selector", "#look summary").click()
    Select(by_id(browser, "style")).select_by_value("paper")
    set_value(browser, "height", "48")
    set_value(browser, "rotate", "4")
    set_value(browser, "count", "3")
    set_value(browser, "seed", "11")
    assert by_id(browser, "look-summary").text == "· style paper · height 48 · rotate 4"
    assert not by_id(browser, "background").is_displayed()  # only for style background
    browser.get_log("performance")
    by_id(browser, "generate").click()
    masks_loaded = (
        "return [...document.querySelectorAll('#grid img.mask')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )
    wait_for(browser, lambda d: len(loaded_images(d)) == 6, message="3 images and masks did not load")
    wait_for(browser, lambda d: d.execute_script(masks_loaded) == 3)
    bodies = posted_bodies(browser)
    assert sorted(b["seed"] for b in bodies) == [11, 12, 13]
    assert all(
        {k: b[k] for k in ("style", "height", "rotate", "includeMask")}
        == {"style": "paper", "height": 48, "rotate": 4, "includeMask": True}
        and not {"ink", "channels", "imageEncoding", "verifyLabels", "background"} & set(b)
        for b in bodies
    )

    for card in rendered(browser):
        image = decode(card["src"])
        mask = decode(card["maskSrc"])
        assert (card["h"], card["w"]) == image.shape[:2] and image.shape == (48, card["w"], 3)
        assert card["link"] == "PNG" and urlsplit(card["src"]).path.endswith(".png")
        # Drawn at the image's own aspect, the mask exactly over the image.
        shown = card["image"]
        assert shown["w"] / shown["h"] == pytest.approx(card["w"] / 48, rel=0.02)
        assert all(abs(card["mask"][k] - shown[k]) < 0.5 for k in ("x", "y", "w", "h"))
        # The mask is on the ink: dark pen where it is set, light paper around it.
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        assert mask.shape == grey.shape
        assert grey[mask > 0].mean() + 60 < grey[mask == 0].mean()
        # Each drawn box is the tight box of its digit's mask, mapped to the screen, inside the image.
        scale = shown["w"] / card["w"]
        assert len(card["boxes"]) == 4
        for k, box in enumerate(card["boxes"], start=1):
            ys, xs = np.nonzero(mask == k)
            x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
            assert box["digit"] == "2026"[k - 1]
            expected = {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0}
            for name, value in expected.items():
                origin = shown[name] if name in ("x", "y") else 0
                assert box[name] == pytest.approx(origin + value * scale, abs=1.0), (k, name)
            assert shown["x"] - 0.5 <= box["x"] and box["x"] + box["w"] <= shown["x"] + shown["w"] + 0.5
            assert shown["y"] - 0.5 <= box["y"] and box["y"] + box["h"] <= shown["y"] + shown["h"] + 0.5
    assert console_errors(browser) == []
    save_screenshot(browser, "playground-looks-masks")
    by_id(browser, "masks").click()  # off: the look itself, with its boxes
    save_screenshot(browser, "playground-looks")

    # JPEG: the stored image is a .jpg, still 48 rows of RGB, and the card says so.
    Select(by_id(browser, "image_encoding")).select_by_value("jpeg")
    set_value(browser, "jpeg_quality", "90")
    set_value(browser, "count", "1")
    browser.get_log("performance")
    by_id(browser, "generate").click()
    wait_for(
        browser,
        lambda d: [i["src"] for i in loaded_images(d) if urlsplit(i["src"]).path.endswith(".jpg")],
        message="no JPEG image",
    )
    (card,) = rendered(browser)
    assert card["link"] == "JPEG" and card["h"] == 48
    assert decode(card["src"]).shape == (48, card["w"], 3)
    (body,) = posted_bodies(browser)
    assert body["imageEncoding"] == "jpeg" and body["jpegQuality"] == 90
    assert console_errors(browser) == []

    # A height beyond the API's range, typed in: its message beside the height field.
    set_value(browser, "height", "300")
    by_id(browser, "generate").click()
    error = by_id(browser, "height-error")
    wait_for(browser, lambda d: error.is_displayed(), message="no error beside the height field")
    assert "less than or equal to 256" in error.text
    assert by_id(browser, "height").get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == by_id(browser, "height")
    assert not by_id(browser, "gen-alert").is_displayed()
    assert all("400 (Bad Request)" in entry["message"] for entry in console_errors(browser))


def test_a_link_with_a_look_opens_it_and_the_verify_labels_box_follows_the_api(served, browser):
    from hng.http.playground import verify_labels_offered

    browser.get(served + "?number=58&count=1&seed=3&style=ink&ink=%23b01010&height=40&shear=-5,5")
    wait_for(browser, lambda d: len(loaded_images(d)) == 1, message="the link did not generate")
    assert by_id(browser, "look").get_attribute("open") is not None
    assert by_id(browser, "ink").get_attribute("value") == "#"
    assert by_id(browser, "ink_colour").get_attribute("value") == "#b01010"
    (card,) = rendered(browser)
    image = decode(card["src"])
    assert image.shape == (40, card["w"], 3)
    blue, red = image[..., 0].astype(int), image[..., 2].astype(int)  # decoded as BGR
    inked = (red - blue) > 60  # the red ink, on white
    assert inked.sum() > 50 and (image[~inked].mean() > 200)
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query["ink"] == ["#b01010"] and query["shear"] == ["-5,5"] and "channels" not in query

    verify = by_id(browser, "verify_labels")
    if verify_labels_offered():
        verify.click()
        browser.get_log("performance")
        by_id(browser, "generate").click()
        wait_for(browser, lambda d: len(loaded_images(d)) == 1)
        assert [b.get("verifyLabels") for b in posted_bodies(browser)] == [True]
    else:
        # Not offered by this API: the box is disabled and says why; nothing is sent.
        assert not verify.is_enabled()
        label = browser.find_element("css selector", "label[for=verify_labels]")
        assert "does not take verifyLabels" in label.get_attribute("title")
    assert console_errors(browser) == []
