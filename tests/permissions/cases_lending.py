"""Credit: lender A's loan officers act on its facilities (the maker of a proposal never decides on it), its
auditors read, enterprise A's managers see only their own terms, and nobody else learns any of it exists.
A lender without a live health share sees no health of a press pledged to it."""
import datetime as dt
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from .registry import Case, declare

OFFICERS = {"lender_a_officer": 200, "lender_a_officer2": 200}
LENDER_A_READERS = {**OFFICERS, "lender_a_auditor": 200}
OFFICERS_ACT = {"lender_a_officer": 302, "lender_a_officer2": 302, "lender_a_auditor": 403}
CHECKER_ACTS = {"lender_a_officer": 403, "lender_a_officer2": 302, "lender_a_auditor": 403}  # officer 1 is the maker
CHECKER_ACTS_API = {"lender_a_officer": 403, "lender_a_officer2": 200, "lender_a_auditor": 403}
OFFICERS_ACT_API = {"lender_a_officer": 200, "lender_a_officer2": 200, "lender_a_auditor": 403}
STATEMENT_2024 = {"period_start": "2024-01-01", "period_end": "2024-12-31", "unit": "units", "currency": "EUR",
                  "revenue": "38000000", "ebitda": "5600000", "interest_expense": "950000", "total_debt": "15000000",
                  "current_assets": "11000000", "current_liabilities": "7000000", "cash": "2000000",
                  "scheduled_principal": "1500000"}


def _once(world, key, make):
    if key not in world.objects:
        world.objects[key] = make()
    return world.objects[key]


def pledged_press(world):
    def make():
        from tests.lending.factories import make_press, share

        press = make_press(world, "Matrix pledged press")
        share(world, press)
        return press
    return _once(world, "lending_press", make)


def unshared_press(world):
    """Pledged to lender A's facility but its health is not shared with lender A."""
    def make():
        from tests.lending.factories import make_press, set_press_health

        press = make_press(world, "Matrix unshared press")
        set_press_health(press, level=2, zs=[1.0, 4.0, 6.0])
        return press
    return _once(world, "lending_unshared_press", make)


def borrower(world):
    def make():
        from tests.lending.factories import add_statement, make_borrower

        borrower = make_borrower(world)
        add_statement(world, borrower)
        return borrower
    return _once(world, "lending_borrower", make)


def facility(world, number: int):
    def make():
        from tests.lending.factories import make_facility

        presses = [pledged_press(world), unshared_press(world)] if number == 1 else []
        return make_facility(world, borrower(world), presses=presses, reference=f"MX-{number}")
    return _once(world, f"lending_facility_{number}", make)


def statement(world):
    borrower(world)
    return world.lending_borrower.financial_statements.get()


def assessment(world):
    def make():
        from lending import services

        return services.facility_assess(facility=facility(world, 1), actor=world.lender_a_officer)
    return _once(world, "lending_assessment", make)


def _draft(world, number: int):
    from lending import services

    fac = facility(world, number)
    return services.adjustment_draft(actor=world.lender_a_officer, facility=fac, new_rate=fac.annual_rate + Decimal("0.005"),
                                     new_limit=fac.limit, new_tenor_months=fac.tenor_months,
                                     effective_date=dt.date.today(), reason_code="customer_request")


def submitted_proposal(world):
    """On facility 1, drafted and submitted by lender_a_officer (the maker)."""
    def make():
        from lending import services

        return services.adjustment_submit(actor=world.lender_a_officer, proposal=_draft(world, 1))
    return _once(world, "lending_submitted", make)


def draft_proposal(world):
    """On facility 2, a draft by lender_a_officer."""
    return _once(world, "lending_draft", lambda: _draft(world, 2))


def _csv(world):
    text = ",".join(STATEMENT_2024) + "\n" + ",".join(STATEMENT_2024.values()) + "\n"
    return {"file": SimpleUploadedFile("statements.csv", text.encode(), content_type="text/csv")}


COMMENT = {"comment": "matrix"}


def _draft_data(world):
    fac = facility(world, 3)
    return {"new_rate": str(fac.annual_rate + Decimal("0.005")), "new_limit": str(fac.limit),
            "new_tenor_months": fac.tenor_months, "effective_date": dt.date.today().isoformat(),
            "reason_code": "customer_request"}


def _form_draft_data(world):
    fac = facility(world, 3)
    return {"new_rate_percent": f"{fac.annual_rate * 100 + 1:.4f}", "new_limit": str(fac.limit),
            "new_tenor_months": fac.tenor_months, "effective_date": dt.date.today().isoformat(),
            "reason_code": "customer_request"}


def _url(name, getter):
    return lambda w: reverse(name, args=[getter(w).pk])


