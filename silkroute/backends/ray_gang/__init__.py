"""The gang driver shipped to a Ray cluster with each job (stdlib + Ray only; see launcher)."""

PLAN_VARIABLE = "SILKROUTE_GANG_PLAN"  # the environment variable holding the gang's plan
