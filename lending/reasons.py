"""Why terms changed, in plain words for the borrower — translated when shown, and never a lender internal
(no PD, LGD, capital, policy parameter or model figure: only the reason, the pledged presses concerned, the
covenants of the contract, the new terms and the date)."""
from __future__ import annotations

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import AdjustmentProposal, Covenant

Reason = AdjustmentProposal.Reason


def _presses(facts: dict) -> str:
    return ", ".join(facts.get("presses") or [])


def _covenant_sentence(kind: str) -> str:
    return {
        Covenant.CovenantKind.MAX_ALARM_DAYS: _("a pledged press stayed in alarm longer than the contract allows"),
        Covenant.CovenantKind.MAX_HEALTH_INDEX_Z: _("the condition of a pledged press fell below the contractual level"),
        Covenant.CovenantKind.MAX_DEBT_TO_EBITDA: _("debt rose above the contractual multiple of EBITDA"),
        Covenant.CovenantKind.MIN_INTEREST_COVER: _("interest cover fell below the contractual minimum"),
        Covenant.CovenantKind.MIN_DSCR: _("debt-service cover fell below the contractual minimum"),
    }.get(kind, _("a covenant of the contract was not met"))


def reason_sentence(proposal: AdjustmentProposal) -> str:
    facts = proposal.reason_facts or {}
    presses = _presses(facts)
    count = len(facts.get("presses") or [])
    code = proposal.reason_code
    if code == Reason.HEALTH_DETERIORATION:
        if presses:
            return ngettext("The monitored condition of your pledged press %(presses)s has deteriorated, which "
                            "raises the risk of the loan.",
                            "The monitored condition of your pledged presses %(presses)s has deteriorated, which "
                            "raises the risk of the loan.", count) % {"presses": presses}
        return _("The monitored condition of your pledged equipment has deteriorated, which raises the risk of the loan.")
    if code == Reason.HEALTH_RECOVERY:
        if presses:
            return ngettext("The monitored condition of your pledged press %(presses)s has recovered, which lowers "
                            "the risk of the loan.",
                            "The monitored condition of your pledged presses %(presses)s has recovered, which lowers "
                            "the risk of the loan.", count) % {"presses": presses}
        return _("The monitored condition of your pledged equipment has recovered, which lowers the risk of the loan.")
    if code == Reason.COVENANT_BREACH:
        kinds = facts.get("covenants") or []
        what = "; ".join(_covenant_sentence(kind) for kind in kinds) or _covenant_sentence("")
        return _("A covenant of the facility is breached: %(what)s.") % {"what": what}
    if code == Reason.FINANCIAL_UPDATE:
        return _("Your latest financial statements changed the assessment of the loan.")
    if code == Reason.CUSTOMER_REQUEST:
        return _("At your request.")
    if code == Reason.MARKET_RATE:
        return _("Market interest rates changed.")
    return _("The periodic review of the facility.")


def terms_sentence(proposal: AdjustmentProposal, currency: str) -> str:
    parts = []
    if proposal.new_rate != proposal.old_rate:
        parts.append(_("the interest rate changes from %(old)s %% to %(new)s %%") % {
            "old": number_format(proposal.old_rate * 100, 2), "new": number_format(proposal.new_rate * 100, 2)})
    if proposal.new_limit != proposal.old_limit:
        parts.append(_("the limit changes from %(old)s to %(new)s %(currency)s") % {
            "old": number_format(proposal.old_limit, 0, force_grouping=True),
            "new": number_format(proposal.new_limit, 0, force_grouping=True), "currency": currency})
    if proposal.new_tenor_months != proposal.old_tenor_months:
        parts.append(_("the tenor changes from %(old)s to %(new)s months") % {
            "old": proposal.old_tenor_months, "new": proposal.new_tenor_months})
    text = "; ".join(parts)
    return (_("From %(date)s %(changes)s.") % {"date": date_format(proposal.effective_date), "changes": text}
            if text else "")


def borrower_explanation(proposal: AdjustmentProposal, currency: str) -> str:
    """The full plain-words explanation an enterprise sees for a decided change of its terms."""
    parts = [reason_sentence(proposal), terms_sentence(proposal, currency)]
    if proposal.message_to_borrower:
        parts.append(proposal.message_to_borrower)
    return " ".join(part for part in parts if part)
