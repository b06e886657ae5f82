// secrets.mjs - the passwords and keys tests give tenantql that it must never print: every
// test that hands the server or the CLI a secret takes it from here, and secret_sweep,
// the last test of a run, looks for each in everything the run's servers and commands
// printed (TQ_E2E_OUTPUT_DIR, filled by the harness). Distinctive strings, so that a hit
// is never a coincidence.
export const TEST_SECRETS = {
  adminTenantPassword: 'tq-admin-e2e-password-5b1f',
  // secrets.test.mjs's passwords all start with this (sealed, referenced, moved, changed)
  secretsTestPasswords: 'TqSecretPw-',
};
