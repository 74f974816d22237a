"""City operations cases (数字城管 / 网格化治理 案件): report, register, dispatch, handle,
check, close.

Entry points: :mod:`yitu.cases.services` (``submit_report``, ``transition``, ``get_case``,
``case_events``, ``list_categories``); the state machine is :mod:`yitu.cases.workflow`.
"""
