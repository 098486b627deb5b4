"""Registering, editing, retiring and listing presses; units and geometry are checked."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from devices import services
from devices.models import Press

pytestmark = pytest.mark.django_db

BASE = dict(site="Plant 2", make="Aida", model="NC1-200", rated_tonnage_t="200", stroke_rate_min_spm="20",
            stroke_rate_max_spm="60", commissioned_on=dt.date(2019, 1, 1))


def test_register_with_components_and_channels(press, world):
    assert press.components.get().ball_count == 9
    assert set(press.channels.values_list("name", flat=True)) == {"accel_x", "accel_y"}
    assert AuditEvent.objects.filter(action="press.register", object_id=str(press.pk)).exists()
    assert world.ent_a_manager.has_perm("devices.upload_batch", press)
    assert not world.ent_b_manager.has_perm("devices.view_press", press)


@pytest.mark.parametrize("bad, field", [
    ({"channels": [{"name": "v", "kind": "velocity", "unit": "g"}]}, "channels"),  # wrong unit for the kind
    ({"components": [{"name": "b", "kind": "main_bearing", "ball_count": 9}]}, "components"),  # geometry missing
    ({"components": [{"name": "b", "kind": "main_bearing", "ball_count": 9, "ball_diameter_mm": 50,
                      "pitch_diameter_mm": 40}]}, "components"),  # ball larger than pitch circle
    ({"stroke_rate_min_spm": "80"}, "stroke_rate_max_spm"),  # min > max
    ({"rated_tonnage_t": "-5"}, "rated_tonnage_t"),
    ({"commissioned_on": dt.date(2999, 1, 1)}, "commissioned_on"),
])
def test_bad_press_input_changes_nothing(world, bad, field):
    before = Press.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        services.press_register(actor=world.ent_a_manager, organization=world.ent_a, name="X", **{**BASE, **bad})
    assert field in error.value.message_dict
    assert (Press.objects.count(), AuditEvent.objects.count()) == before


def test_only_the_enterprise_s_managers_register(world):
    for actor, org in ((world.lender_a_officer, world.ent_a), (world.ent_a_auditor, world.ent_a),
                       (world.ent_b_manager, world.ent_a)):
        with pytest.raises(PermissionDenied):
            services.press_register(actor=actor, organization=org, name="Y", **BASE)


def test_edit_and_retire(press, world):
    services.press_update(actor=world.ent_a_manager, press=press, site="Plant 3")
    press.refresh_from_db()
    assert press.site == "Plant 3"
    with pytest.raises(ValidationError):
        services.press_retire(actor=world.ent_a_manager, press=press, reason="  ")
    services.press_retire(actor=world.ent_a_manager, press=press, reason="replaced by servo press")
    press.refresh_from_db()
    assert press.status == "retired" and Press.objects.filter(pk=press.pk).exists()  # never deleted
    with pytest.raises(ValidationError):
        services.press_update(actor=world.ent_a_manager, press=press, site="Plant 4")
    actions = list(AuditEvent.objects.filter(object_type="devices.press").values_list("action", flat=True))
    assert actions == ["press.register", "press.update", "press.retire"]


def test_register_and_search_in_the_browser_pages(world, login_as):
    client = login_as(world.ent_a_manager)
    form = {"name": "Line 7 press", "site": "Suzhou", "make": "Komatsu", "model": "E2W-300", "rated_tonnage_t": "300",
            "stroke_rate_min_spm": "15", "stroke_rate_max_spm": "45", "commissioned_on": "2018-06-01",
            "components-TOTAL_FORMS": "1", "components-INITIAL_FORMS": "0",
            "components-0-name": "main bearing", "components-0-kind": "main_bearing", "components-0-ball_count": "12",
            "components-0-ball_diameter_mm": "20", "components-0-pitch_diameter_mm": "110",
            "components-0-contact_angle_deg": "0", "components-0-shaft_revolutions_per_stroke": "1",
            "channels-TOTAL_FORMS": "1", "channels-INITIAL_FORMS": "0", "channels-0-name": "acc",
            "channels-0-kind": "acceleration", "channels-0-unit": "g", "channels-0-component": "main bearing"}
    response = client.post(reverse("devices:press_create"), form)
    press = Press.objects.get(name="Line 7 press")
    assert response.url == reverse("devices:press_detail", args=[press.pk])
    assert press.channels.get().component.name == "main bearing"
    listing = client.get(reverse("devices:press_list"), {"q": "komatsu"}).content.decode()
    assert "Line 7 press" in listing
    assert "Line 7 press" not in client.get(reverse("devices:press_list"), {"q": "schuler"}).content.decode()
    wrong_unit = dict(form, name="Other", **{"channels-0-unit": "bar"})
    page = client.post(reverse("devices:press_create"), wrong_unit)
    assert page.status_code == 200 and "is not a unit of" in page.content.decode()


def test_press_api(world):
    api = APIClient()
    api.force_authenticate(world.ent_a_manager)
    created = api.post("/api/v1/presses/", {**{k: str(v) for k, v in BASE.items()}, "name": "API press",
                                            "channels": [{"name": "acc", "kind": "acceleration", "unit": "g"}]},
                       format="json")
    assert created.status_code == 201, created.json()
    press_id = created.json()["id"]
    assert api.patch(f"/api/v1/presses/{press_id}/", {"site": "Moved"}, format="json").json()["site"] == "Moved"
    assert api.post(f"/api/v1/presses/{press_id}/retire/", {}, format="json").status_code == 400
    assert api.post(f"/api/v1/presses/{press_id}/retire/", {"reason": "sold"}, format="json").json()["status"] == "retired"
    api.force_authenticate(world.ent_b_manager)
    assert api.get(f"/api/v1/presses/{press_id}/").status_code == 404
    assert api.get("/api/v1/presses/").json()["count"] == 0


def test_untouched_extra_rows_of_the_registration_form_are_ignored(world, login_as):
    """A browser submits every select, so a blank extra component or channel row arrives with its shown
    kind and default shaft ratio: it must count as empty, not as a row missing its name."""
    client = login_as(world.ent_a_manager)
    form = {"name": "Line 9 press", "site": "Suzhou", "make": "Aida", "model": "NC1-200", "rated_tonnage_t": "200",
            "stroke_rate_min_spm": "20", "stroke_rate_max_spm": "60", "commissioned_on": "2019-03-01",
            "components-TOTAL_FORMS": "1", "components-INITIAL_FORMS": "0",
            "components-0-kind": "main_bearing", "components-0-shaft_revolutions_per_stroke": "1",
            "channels-TOTAL_FORMS": "2", "channels-INITIAL_FORMS": "0", "channels-0-name": "acc",
            "channels-0-kind": "acceleration", "channels-0-unit": "g", "channels-1-kind": "acceleration"}
    response = client.post(reverse("devices:press_create"), form)
    press = Press.objects.get(name="Line 9 press")
    assert response.url == reverse("devices:press_detail", args=[press.pk])
    assert list(press.channels.values_list("name", flat=True)) == ["acc"] and not press.components.exists()
