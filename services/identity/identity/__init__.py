"""Identity: staff accounts, sign-in and the signing keys (JWKS) every service trusts."""
