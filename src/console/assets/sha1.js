// HMAC-SHA1 fallback for insecure contexts (filled in by the console work)
