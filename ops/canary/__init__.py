"""The statistical canary judge: the canary's samples against the baseline's, from
Prometheus, with rank and proportion tests (`ops canary judge`, and `ops canary serve`
as Argo Rollouts' web metric provider)."""
