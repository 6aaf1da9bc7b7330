"""Write-audit-publish per source: stage a batch, validate it with GX, publish it in one transaction."""
