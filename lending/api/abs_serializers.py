"""ABS API representations. Fractions (attachment points, PDs, losses) are plain numbers in [0, 1]; money is a
decimal string in the pool's currency."""
from rest_framework import serializers

from ..abs_models import AssetPool, CapitalStructure, PoolFacility, SimulationRun
from ..abs_services import DEFAULT_SCENARIOS, MAX_SCENARIOS, MAX_SEED, MIN_SCENARIOS, SIZING_METRICS


class PoolFacilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = PoolFacility
        fields = ["facility", "assessment", "reference", "borrower", "borrower_name", "facility_type", "balance",
                  "annual_rate", "pd_annual", "lgd", "grade", "remaining_months", "amortisation", "sector", "region",
                  "health_level", "condition_level", "pledged_presses"]
        read_only_fields = fields


class AssetPoolSerializer(serializers.ModelSerializer):
    lender = serializers.SlugRelatedField(source="organization", slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    latest_version = serializers.IntegerField(read_only=True)

    class Meta:
        model = AssetPool
        fields = ["id", "lender", "name", "version", "latest_version", "previous", "description", "currency", "as_of",
                  "facility_count", "obligor_count", "total_balance", "inputs_hash", "created_by", "created_at"]
        read_only_fields = fields


class AssetPoolDetailSerializer(AssetPoolSerializer):
    facilities = PoolFacilitySerializer(source="members", many=True, read_only=True)

    class Meta(AssetPoolSerializer.Meta):
        fields = [*AssetPoolSerializer.Meta.fields, "analysis", "facilities"]
        read_only_fields = fields


class PoolCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    facilities = serializers.ListField(child=serializers.IntegerField(), allow_empty=False,
                                       help_text="ids of the lender's facilities")


class PoolReviseSerializer(serializers.Serializer):
    facilities = serializers.ListField(child=serializers.IntegerField(), allow_empty=False, required=False,
                                       help_text="default: the same facilities, with their current inputs")
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)


class CapitalStructureSerializer(serializers.ModelSerializer):
    lender = serializers.SlugRelatedField(source="organization", slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    latest_version = serializers.IntegerField(read_only=True)

    class Meta:
        model = CapitalStructure
        fields = ["id", "lender", "pool", "name", "version", "latest_version", "previous", "definition", "sizing",
                  "created_by", "created_at"]
        read_only_fields = fields


class StructureCreateSerializer(serializers.Serializer):
    pool = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    definition = serializers.JSONField(help_text="STRUCTURE.json layout (lending/core/abs/cli.py): tranches with "
                                                 "attachment/detachment fractions tiling [0, 1], waterfall, reserve, "
                                                 "oc, ic, assumptions")


class StructureReviseSerializer(serializers.Serializer):
    definition = serializers.JSONField()
    pool = serializers.IntegerField(required=False, help_text="another version of the lender's pools")


class SizingTrancheSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    target = serializers.CharField(max_length=20, help_text='a band of the illustrative table ("AAA") or a fraction')
    coupon = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.0)


class StructureSizeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    equity_name = serializers.CharField(max_length=60, required=False, default="Equity")
    metric = serializers.ChoiceField(choices=SIZING_METRICS, default="probability_of_loss")
    tranches = SizingTrancheSerializer(many=True, allow_empty=False, help_text="senior first, above the equity")
    scenarios = serializers.IntegerField(min_value=MIN_SCENARIOS, max_value=MAX_SCENARIOS, default=DEFAULT_SCENARIOS)
    seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED, required=False, allow_null=True)
    settings = serializers.JSONField(required=False, default=dict,
                                     help_text="waterfall, reserve, oc, ic, assumptions (STRUCTURE.json layout)")


# The run kind's enum lives in one schema component (SimulationRun); elsewhere kind and status are text: the
# status values are those of health runs, and one enum shared by components of two apps gets an ambiguous name.
_KIND_TEXT = {"read_only": True, "help_text": "simulation | what_if"}
_STATUS_TEXT = {"read_only": True, "help_text": "queued | running | done | failed"}


class SimulationRunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(**_STATUS_TEXT)
    lender = serializers.SlugRelatedField(source="organization", slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = SimulationRun
        fields = ["id", "lender", "kind", "pool", "structure", "base_run", "rerun_of", "scenarios", "seed", "shock",
                  "status", "progress", "stage", "error", "inputs_hash", "requested_by", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields


class SimulationRunDetailSerializer(SimulationRunSerializer):
    kind = serializers.CharField(**_KIND_TEXT)
    status = serializers.CharField(**_STATUS_TEXT)

    class Meta(SimulationRunSerializer.Meta):
        fields = [*SimulationRunSerializer.Meta.fields, "inputs", "results"]
        read_only_fields = fields


class RunStatusSerializer(serializers.ModelSerializer):
    status = serializers.CharField(**_STATUS_TEXT)
    finished = serializers.BooleanField(source="is_finished", read_only=True)

    class Meta:
        model = SimulationRun
        fields = ["id", "status", "progress", "stage", "error", "finished", "started_at", "finished_at"]
        read_only_fields = fields


class RunCreateSerializer(serializers.Serializer):
    pool = serializers.IntegerField()
    structure = serializers.IntegerField()
    scenarios = serializers.IntegerField(min_value=MIN_SCENARIOS, max_value=MAX_SCENARIOS, default=DEFAULT_SCENARIOS)
    seed = serializers.IntegerField(min_value=0, max_value=MAX_SEED, required=False, allow_null=True,
                                    help_text="recorded; a random one when absent")


class WhatIfSerializer(serializers.Serializer):
    correlation = serializers.FloatField(required=False, allow_null=True, help_text="new asset correlation, [0, 1)")
    pd_multiplier = serializers.FloatField(required=False, default=1.0, help_text="factor on every PD, (0, 20]")
    grade_shift = serializers.IntegerField(required=False, default=0, help_text="grades on the master scale (+ worse)")
    health_notches = serializers.BooleanField(required=False, default=False,
                                              help_text="every pledged press one alarm level worse")