declare(
    # Pages
    Case("borrower page", "lending:borrower_detail", _url("lending:borrower_detail", borrower), expect=LENDER_A_READERS),
    Case("statement form", "lending:statement_create", _url("lending:statement_create", borrower), method="post",
         data=STATEMENT_2024, expect=OFFICERS_ACT),
    Case("statement CSV upload", "lending:statement_upload", _url("lending:statement_upload", borrower),
         method="post", data=_csv, expect=OFFICERS_ACT),
    Case("facility page", "lending:facility_detail", _url("lending:facility_detail", lambda w: facility(w, 1)),
         expect=LENDER_A_READERS),
    Case("facility review", "lending:facility_review", _url("lending:facility_review", lambda w: facility(w, 1)),
         method="post", expect=OFFICERS_ACT),
    Case("proposal form", "lending:proposal_create", _url("lending:proposal_create", lambda w: facility(w, 3)),
         expect={**OFFICERS, "lender_a_auditor": 403}),
    Case("proposal form post", "lending:proposal_create", _url("lending:proposal_create", lambda w: facility(w, 3)),
         method="post", data=_form_draft_data, expect=OFFICERS_ACT),
    Case("assessment page", "lending:assessment_detail", _url("lending:assessment_detail", assessment),
         expect=LENDER_A_READERS),
    Case("proposal page", "lending:proposal_detail", _url("lending:proposal_detail", submitted_proposal),
         expect=LENDER_A_READERS),
    Case("proposal submit", "lending:proposal_submit", _url("lending:proposal_submit", draft_proposal),
         method="post", expect=OFFICERS_ACT),
    Case("proposal approve", "lending:proposal_approve", _url("lending:proposal_approve", submitted_proposal),
         method="post", data=COMMENT, expect=CHECKER_ACTS),
    Case("proposal reject", "lending:proposal_reject", _url("lending:proposal_reject", submitted_proposal),
         method="post", data=COMMENT, expect=CHECKER_ACTS),
    Case("proposal return", "lending:proposal_return", _url("lending:proposal_return", submitted_proposal),
         method="post", data=COMMENT, expect=CHECKER_ACTS),
    Case("proposal withdraw", "lending:proposal_withdraw", _url("lending:proposal_withdraw", submitted_proposal),
         method="post", expect={"lender_a_officer": 302, "lender_a_officer2": 403, "lender_a_auditor": 403}),
    Case("proposal re-preview", "lending:proposal_repreview", _url("lending:proposal_repreview", submitted_proposal),
         method="post", expect=OFFICERS_ACT),
    # API
    Case("borrower API detail", "borrower-detail", _url("borrower-detail", borrower), api=True,
         expect=LENDER_A_READERS),
    Case("borrower API statements", "borrower-financials", _url("borrower-financials", borrower), api=True,
         expect=LENDER_A_READERS),
    Case("borrower API statement create", "borrower-financials", _url("borrower-financials", borrower), api=True,
         method="post", data=STATEMENT_2024, expect={"lender_a_officer": 201, "lender_a_officer2": 201,
                                                     "lender_a_auditor": 403}),
    Case("statement API detail", "financialstatement-detail", _url("financialstatement-detail", statement), api=True,
         expect=LENDER_A_READERS),
    Case("facility API detail", "facility-detail", _url("facility-detail", lambda w: facility(w, 1)), api=True,
         expect=LENDER_A_READERS),
    Case("facility API review", "facility-review", _url("facility-review", lambda w: facility(w, 1)), api=True,
         method="post", expect=OFFICERS_ACT_API),
    Case("facility API assessments", "facility-assessments", _url("facility-assessments", lambda w: facility(w, 1)),
         api=True, expect=LENDER_A_READERS),
    Case("facility API proposals", "facility-proposals", _url("facility-proposals", lambda w: facility(w, 1)),
         api=True, expect=LENDER_A_READERS),
    Case("facility API draft", "facility-proposals", _url("facility-proposals", lambda w: facility(w, 3)), api=True,
         method="post", data=_draft_data, expect={"lender_a_officer": 201, "lender_a_officer2": 201,
                                                  "lender_a_auditor": 403}),
    Case("assessment API detail", "riskassessment-detail", _url("riskassessment-detail", assessment), api=True,
         expect=LENDER_A_READERS),
    Case("adjustment API detail", "adjustment-detail", _url("adjustment-detail", submitted_proposal), api=True,
         expect=LENDER_A_READERS),
    Case("adjustment API snapshot", "adjustment-snapshot", _url("adjustment-snapshot", submitted_proposal), api=True,
         expect=LENDER_A_READERS),
    Case("adjustment API submit", "adjustment-submit", _url("adjustment-submit", draft_proposal), api=True,
         method="post", expect=OFFICERS_ACT_API),
    Case("adjustment API approve", "adjustment-approve", _url("adjustment-approve", submitted_proposal), api=True,
         method="post", data=COMMENT, expect=CHECKER_ACTS_API),
    Case("adjustment API reject", "adjustment-reject", _url("adjustment-reject", submitted_proposal), api=True,
         method="post", data=COMMENT, expect=CHECKER_ACTS_API),
    Case("adjustment API return", "adjustment-return", _url("adjustment-return", submitted_proposal), api=True,
         method="post", data=COMMENT, expect=CHECKER_ACTS_API),
    Case("adjustment API withdraw", "adjustment-withdraw", _url("adjustment-withdraw", submitted_proposal), api=True,
         method="post", expect={"lender_a_officer": 200, "lender_a_officer2": 403, "lender_a_auditor": 403}),
    Case("adjustment API re-preview", "adjustment-repreview", _url("adjustment-repreview", submitted_proposal),
         api=True, method="post", expect=OFFICERS_ACT_API),
    Case("my terms API detail", "myterms-detail", _url("myterms-detail", lambda w: facility(w, 1)), api=True,
         expect={"ent_a_manager": 200}),
    # Health of a press pledged to lender A but not shared with it: lender A sees none of it.
    Case("unshared pledged press health page", "health:press",
         lambda w: (facility(w, 1), reverse("health:press", args=[unshared_press(w).pk]))[1],
         expect={"ent_a_manager": 200, "ent_a_auditor": 200}),
)
