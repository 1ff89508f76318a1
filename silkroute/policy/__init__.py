"""Cross-border data rules: jurisdiction rule files, one evaluation function, operator policies.

`vocabulary` (data classes, mechanisms), `rules` (the rule-file schema), `loader` (reads
`rules/*.yaml`), `engine` (the pure decision), `catalog` (datasets and tenants' mechanisms),
`operator` (Cedar restrictions), `governance` (law + operator for one job at one site).
"""
