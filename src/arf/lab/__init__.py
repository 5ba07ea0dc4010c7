"""The real lab (`arf lab up|down|inject`): Prometheus, Alertmanager, small real services, a
deploy API, a Git IaC repository and `arf serve`, on loopback."""
