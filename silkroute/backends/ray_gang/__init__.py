"""The gang driver shipped to a Ray cluster with each job (stdlib + Ray only; see launcher)."""

PLAN_VARIABLE = "SILKROUTE_GANG_PLAN"  # the environment variable holding the gang's plan
TIME_LIMIT_EXIT_CODE = 124  # a gang stopped at its time limit exits so, as coreutils' timeout
# A gang that stopped itself because its agent was gone past the lease (engine-side fencing)
# exits so, having printed a line that starts with FENCED_LINE (a rank's output is relayed
# behind its number, so only the driver can print it): the back end reads both.
FENCED_EXIT_CODE = 75
FENCED_LINE = "silkroute: fenced: "
