"""In the browser: register a press, upload a file by drag-and-drop form, see progress and the result."""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest

from devices.models import Press, SensorBatch
from tests.e2e.conftest import screenshot
from tests.e2e.test_foundation_browser import sign_in
from tests.fixtures import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_registers_a_press_and_uploads_a_batch(page, tmp_path):
    build_world()
    sign_in(page, "ent_a_manager")
    page.click("nav >> text=Presses")
    page.click("text=Register a press")
    for name, value in {"name": "Line 3 press", "site": "Kunshan", "make": "Schuler", "model": "MSD 250",
                        "rated_tonnage_t": "250", "stroke_rate_min_spm": "10", "stroke_rate_max_spm": "40",
                        "commissioned_on": "2017-05-04"}.items():
        page.fill(f"input[name={name}]", value)
    page.fill("input[name=channels-0-name]", "accel_x")
    page.select_option("select[name=channels-0-kind]", "acceleration")
    page.fill("input[name=channels-0-unit]", "g")
    screenshot(page, "press-register")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/presses/\d+/$"))
    press = Press.objects.get(name="Line 3 press")

    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((5000, 1)))
    page.set_input_files("input[name=file]", str(bad))
    page.fill("input[name=sampling_rate_hz]", "20000")
    page.fill("input[name=started_at]", "2026-11-01T08:00")
    page.evaluate("""() => {
        window.__phases = [];
        const phase = document.getElementById('upload-phase');
        new MutationObserver(() => window.__phases.push(phase.textContent))
            .observe(phase, {childList: true, characterData: true, subtree: true});
    }""")
    page.click("#upload-button")
    page.wait_for_selector("#upload-error:not([hidden])")
    # The page showed the upload phase, then the validation phase, before the result.
    assert page.evaluate("window.__phases")[:2] == ["Uploading…", "Validating the whole batch…"]
    assert "constant" in page.locator("#upload-error").inner_text().lower() or "dead" in page.locator("#upload-error").inner_text().lower()
    screenshot(page, "upload-rejected")
    assert not SensorBatch.objects.exists()

    good = tmp_path / "good.npy"
    np.save(good, np.random.default_rng(0).normal(size=(20000, 1)))
    # Dropped onto the drop zone, as a user drags a file from their desktop.
    encoded = base64.b64encode(good.read_bytes()).decode()
    page.evaluate("""([name, encoded]) => {
        const bytes = Uint8Array.from(atob(encoded), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, {type: 'application/octet-stream'}));
        document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
    }""", ["good.npy", encoded])
    assert page.evaluate("document.querySelector('input[name=file]').files[0].name") == "good.npy"
    page.click("#upload-button")
    page.wait_for_url(re.compile(r".*/presses/batches/\d+/$"))
    assert "Accepted" in page.content()
    screenshot(page, "batch-accepted")
    assert SensorBatch.objects.get().press == press
