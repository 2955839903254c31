"""Strict identity and early warning: second factors, step-up, sessions and devices,
the append-only security log, alert rules and the risk self-check."""
