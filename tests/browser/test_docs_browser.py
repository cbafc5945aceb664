"""The API docs (`GET /docs`) in a real headless Chromium against `hng serve`: Swagger UI lists every
documented operation with its example and "Try it out" reaches the API, under the page's
Content-Security-Policy (no console error), with no request leaving 127.0.0.1, at the root as `hng serve`
serves it and behind a stage prefix as API Gateway serves it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from hng.service.models import TASK_EXAMPLE
from tests.support.browser import (
    StagePrefix,
    console_errors,
    off_host,
    requested_urls,
    save_screenshot,
    wait_for,
)

pytestmark = pytest.mark.full_data

LIVE_STATUS = ".live-responses-table tr.response .response-col_status"  # the status of Try it out's answer


def documented_operations(served: str) -> set[tuple[str, str]]:
    with urllib.request.urlopen(served + "openapi.json", timeout=60) as answer:
        document = json.load(answer)
    return {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}


def rendered_operations(driver: Any) -> set[tuple[str, str]]:
    rows = driver.execute_script(
        """return [...document.querySelectorAll('.opblock')].map(block => [
             block.querySelector('.opblock-summary-method')?.textContent.trim(),
             block.querySelector('.opblock-summary-path')?.getAttribute('data-path')])"""
    )
    return {(method, path) for method, path in rows}


def wait_for_operations(driver: Any, documented: set[tuple[str, str]]) -> None:
    wait_for(
        driver,
        lambda d: len(rendered_operations(d)) >= len(documented),
        "Swagger UI did not render the operations",
    )
    assert rendered_operations(driver) == documented


def operation_block(driver: Any, method: str, path: str) -> Any:
    from selenium.webdriver.common.by import By

    for block in driver.find_elements(By.CSS_SELECTOR, f".opblock.opblock-{method.lower()}"):
        if block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path") == path:
            return block
    raise AssertionError(f"Swagger UI shows no {method} {path}")


def expand(driver: Any, method: str, path: str) -> Any:
    from selenium.webdriver.common.by import By

    block = operation_block(driver, method, path)
    block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    return block


def try_it_out(driver: Any, method: str, path: str) -> Any:
    """Expand the operation, press "Try it out" and "Execute", wait for its live response: the block."""
    from selenium.webdriver.common.by import By

    block = expand(driver, method, path)
    for button in (".try-out__btn", ".execute"):
        wait_for(driver, lambda d, b=button: block.find_elements(By.CSS_SELECTOR, b), f"no {button}")
        block.find_element(By.CSS_SELECTOR, button).click()
    wait_for(
        driver,
        lambda d: block.find_elements(By.CSS_SELECTOR, LIVE_STATUS),
        f"Try it out on {method} {path} got no answer",
    )
    return block


def live_status(block: Any) -> str:
    from selenium.webdriver.common.by import By

    cells = block.find_elements(By.CSS_SELECTOR, LIVE_STATUS)
    return cells[0].text.strip()


def test_docs_list_every_route_with_examples_and_try_it_out_stays_local(served, browser):
    from selenium.webdriver.common.by import By

    documented = documented_operations(served)
    assert ("GET", "/generate/{task_id}") in documented and len(documented) >= 7

    browser.get(served + "docs")
    assert browser.title == "hng API docs"
    wait_for_operations(browser, documented)
    assert browser.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("hng")
    assert not browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper")  # no "Errors" box: the doc parsed

    # GET /generate/{taskId}: its 200 answer shows TaskResponse's example.
    task = expand(browser, "GET", "/generate/{task_id}")
    wait_for(
        browser,
        lambda d: TASK_EXAMPLE["taskId"] in task.text and "metadata" in task.text,
        "the 200 example of GET /generate/{taskId} is not shown",
    )

    # "Try it out" calls the API that served the page (the server the page sets in the document).
    health = try_it_out(browser, "GET", "/health")
    assert live_status(health) == "200"
    assert f"curl -X 'GET' \\\n  '{served}health'" in health.text

    save_screenshot(browser, "docs")
    assert console_errors(browser) == []  # script errors, CSP violations and failed loads are SEVERE
    urls = requested_urls(browser)
    assert any(url.endswith("/openapi.json") for url in urls)
    assert any("/docs/swagger-ui-bundle" in url for url in urls)
    assert off_host(urls) == []


def test_docs_behind_a_stage_prefix_keep_it_for_assets_the_document_and_try_it_out(served, browser):
    documented = documented_operations(served)
    with StagePrefix(served) as stage:
        browser.get(stage.url + "docs/")  # the trailing slash redirects, relatively, to the page
        assert browser.current_url == stage.url + "docs"
        wait_for_operations(browser, documented)
        health = try_it_out(browser, "GET", "/health")
        assert live_status(health) == "200"
        assert console_errors(browser) == []
        assert off_host(requested_urls(browser)) == []
    # Every request of the page went through the stage: the page, its assets, the document and /health.
    assert all(path.startswith("/dev/") for path in stage.requested), stage.requested
    assert {"/dev/docs/", "/dev/docs", "/dev/openapi.json", "/dev/health"} <= set(stage.requested)
