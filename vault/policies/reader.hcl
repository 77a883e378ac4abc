# Infralogs reader: the dashboard (MySQL replica, SELECT only).
# A template: the bootstrap replaces {{db_mount}} and {{reader_role}} (defaults: database,
# infralogs-reader) and writes the result as policy "infralogs-reader".

path "{{db_mount}}/creds/{{reader_role}}" {
  capabilities = ["read"]
}

path "sys/leases/renew/{{db_mount}}/creds/{{reader_role}}/*" {
  capabilities = ["update"]
}
path "sys/leases/revoke/{{db_mount}}/creds/{{reader_role}}/*" {
  capabilities = ["update"]
}
