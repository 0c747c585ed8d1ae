"""`leadscore test`: test files beside a ruleset, their cases, results and rule coverage."""
