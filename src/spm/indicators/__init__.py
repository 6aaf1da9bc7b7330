"""SPM indicators: the catalog of rules, sasaran factors, and the computation of the marts."""
