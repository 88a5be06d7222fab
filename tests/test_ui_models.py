"""The Models tab asks the access policy whether models may be changed here: on a Space they are the owner's."""

from __future__ import annotations

from chatchat.policy import SpacePolicy
from chatchat.ui import build_ui


def _actions_row_visible(services) -> bool:
    blocks = build_ui(services)
    [load] = [block for block in blocks.blocks.values() if getattr(block, "elem_id", None) == "models-load"]
    return load.parent.visible


def test_the_model_actions_show_where_the_policy_lets_models_be_managed(services):
    assert services.policy.may_manage_models() and _actions_row_visible(services)
    services.policy = SpacePolicy()
    assert not services.policy.may_manage_models() and not _actions_row_visible(services)
