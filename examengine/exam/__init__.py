"""Pure exam domain: pool, blueprint, CAT state machine, forms, scoring."""
