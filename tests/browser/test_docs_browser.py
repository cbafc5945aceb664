"""The API docs (`GET /docs`) in a real headless Chromium against `hng serve`: Swagger UI lists every
documented operation with its example, "Try it out" reaches the API, under the page's Content-Security-Policy
(no console error) and with no request leaving 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from browser_helpers import console_errors, off_host, requested_urls, save_screenshot

from hng.api_models import TASK_EXAMPLE

pytestmark = pytest.mark.full_data

WAIT = 120  # seconds: a bounded wait that fails when the page hangs, not a speed target


def wait_for(driver: Any, condition: Any, message: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition, message)


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


def operation_block(driver: Any, method: str, path: str) -> Any:
    from selenium.webdriver.common.by import By

    for block in driver.find_elements(By.CSS_SELECTOR, f".opblock.opblock-{method.lower()}"):
        if block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path") == path:
            return block
    raise AssertionError(f"Swagger UI shows no {method} {path}")


def test_docs_list_every_route_with_examples_and_try_it_out_stays_local(served, browser):
    from selenium.webdriver.common.by import By

    documented = documented_operations(served)
    assert ("GET", "/generate/{task_id}") in documented and len(documented) >= 7

    browser.get(served + "docs")
    assert browser.title == "hng API docs"
    wait_for(
        browser,
        lambda d: len(rendered_operations(d)) >= len(documented),
        "Swagger UI did not render the operations",
    )
    assert rendered_operations(browser) == documented
    assert browser.find_elements(By.CSS_SELECTOR, ".info .title")[0].text.startswith("hng")
    assert not browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper")  # no "Errors" box: the doc parsed

    # GET /generate/{taskId}: its 200 answer shows TaskResponse's example.
    task = operation_block(browser, "GET", "/generate/{task_id}")
    task.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    wait_for(
        browser,
        lambda d: TASK_EXAMPLE["taskId"] in task.text and "metadata" in task.text,
        "the 200 example of GET /generate/{taskId} is not shown",
    )

    # "Try it out" on GET /health calls the API that served the page (the server the page sets).
    health = operation_block(browser, "GET", "/health")
    health.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    wait_for(browser, lambda d: health.find_elements(By.CSS_SELECTOR, ".try-out__btn"), "no Try it out")
    health.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    wait_for(browser, lambda d: health.find_elements(By.CSS_SELECTOR, ".execute"), "no Execute button")
    health.find_element(By.CSS_SELECTOR, ".execute").click()
    wait_for(
        browser,
        lambda d: any(
            cell.text.strip() == "200"
            for cell in health.find_elements(By.CSS_SELECTOR, ".live-responses-table .response-col_status")
        ),
        "Try it out on GET /health got no 200",
    )
    assert f"curl -X 'GET' \\\n  '{served}health'" in health.text  # served's own address

    save_screenshot(browser, "docs")
    assert console_errors(browser) == []  # script errors, CSP violations and failed loads are SEVERE
    urls = requested_urls(browser)
    assert any(url.endswith("/openapi.json") for url in urls)
    assert any("/docs/swagger-ui-bundle" in url for url in urls)
    assert off_host(urls) == []


def test_docs_with_a_trailing_slash_land_on_the_page(served, browser):
    browser.get(served + "docs/")
    assert browser.current_url == served + "docs"
    wait_for(browser, lambda d: rendered_operations(d), "Swagger UI did not render the operations")
    assert console_errors(browser) == []
    assert off_host(requested_urls(browser)) == []
