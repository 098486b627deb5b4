"""``makemessages`` that also finds ``t("...")`` in the portal's JavaScript, where each script binds
``var t = window.gettext || ...`` (so ``-d djangojs`` collects every chart and upload string)."""
from django.core.management.commands import makemessages


class Command(makemessages.Command):
    def handle(self, *args, **options):
        if options.get("domain") == "djangojs":
            self.xgettext_options = [*self.xgettext_options, "--keyword=t"]
        return super().handle(*args, **options)
