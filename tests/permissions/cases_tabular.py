"""Tabular federated tasks: an upload is seen only by its own organisation (deleted by its acting role);
a loan-book task's results are seen by the lenders of the task (the initiator's members and lender B's
officer); a PD model is adopted by loan officers of a lender that took part."""
from django.urls import reverse

from .registry import Case, declare

LENDER_A = {"lender_a_officer": 200, "lender_a_officer2": 200, "lender_a_auditor": 200}
ENT_A = {"ent_a_manager": 200, "ent_a_auditor": 200}
PD_TASK_VIEWERS = {**LENDER_A, "lender_b_officer": 200}


def pd_task(world):
    if "tab_pd_task" not in world.objects:
        from tests.federation_tabular.builders import finished_synthetic_pd_task

        world.objects["tab_pd_task"] = finished_synthetic_pd_task(world)
    return world.objects["tab_pd_task"]


def loan_book_a(world):
    from federation.tabular_models import TabularDataset

    pd_task(world)
    return TabularDataset.objects.get(organization=world.lender_a)


def production_a(world):
    if "tab_production_a" not in world.objects:
        from tests.federation_tabular.builders import upload_production

        world.objects["tab_production_a"] = upload_production(world.ent_a_manager, heavy_share=0.3, seed=5,
                                                              periods=24)
    return world.objects["tab_production_a"]


def final_version(world):
    return pd_task(world).versions.get(is_final=True)


declare(
    Case("loan book page", "federation:dataset_detail",
         lambda w: reverse("federation:dataset_detail", args=[loan_book_a(w).pk]), expect=LENDER_A),
    Case("production records page", "federation:dataset_detail",
         lambda w: reverse("federation:dataset_detail", args=[production_a(w).pk]), expect=ENT_A),
    Case("production records delete", "federation:dataset_delete",
         lambda w: reverse("federation:dataset_delete", args=[production_a(w).pk]), method="post",
         expect={"ent_a_manager": 302, "ent_a_auditor": 403}),
    Case("granted loan book delete", "federation:dataset_delete",
         lambda w: reverse("federation:dataset_delete", args=[loan_book_a(w).pk]), method="post",
         expect={"lender_a_officer": 302, "lender_a_officer2": 302, "lender_a_auditor": 403}),
    Case("tabular task results", "federation:tabular_results",
         lambda w: reverse("federation:tabular_results", args=[pd_task(w).pk]), expect=PD_TASK_VIEWERS),
    Case("federated PD model adopt", "federation:pd_adopt",
         lambda w: reverse("federation:pd_adopt", args=[final_version(w).pk]), method="post",
         data={"role": "champion"},
         expect={"lender_a_officer": 302, "lender_a_officer2": 302, "lender_a_auditor": 403,
                 "lender_b_officer": 302}),
    # API
    Case("tabular dataset API detail", "tabulardataset-detail",
         lambda w: reverse("tabulardataset-detail", args=[production_a(w).pk]), api=True, expect=ENT_A),
    Case("tabular task API detail", "federatedtask-detail",
         lambda w: reverse("federatedtask-detail", args=[pd_task(w).pk]), api=True, expect=PD_TASK_VIEWERS),
)
