"""The e-license (电子证照) domain: PKI and timestamp authority, GB/T 36904 identifiers, rendering,
PAdES signing, the registry and its status lifecycle, verification and annotated copies (加注件).
"""
