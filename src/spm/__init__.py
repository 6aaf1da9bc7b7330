"""SPM pipeline: sector sources -> quality gates -> warehouse -> SPM indicators -> reports."""

__version__ = "0.1.0"
