"""Staff accounts: who may sign in and how (passwords, two-factor codes, server-side sessions),
what admins manage on the web and operators from the command line."""
