# Infralogs migrator: schema migrations, partition maintenance and retention (a Job or an
# operator, never a function). Its role may CREATE, ALTER, DROP and DELETE in the Infralogs
# database, which the writer may not. Placeholders: {{db_mount}}, {{migrator_role}}.

path "{{db_mount}}/creds/{{migrator_role}}" {
  capabilities = ["read"]
}

path "sys/leases/renew/{{db_mount}}/creds/{{migrator_role}}/*" {
  capabilities = ["update"]
}
path "sys/leases/revoke/{{db_mount}}/creds/{{migrator_role}}/*" {
  capabilities = ["update"]
}
