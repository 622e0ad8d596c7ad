"""The budget plan: assumptions as a form, the per-year table and chart, XLSX/CSV download."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from dcops.auth.choices import Role
from dcops.capacity import export, planning
from dcops.database import SessionDep
from dcops.exceptions import DcopsError
from dcops.routing import ApiRouter
from dcops.web import fmt, forms, svg
from dcops.web.auth import Page, Viewer
from dcops.web.forms import FormField, FormState
from dcops.web.render import lang_of, render

router = ApiRouter()
PLANNERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.PLANNER, Role.AUDITOR})
FIELDS = ("model", "years", "cluster", "growth_percent", "default_growth_percent", "vcpu_ratio", "ram_ratio",
          "disk_ratio", "ha_reserve_hosts")
LABELS = {"model": "Server model", "years": "Years", "cluster": "Cluster", "growth_percent": "Growth per year (%)",
          "default_growth_percent": "Default growth (%)", "vcpu_ratio": "vCPU ratio", "ram_ratio": "RAM ratio",
          "disk_ratio": "Disk ratio", "ha_reserve_hosts": "HA reserve"}


def _fields(session: Session) -> list[FormField]:
    models = [(slug, f"{name} ({slug})") for slug, name in planning.server_models(session)]
    clusters = [("", "—")] + [(n, n) for n in planning.cluster_names(session)]
    out = []
    for name in FIELDS:
        opts = models if name == "model" else clusters if name == "cluster" else None
        out.append(forms.widget(planning.PlanRequest, name, LABELS[name], opts))
    return out


def _assumptions(request: Request, session: Session) -> tuple[FormState, planning.PlanRequest | None, list[FormField]]:
    fields = _fields(session)
    params = dict(request.query_params)
    if not params.get("model") and fields[0].choices:
        params["model"] = fields[0].choices[0][0]
    raw, data = forms.form_to_data(planning.PlanRequest, fields, params)
    if not raw.get("years"):
        raw["years"] = "3"
    state = FormState(values=raw)
    if not raw.get("default_growth_percent"):
        state.values["default_growth_percent"] = forms.display(planning.DEFAULT_GROWTH_PERCENT)
    body = forms.validate(planning.PlanRequest, data, state)
    return state, body if isinstance(body, planning.PlanRequest) else None, fields


@router.get("/plan")
def plan_page(request: Request, session: SessionDep, viewer: Viewer = Depends(Page(PLANNERS))) -> Response:
    """Forecast per fiscal year from the assumptions in the query string."""
    state, body, fields = _assumptions(request, session)
    plan: Any = None
    chart = ""
    if body is not None:
        try:
            plan = planning.build_plan(session, actor=viewer.actor, request=body)
        except DcopsError as exc:
            forms.domain_error(exc, state)
    if plan is not None:
        lang = lang_of(request)
        costs = {str(y.fiscal_year): y.cost_idr for y in plan.fiscal_years}
        chart = svg.bar_chart([(str(y.fiscal_year), float(y.hosts_total)) for y in plan.fiscal_years],
                              labels={k: f"{fmt.idr(v, lang)}" for k, v in costs.items()},
                              label_value=lambda v: f"{fmt.number(v, lang)} host")
    query = request.url.query
    return render(request, "plan.html", session, active="plan", title="Budget plan", fields=fields, state=state,
                  plan=plan, chart=chart, export_query=query)


@router.get("/plan/export")
def plan_export(request: Request, session: SessionDep, format: str = "xlsx", table: str = "summary",
                viewer: Viewer = Depends(Page(PLANNERS))) -> Response:
    """Download the plan for the same assumptions as XLSX or CSV."""
    state, body, _ = _assumptions(request, session)
    if body is None:
        from dcops.exceptions import ValidationError

        first = next(iter(state.errors.items()), ("", "; ".join(state.general)))
        raise ValidationError(f"{first[0]}: {first[1]}", field=first[0] or None)
    fmt_ = format if format in ("xlsx", "csv") else "xlsx"
    plan = planning.build_plan(session, actor=viewer.actor, request=body)
    content = export.render(plan, fmt_, table if table in ("summary", "agencies") else "summary")
    from dcops.web.headers import relabel_csv, relabel_xlsx
    from dcops.web.i18n import translator
    from dcops.web.render import lang_of

    t = translator(lang_of(request))  # headers in the visitor's language (the API keeps the machine names)
    content = relabel_xlsx(content, t) if fmt_ == "xlsx" else relabel_csv(content, t)
    name = f"budget-plan-{plan.model['slug']}-{date.today():%Y%m%d}.{fmt_}"
    return Response(content, media_type=export.MEDIA_TYPES[fmt_],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
