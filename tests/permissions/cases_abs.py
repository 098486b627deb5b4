"""ABS: lender A's loan officers build, design and run on its pools; its auditors read; another lender, the
enterprises (even the borrower whose facility is pooled), the audit firm and the platform admin never learn that a
pool, structure or run exists (404)."""
import copy

from django.urls import reverse

from .registry import Case, declare

OFFICERS = {"lender_a_officer": 200, "lender_a_officer2": 200}
READERS = {**OFFICERS, "lender_a_auditor": 200}
OFFICERS_PAGE = {**OFFICERS, "lender_a_auditor": 403}
OFFICERS_ACT = {"lender_a_officer": 302, "lender_a_officer2": 302, "lender_a_auditor": 403}
OFFICERS_CREATE_API = {"lender_a_officer": 201, "lender_a_officer2": 201, "lender_a_auditor": 403}
STRUCTURE = {"tranches": [{"name": "A", "attachment": 0.3, "detachment": 1.0, "coupon": 0.04},
                          {"name": "Equity", "attachment": 0.0, "detachment": 0.3}]}


def _once(world, key, make):
    if key not in world.objects:
        world.objects[key] = make()
    return world.objects[key]


def pool_of_a(world):
    def make():
        from lending import abs_services, services
        from tests.lending import factories as f

        borrower = f.make_borrower(world)
        facility = f.make_facility(world, borrower, reference="ABS-MATRIX-1")
        services.facility_assess(facility=facility, actor=world.lender_a_officer)
        return abs_services.pool_create(actor=world.lender_a_officer, name="Matrix pool", facility_ids=[facility.pk])
    return _once(world, "abs_pool", make)


def structure_of_a(world):
    def make():
        from lending import abs_services

        return abs_services.structure_create(actor=world.lender_a_officer, pool=pool_of_a(world),
                                             name="Matrix structure", definition=STRUCTURE)
    return _once(world, "abs_structure", make)


def run_of_a(world):
    def make():
        from lending import abs_services

        run = abs_services.run_request(actor=world.lender_a_officer, pool=pool_of_a(world),
                                       structure=structure_of_a(world), scenarios=1000, seed=1)
        abs_services.simulation_run_execute(run_id=run.pk)
        return run
    return _once(world, "abs_run", make)


def _revised_structure(world):
    definition = copy.deepcopy(STRUCTURE)
    definition["tranches"][0]["attachment"] = definition["tranches"][1]["detachment"] = 0.25
    return {"definition": definition}


SIZING = {"name": "Matrix sized", "scenarios": 1000, "seed": 1, "tranches": [{"name": "A", "target": "AA"}]}

declare(
    # Pages
    Case("ABS pool page", "abs:pool_detail", lambda w: reverse("abs:pool_detail", args=[pool_of_a(w).pk]),
         expect=READERS),
    Case("ABS pool new-version page", "abs:pool_revise", lambda w: reverse("abs:pool_revise", args=[pool_of_a(w).pk]),
         expect=OFFICERS_PAGE),
    Case("ABS pool new version", "abs:pool_revise", lambda w: reverse("abs:pool_revise", args=[pool_of_a(w).pk]),
         method="post", data=lambda w: {"facilities": list(pool_of_a(w).members.values_list("facility_id", flat=True))},
         expect=OFFICERS_ACT),
    Case("ABS structure design page", "abs:structure_create",
         lambda w: reverse("abs:structure_create", args=[pool_of_a(w).pk]), expect=OFFICERS_PAGE),
    Case("ABS structure sizing page", "abs:structure_size",
         lambda w: reverse("abs:structure_size", args=[pool_of_a(w).pk]), expect=OFFICERS_PAGE),
    Case("ABS structure page", "abs:structure_detail",
         lambda w: reverse("abs:structure_detail", args=[structure_of_a(w).pk]), expect=READERS),
    Case("ABS structure new-version page", "abs:structure_revise",
         lambda w: reverse("abs:structure_revise", args=[structure_of_a(w).pk]), expect=OFFICERS_PAGE),
    Case("ABS run request", "abs:run_create", lambda w: reverse("abs:run_create", args=[structure_of_a(w).pk]),
         method="post", data=lambda w: {"pool": pool_of_a(w).pk, "scenarios": "1000", "seed": "5"},
         expect=OFFICERS_ACT),
    Case("ABS run page", "abs:run_detail", lambda w: reverse("abs:run_detail", args=[run_of_a(w).pk]),
         expect=READERS),
    Case("ABS run status", "abs:run_status", lambda w: reverse("abs:run_status", args=[run_of_a(w).pk]),
         expect=READERS),
    Case("ABS run re-run", "abs:run_rerun", lambda w: reverse("abs:run_rerun", args=[run_of_a(w).pk]), method="post",
         expect=OFFICERS_ACT),
    Case("ABS run what-if", "abs:run_what_if", lambda w: reverse("abs:run_what_if", args=[run_of_a(w).pk]),
         method="post", data={"pd_multiplier": "1.5", "grade_shift": "0"}, expect=OFFICERS_ACT),
    # API
    Case("ABS pool API detail", "abs-pool-detail", lambda w: reverse("abs-pool-detail", args=[pool_of_a(w).pk]),
         api=True, expect=READERS),
    Case("ABS pool API versions", "abs-pool-versions",
         lambda w: reverse("abs-pool-versions", args=[pool_of_a(w).pk]), api=True, expect=READERS),
    Case("ABS pool API new version", "abs-pool-revise", lambda w: reverse("abs-pool-revise", args=[pool_of_a(w).pk]),
         api=True, method="post", data={}, expect=OFFICERS_CREATE_API),
    Case("ABS pool API sizing", "abs-pool-size", lambda w: reverse("abs-pool-size", args=[pool_of_a(w).pk]),
         api=True, method="post", data=SIZING, expect=OFFICERS_CREATE_API),
    Case("ABS structure API detail", "abs-structure-detail",
         lambda w: reverse("abs-structure-detail", args=[structure_of_a(w).pk]), api=True, expect=READERS),
    Case("ABS structure API new version", "abs-structure-revise",
         lambda w: reverse("abs-structure-revise", args=[structure_of_a(w).pk]), api=True, method="post",
         data=_revised_structure, expect=OFFICERS_CREATE_API),
    Case("ABS run API detail", "abs-run-detail", lambda w: reverse("abs-run-detail", args=[run_of_a(w).pk]),
         api=True, expect=READERS),
    Case("ABS run API status", "abs-run-status", lambda w: reverse("abs-run-status", args=[run_of_a(w).pk]),
         api=True, expect=READERS),
    Case("ABS run API re-run", "abs-run-rerun", lambda w: reverse("abs-run-rerun", args=[run_of_a(w).pk]),
         api=True, method="post", expect=OFFICERS_CREATE_API),
    Case("ABS run API what-if", "abs-run-what-if", lambda w: reverse("abs-run-what-if", args=[run_of_a(w).pk]),
         api=True, method="post", data={"correlation": 0.3}, expect=OFFICERS_CREATE_API),
)
