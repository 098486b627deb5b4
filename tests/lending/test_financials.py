"""Financial statements in by form, CSV and API: validated whole (units, periods, impossible values) with clear
errors, stored as Decimal, audited, and every facility of the borrower reviewed after commit."""
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from lending import services
from lending.models import FinancialStatement
from tests.conftest import task_callbacks
from tests.lending import factories as f

pytestmark = pytest.mark.django_db
HEADER = ("period_start,period_end,revenue,ebitda,interest_expense,total_debt,current_assets,current_liabilities,"
          "cash,scheduled_principal,unit")


@pytest.fixture
def borrower(world):
    borrower = f.make_borrower(world)
    f.make_facility(world, borrower)
    return borrower


def statement(world, borrower, **changes):
    return services.financial_statement_create(actor=world.lender_a_officer, borrower=borrower,
                                               **{**f.STATEMENT, **changes})


@pytest.mark.parametrize("changes, field, message", [
    ({"ebitda": "50000000"}, "ebitda", "EBITDA cannot exceed revenue"),
    ({"cash": "-5"}, "cash", "must not be negative"),
    ({"cash": "13000000"}, "cash", "cash cannot exceed current assets"),
    ({"period_end": dt.date(2024, 12, 31)}, "period_end", "period must end after it starts"),
    ({"period_end": dt.date.today() + dt.timedelta(days=30), "period_start": dt.date.today()}, "period_end",
     "has not ended"),
    ({"period_start": dt.date(2023, 1, 1)}, "period_end", "one to twelve months"),
    ({"revenue": "forty million"}, "revenue", "is not a number"),
    ({"unit": "dozens"}, "unit", "Unknown unit"),
    ({"currency": "USD"}, "currency", "facilities are in EUR"),
    ({"interest_expense": ""}, "interest_expense", "required"),
])
def test_impossible_statements_are_refused_with_the_field_named(world, borrower, changes, field, message):
    with pytest.raises(ValidationError) as error:
        statement(world, borrower, **changes)
    assert field in error.value.message_dict
    assert message in " ".join(error.value.message_dict[field])
    assert not FinancialStatement.objects.exists()


def test_units_scale_to_currency_units_and_overlaps_are_refused(world, borrower, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        stored = statement(world, borrower, unit="thousands", revenue="40000", ebitda="6000.5",
                           interest_expense="900", total_debt="14000", current_assets="12000",
                           current_liabilities="7000", cash="2500", scheduled_principal="1500")
    assert stored.revenue == Decimal("40000000.00") and stored.ebitda == Decimal("6000500.00")
    assert stored.source == "form" and stored.currency == "EUR"
    assert len(task_callbacks(callbacks)) == 1  # the borrower's one facility is reviewed after commit
    event = AuditEvent.objects.get(action="financial_statement.create", object_id=str(stored.pk))
    assert event.actor_user == "lender_a_officer" and event.organization == world.lender_a
    with pytest.raises(ValidationError, match="overlaps"):
        statement(world, borrower, period_start=dt.date(2025, 7, 1), period_end=dt.date(2025, 9, 30))


def test_only_the_lenders_officers_record_statements(world, borrower):
    for actor in (world.lender_a_auditor, world.lender_b_officer, world.ent_a_manager):
        with pytest.raises(PermissionDenied):
            services.financial_statement_create(actor=actor, borrower=borrower, **f.STATEMENT)


def _csv(*rows):
    return SimpleUploadedFile("statements.csv", ("\n".join([HEADER, *rows]) + "\n").encode(), content_type="text/csv")


def test_csv_import_is_all_or_nothing_with_row_numbers(world, borrower):
    good = "2024-01-01,2024-12-31,38000000,5500000,950000,15000000,11000000,7000000,2000000,1500000,units"
    bad_ebitda = "2023-01-01,2023-12-31,36000000,37000000,900000,15000000,11000000,7000000,2000000,1500000,units"
    overlapping = "2024-07-01,2024-09-30,9000,1300,230,15000,11000,7000,2000,350,thousands"
    with pytest.raises(ValidationError) as error:
        services.financial_statements_import_csv(actor=world.lender_a_officer, borrower=borrower,
                                                 uploaded_file=_csv(good, bad_ebitda, overlapping))
    messages = error.value.message_dict["file"]
    assert messages == ["Row 3, ebitda: EBITDA cannot exceed revenue",
                        "Row 4, period_start: The period overlaps a statement already recorded (2024-07-01 – "
                        "2024-09-30)."]
    assert not FinancialStatement.objects.exists()
    stored = services.financial_statements_import_csv(
        actor=world.lender_a_officer, borrower=borrower,
        uploaded_file=_csv(good, "2025-01-01,2025-03-31,9500,1400,220,14000,12000,7000,2500,375,thousands"))
    assert [s.source for s in stored] == ["csv", "csv"] and stored[1].revenue == Decimal("9500000.00")


@pytest.mark.parametrize("content, message", [
    (b"period_start,period_end,revenue\n2024-01-01,2024-12-31,1\n", "lacks the columns"),
    ((HEADER + ",colour\n").encode(), "Unknown columns colour"),
    (HEADER.encode() + b"\n", "holds no statements"),
    ("période".encode("latin-1"), "not UTF-8"),
])
def test_malformed_csv_files_are_refused(world, borrower, content, message):
    with pytest.raises(ValidationError, match=message):
        services.financial_statements_import_csv(actor=world.lender_a_officer, borrower=borrower,
                                                 uploaded_file=SimpleUploadedFile("s.csv", content))


def test_statements_by_api_json_and_csv(world, borrower):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.lender_a_officer).key}")
    url = reverse("borrower-financials", args=[borrower.pk])
    body = {**{k: str(v) for k, v in f.STATEMENT.items()}, "ebitda": "45000000"}
    refused = client.post(url, body, format="json")
    assert refused.status_code == 400 and "EBITDA cannot exceed revenue" in refused.json()["ebitda"][0]
    created = client.post(url, {**body, "ebitda": "6000000"}, format="json")
    assert created.status_code == 201 and created.json()[0]["source"] == "api"
    upload = client.post(url, {"file": _csv("2024-01-01,2024-12-31,38,5.5,0.95,15,11,7,2,1.5,millions")},
                         format="multipart")
    assert upload.status_code == 201 and upload.json()[0]["revenue"] == "38000000.00"
    listed = client.get(url).json()
    assert [row["period_end"] for row in listed["results"]] == ["2025-12-31", "2024-12-31"]


def test_the_borrower_page_shows_errors_and_keeps_nothing(world, borrower, client):
    from tests.factories import verified_login

    verified_login(client, world.lender_a_officer)
    data = {**{k: str(v) for k, v in f.STATEMENT.items()}, "unit": "units", "currency": "EUR", "cash": "99000000"}
    response = client.post(reverse("lending:statement_create", args=[borrower.pk]), data, follow=True)
    assert "cash cannot exceed current assets" in response.content.decode()
    assert not FinancialStatement.objects.exists()
    response = client.post(reverse("lending:statement_upload", args=[borrower.pk]),
                           {"file": _csv("2024-01-01,2024-12-31,38,5.5,0.95,15,11,7,2,1.5,millions")}, follow=True)
    assert "1 statement recorded" in response.content.decode()
