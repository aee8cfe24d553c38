"""Data contracts of tongban (通办): field tables of the case tables, rule ids, pydantic models,
license types and the service item catalog, code validators, the working-day calendar, and the
WSDL / OpenAPI / JSON Schema documents. Pure: no I/O at import, no imports of our other packages.
"""
