"""Demand forecasting (`ops forecast`) and the predictive-scaling replay (`ops forecast-replay`)."""
