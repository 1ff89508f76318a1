"""The gang driver shipped to a Ray cluster with each job (stdlib + Ray only; see launcher)."""

PLAN_VARIABLE = "SILKROUTE_GANG_PLAN"  # the environment variable holding the gang's plan
TIME_LIMIT_EXIT_CODE = 124  # a gang stopped at its time limit exits so, as coreutils' timeout
