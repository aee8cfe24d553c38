"""The HTTP face of tongban: the sharing API (FastAPI), the public verify page, CRL and TSA routes."""
