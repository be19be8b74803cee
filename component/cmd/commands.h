/* The shipped ad-hoc commands, registered in the order disco lists them. Each cmd_*.c file
 * registers its group of nodes (COMMANDS.md) with the shared context, which it borrows. */
#ifndef IMD_COMMANDS_H
#define IMD_COMMANDS_H

#include "component/app.h"

/* Registers every command; returns 0, or -1 when a node could not be registered (a bug). */
int commands_register(struct app *app);

int cmd_domains_register(struct app *app);  /* domains/list, add, update, delete */
int cmd_default_register(struct app *app);  /* default-domain, jobs/status */
int cmd_settings_register(struct app *app); /* settings, audit-log */
int cmd_sync_register(struct app *app);     /* sync/audit */
int cmd_users_register(struct app *app);    /* users/import, users/list */
int cmd_users_export_register(struct app *app); /* users/export */
int cmd_certs_register(struct app *app);    /* certs/show, regenerate, csr, import */
int cmd_federation_register(struct app *app); /* federation/check */
int cmd_topology_register(struct app *app); /* topology, topology/edit */
int cmd_ha_register(struct app *app);       /* ha/disable, ha/enable */
int cmd_services_register(struct app *app); /* services */
int cmd_sessions_register(struct app *app); /* sessions, XEP-0133 get-online-users-num */
int cmd_procedure_register(struct app *app); /* procedure/domain-change */
int cmd_peers_register(struct app *app);     /* peers (and the peer protocol's server side) */
int cmd_status_register(struct app *app);    /* status */
int cmd_directory_register(struct app *app); /* directory/test, directory/sync */

#endif
