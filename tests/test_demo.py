"""The web demo: its JSON API in-process, and the page in a real (headless) Chromium."""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from seedembed.cli import main
from seedembed.demo import DemoApp, start_server

pytestmark = pytest.mark.usefixtures("one_thread")
DIGIT = Path("examples/digit-7-test00000.png")
#: set to a path to keep the page's screenshot (the README's is made this way)
SCREENSHOT_ENV = "SEEDEMBED_DEMO_SCREENSHOT"


@pytest.fixture(scope="module")
def url():
    server, _ = start_server(DemoApp(), port=0, quiet=True)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _post(url: str, path: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_encode_then_decode_through_the_api(url):
    with urllib.request.urlopen(url + "/api/models") as res:
        models = json.loads(res.read())
    assert models["default"] == "mnist-524287"
    assert {m["name"] for m in models["models"]} >= {"mnist-524287", "mnist-5101"}
    status, r = _post(
        url, "/api/encode", {"image": "data:image/png;base64," + _b64(DIGIT.read_bytes())}
    )
    assert status == 200 and r["bits"] == 19 and len(r["seeds"]) == 1
    assert r["hex"][0] == f"{r['seeds'][0]:#07x}" and r["ssim"] > 0.7
    assert r["reconstruction"].startswith("data:image/png;base64,")
    status, d = _post(url, "/api/decode", {"seedfile": r["seedfile"]})
    assert status == 200 and d["model"] == "mnist-524287" and d["count"] == 1
    assert d["images"][0] == r["reconstruction"]  # the file decodes to what the page showed
    status, c = _post(url, "/api/encode", {"image": _b64(DIGIT.read_bytes()), "compose": 3})
    assert status == 200 and c["bits"] == 3 * (19 + 8) + 16 and len(c["weights"]) == 3


def test_the_seed_explorer_walks_neighbouring_seeds(url):
    status, r = _post(url, "/api/seeds", {"start": 524283, "count": 9})
    assert status == 200 and r["seeds"] == [524283, 524284, 524285, 524286]
    assert len(r["images"]) == 4 and r["size"] == 524287


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/encode", {"image": _b64(b"not an image")}, 400, "not a readable image"),
        ("/api/encode", {"image": "%%%"}, 400, "not valid base64"),
        ("/api/encode", {}, 400, "no image given"),
        ("/api/encode", {"image": "A" * (12 * 2**20)}, 413, "larger than"),
        ("/api/encode", {"image": _b64(DIGIT.read_bytes()), "model": "x"}, 400, "unknown model"),
        ("/api/encode", {"image": _b64(DIGIT.read_bytes()), "compose": 0}, 400, "compose must"),
        ("/api/encode", {"image": _b64(DIGIT.read_bytes()), "search": "psychic"}, 400, "unknown"),
        ("/api/decode", {"seedfile": _b64(b"SEEDEMB1" + bytes(80))}, 400, ".seed"),
        ("/api/seeds", {"start": -1}, 400, "outside the seed space"),
        ("/api/seeds", {"start": 0, "count": 10_000}, 400, "count must be"),
        ("/api/encode", b"{not json", 400, "not JSON"),
        ("/api/nothing", {}, 404, "no such endpoint"),
    ],
)
def test_bad_input_is_one_message_and_the_server_keeps_serving(url, path, body, status, message):
    got, r = _post(url, path, body)
    assert got == status and message in r["error"] and "Traceback" not in r["error"]
    with urllib.request.urlopen(url + "/api/models") as res:  # still serving
        assert res.status == 200


def test_a_seed_file_of_another_model_is_refused(url):
    from seedembed.codec import Encoding

    other = Encoding(torch.tensor([[3]]), "ab" * 32, "lcg-524287", (1, 28, 28), 19)
    status, r = _post(url, "/api/decode", {"seedfile": _b64(other.to_bytes())})
    assert status == 400 and "not a shipped model" in r["error"]


def test_cli_demo_refuses_bad_arguments(capsys):
    assert main(["demo", "--model", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["demo", "--port", "70000"]) == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_in_a_real_browser(url, tmp_path):
    """Headless Chromium: load the page, upload a test digit, see a seed and a reconstruction;
    upload garbage, see a message; the screenshot goes into the README."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if _chromium() is None or shutil.which("chromedriver") is None:
        pytest.skip(
            "Chromium or chromedriver is absent (Debian: apt install chromium chromium-driver)"
        )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = _chromium()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1250,1330"):
        opts.add_argument(arg)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=opts, service=service)
    try:
        driver.get(url + "/")
        wait = WebDriverWait(driver, 60)
        wait.until(
            lambda d: d.find_element(By.ID, "model").get_attribute("value") == "mnist-524287"
        )
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#strip img")) == 9)
        driver.find_element(By.ID, "upload").send_keys(str(DIGIT.resolve()))
        wait.until(lambda d: d.find_element(By.ID, "seed").text.strip() != "")
        seed = int(driver.find_element(By.ID, "seed").text)
        assert 0 <= seed < 524287
        assert driver.find_element(By.ID, "hex").text == f"{seed:#07x}"
        assert driver.find_element(By.ID, "out").get_attribute("src").startswith("data:image/png")
        assert "19 bits" in driver.find_element(By.ID, "bits").text
        assert driver.find_element(By.ID, "error").text == ""
        assert driver.save_screenshot(str(tmp_path / "page.png"))
        if os.environ.get(SCREENSHOT_ENV):
            shutil.copyfile(tmp_path / "page.png", os.environ[SCREENSHOT_ENV])
        bad = tmp_path / "bad.png"
        bad.write_bytes(b"not an image at all")
        driver.find_element(By.ID, "upload").send_keys(str(bad))
        wait.until(lambda d: "not a readable image" in d.find_element(By.ID, "error").text)
        # the server keeps serving: the explorer still answers
        driver.find_element(By.ID, "seed-in").clear()
        driver.find_element(By.ID, "seed-in").send_keys("1234\n")
        wait.until(lambda d: "1234" in d.find_element(By.ID, "strip").text)
    finally:
        driver.quit()


def test_foreign_pages_and_hosts_are_refused(url):
    """A cross-site form post (text/plain) and a rebinding Host name are refused."""
    body = json.dumps({"start": 0}).encode()
    req = urllib.request.Request(url + "/api/seeds", data=body,
                                 headers={"Content-Type": "text/plain"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 415
    req = urllib.request.Request(url + "/api/models", headers={"Host": "evil.example:80"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 403


def test_a_large_seed_file_is_refused_before_parsing(url):
    from seedembed.codec import Encoding

    big = Encoding(torch.zeros(600_000, 1, dtype=torch.long), "ab" * 32, "lcg-524287",
                   (1, 28, 28), 19)  # fmt: skip
    status, r = _post(url, "/api/decode", {"seedfile": _b64(big.to_bytes())})
    assert status == 413 and "seedembed decode" in r["error"]


def test_no_big_codebook_is_built_inside_a_request(url, tmp_path, monkeypatch):
    """The exact search of a 64x64 model needs a 24 GiB codebook: a request that would build it
    is refused in one message (with how to build it), not left running for minutes."""
    monkeypatch.setenv("SEEDEMBED_CACHE", str(tmp_path))  # no codebook cached here
    body = {"image": _b64(DIGIT.read_bytes()), "model": "anime-524287-gan"}
    status, r = _post(url, "/api/encode", body)
    assert status == 400 and "seedembed cache build --model anime-524287-gan" in r["error"]
    status, r = _post(url, "/api/encode", {**body, "model": "anime-524287", "search": "image"})
    assert status == 400 and "or choose the hybrid search" in r["error"]
