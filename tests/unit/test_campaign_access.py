"""BI role names of the campaigns sharing a warehouse (pipeline/campaign_access.py), no database."""

from __future__ import annotations

import pytest

from pipeline.campaign_access import (
    OWNER_POLICY,
    CampaignAccessError,
    check_role_name,
    default_role_name,
)


def test_default_role_name_is_a_plain_identifier_per_campaign() -> None:
    assert default_role_name("demo_29_2027") == "scrutin_bi_demo_29_2027"
    # campaign ids may hold '-', role names here may not
    assert default_role_name("legi-2027-29-02") == "scrutin_bi_legi_2027_29_02"
    assert check_role_name(default_role_name("x" * 63)) == "scrutin_bi_" + "x" * 52


@pytest.mark.parametrize(
    "role", ["Scrutin_BI", "bi-a", "1role", "", "a" * 64, "bi; drop table x", OWNER_POLICY]
)
def test_role_names_that_are_refused(role: str) -> None:
    with pytest.raises(CampaignAccessError, match="BI role name"):
        check_role_name(role)
