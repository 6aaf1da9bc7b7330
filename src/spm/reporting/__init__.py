"""Reports: the data-quality pages (and, with their issue, the e-SPM workbook and the quarterly report)."""
