"""Quality gates: Great Expectations suites run on every batch before it is published."""
